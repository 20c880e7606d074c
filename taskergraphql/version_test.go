package taskergraphql_test

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGeneratorMatchesRuntime: the gqlgen that generates the executor
// (tools/gqlgen/go.mod) is the version of the runtime the module links
// (go.mod): generated code and runtime must agree.
func TestGeneratorMatchesRuntime(t *testing.T) {
	version := regexp.MustCompile(`(?m)^\s*github\.com/99designs/gqlgen (v\S+)`)
	read := func(path string) string {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		m := version.FindSubmatch(b)
		require.NotNil(t, m, "no gqlgen in %s", path)
		return string(m[1])
	}
	require.Equal(t, read("../go.mod"), read("../tools/gqlgen/go.mod"),
		"update both: go get github.com/99designs/gqlgen@V in the root and in tools/gqlgen, then go generate ./taskergraphql")
}
