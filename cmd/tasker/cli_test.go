package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// A mistyped subcommand is an error (exit status 2) naming the nearest
// commands, at the root and under a group; a group without arguments still
// prints its help.
func TestUnknownSubcommand(t *testing.T) {
	t.Parallel()
	_, _, err := run(t, "task", "lst")
	require.EqualError(t, err, "unknown command \"lst\" for \"tasker task\"; did you mean get or list?\n"+
		"  its commands: cancel, create, get, list, retry (run 'tasker task --help')")
	require.Equal(t, 2, exitCode(err))
	_, _, err = run(t, "events", "replays")
	require.ErrorContains(t, err, `unknown command "replays" for "tasker events"; did you mean replay?`)
	_, _, err = run(t, "evnts")
	require.ErrorContains(t, err, `unknown command "evnts" for "tasker"`)
	require.ErrorContains(t, err, "events")

	out := mustRun(t, "task")
	require.Contains(t, out, "Available Commands:")
}

// --version prints the build's version.
func TestVersionFlag(t *testing.T) {
	t.Parallel()
	out := mustRun(t, "--version")
	require.Regexp(t, `^tasker \S+.* \(go1\.[0-9]+`, out)
}

// The flags' help reads well: --server shows a URL placeholder (a
// backquoted word in a usage is pflag's value name), --subscriptions names
// every type.
func TestFlagHelp(t *testing.T) {
	t.Parallel()
	for _, cmd := range [][]string{{"serve"}, {"task", "list"}, {"handlers"}, {"workers"}, {"token", "list"}, {"analytics", "performance"}, {"events", "replay"}} {
		out := mustRun(t, append(cmd, "--help")...)
		if regexp.MustCompile(`(?m)^ +--server `).MatchString(out) {
			require.Regexp(t, `--server URL +URL of a running tasker serve`, out, cmd)
			require.NotContains(t, out, "--server tasker serve", cmd)
		}
		require.Contains(t, out, "--subscriptions string     YAML file of event subscriptions (log, webhook, nats;", cmd)
	}
}

// Every command with an output format takes -o/--output text|json; the
// older --json still works (hidden from the help).
func TestOutputFlagsAgree(t *testing.T) {
	t.Parallel()
	db := tempDB(t)
	mustRun(t, "--database", db, "migrate")
	for _, cmd := range [][]string{{"events", "catalog"}, {"events", "dead-letters"}, {"task", "list"}, {"handlers"}, {"workers"}, {"analytics", "performance"}} {
		for _, flag := range [][]string{{"-o", "json"}, {"--output", "json"}, {"--json"}} {
			out := mustRun(t, append(append([]string{"--database", db}, cmd...), flag...)...)
			require.True(t, json.Valid([]byte(out)), "%v %v: %s", cmd, flag, out)
		}
		_, _, err := run(t, append(append([]string{"--database", db}, cmd...), "-o", "yaml")...)
		require.ErrorContains(t, err, `--output "yaml" is unknown: use text or json`, cmd)
		require.NotContains(t, mustRun(t, append(cmd, "--help")...), "--json", cmd)
	}
}

// The commands that read a database refuse one that does not exist, and
// say how to make it, instead of creating (and migrating) the file; handlers
// lists the templates without creating it either.
func TestReadCommandsDoNotCreateTheDatabase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	typo := filepath.Join(dir, "typo.db")
	for _, cmd := range [][]string{{"task", "list"}, {"task", "get", "1"}, {"workers"}, {"events", "dead-letters"}, {"events", "replay"}, {"analytics", "performance"}, {"token", "list"}} {
		_, _, err := run(t, append([]string{"--database", "sqlite://" + typo}, cmd...)...)
		require.EqualError(t, err, "the database sqlite://"+typo+" does not exist (no file "+typo+"): create it with `tasker migrate` "+
			"(or start `tasker worker` or `tasker serve` on it), or check --database [$TASKER_DATABASE_URL, config database]", cmd)
		require.NoFileExists(t, typo, cmd)
	}
	out := mustRun(t, "--database", "sqlite://"+typo, "handlers", "--templates", examplesDir(t))
	require.Contains(t, out, "default")
	require.NoFileExists(t, typo)

	// An empty file is not a Tasker database either.
	require.NoError(t, os.WriteFile(typo, nil, 0o600))
	_, _, err := run(t, "--database", "sqlite://"+typo, "task", "list")
	require.ErrorContains(t, err, "has no Tasker tables: create it with `tasker migrate`")

	// Once made, the same commands work.
	mustRun(t, "--database", "sqlite://"+typo, "migrate")
	require.Contains(t, mustRun(t, "--database", "sqlite://"+typo, "task", "list"), "0 tasks")
}
