package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// nodeChecks is the Node project of TestGraphQLWithNodeClients.
var nodeChecks = filepath.Join("..", "..", "taskergraphql", "testdata", "node")

// node returns the node binary, with the check's packages installed
// (.ci/run runs npm ci; a developer's first run does it here). Without
// node the test skips, or fails with TASKER_TEST_REQUIRE_NODE=1.
func node(t *testing.T) string {
	t.Helper()
	n := lookTool(t, "node", "TASKER_TEST_REQUIRE_NODE")
	npmCI(t, nodeChecks, "graphql-ws")
	return n
}

// npmCI installs the packages of the Node project in dir (npm ci) unless
// its node_modules already holds pkg.
func npmCI(t *testing.T, dir, pkg string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg)); err == nil {
		return
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	install := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	install.Dir = dir
	out, err := install.CombinedOutput()
	require.NoError(t, err, "npm ci in %s:\n%s", dir, out)
}

// TestGraphQLWithNodeClients checks the GraphQL API of `tasker serve` with
// the reference implementation and a real subscription client, neither
// written here: graphql-js builds the schema from introspection and
// validates every operation in docs/graphql.md against it (so the docs
// cannot drift from the schema), and graphql-ws subscribes to a task
// created by createTask until it completes, authenticating with
// connection_init's payload; a bad credential is refused with 4403.
func TestGraphQLWithNodeClients(t *testing.T) {
	bin := e2eBinary(t)
	nodeBin := node(t)
	db := "sqlite://" + filepath.Join(t.TempDir(), "gql.db")
	token := strings.TrimSpace(mustRun(t, "--database", db, "token", "create", "gql-check", "--permission", "*"))
	srv := startServe(t, bin, "--database", db, "--templates", filepath.Join("..", "..", "examples"))

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	docs, err := filepath.Abs(filepath.Join("..", "..", "docs", "graphql.md"))
	require.NoError(t, err)
	check := exec.CommandContext(ctx, nodeBin, "check.mjs")
	check.Dir = nodeChecks
	check.Env = append(os.Environ(), "TASKER_URL="+srv.base, "TASKER_TOKEN="+token, "DOCS="+docs)
	out, err := check.CombinedOutput()
	require.NoError(t, err, "node check.mjs:\n%s", out)
	require.Contains(t, string(out), `"badCredentialClose":4403`)
	require.Contains(t, string(out), `"complete"`)
	t.Logf("node check: %s", out)
}
