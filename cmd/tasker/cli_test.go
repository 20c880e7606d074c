package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
)

// A mistyped subcommand is an error (exit status 2) naming the nearest
// commands, at the root and under a group; a group without arguments still
// prints its help.
func TestUnknownSubcommand(t *testing.T) {
	t.Parallel()
	_, _, err := run(t, "task", "lst")
	require.EqualError(t, err, "unknown command \"lst\" for \"tasker task\"; did you mean get or list?\n"+
		"  its commands: cancel, create, get, list, retry, transitions (run 'tasker task --help')")
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

// Every key of the config file sets a flag some command has, and the
// README's config file section names every key (and loads).
func TestConfigKeysDocumented(t *testing.T) {
	t.Parallel()
	flags := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) { flags[f.Name] = true })
		c.PersistentFlags().VisitAll(func(f *pflag.Flag) { flags[f.Name] = true })
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRoot(io.Discard, io.Discard))
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	_, block, ok := strings.Cut(string(readme), "<!-- config-keys:")
	require.True(t, ok)
	_, block, _ = strings.Cut(block, "```yaml\n")
	block, _, _ = strings.Cut(block, "```")
	file := filepath.Join(t.TempDir(), "tasker.yaml")
	require.NoError(t, os.WriteFile(file, []byte(block), 0o600))
	values, err := readConfigFile(file)
	require.NoError(t, err)
	documented := map[string]bool{}
	for _, v := range values {
		documented[v.key.key] = true
	}
	for _, k := range configKeys {
		require.True(t, flags[k.flag], "config key %s sets --%s, which no command has", k.key, k.flag)
		require.True(t, documented[k.key], "README's config file section lacks %s", k.key)
	}
}

// The config file: an unknown key (nested too) is named with its line and
// the valid keys; the keys beyond the first ones (subscriptions, worker.*,
// templates as a list) set their flags; flag > environment > file.
func TestConfigFileKeys(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tasker.yaml")
	write := func(body string) {
		require.NoError(t, os.WriteFile(cfg, []byte(body), 0o600))
	}
	write("database: x.db\nbogus: 1\n")
	_, _, err := run(t, "--config", cfg, "migrate")
	require.ErrorContains(t, err, "config file "+cfg+": line 2: unknown key \"bogus\" (valid keys: database, templates, env, log_level, log_format, subscriptions, server, token, addr, worker.concurrency,")
	require.NotContains(t, err.Error(), "main.fileConfig")
	write("worker:\n  concurency: 2\n")
	_, _, err = run(t, "--config", cfg, "migrate")
	require.ErrorContains(t, err, `line 2: unknown key "worker.concurency"`)
	write("worker: 3\n")
	_, _, err = run(t, "--config", cfg, "migrate")
	require.ErrorContains(t, err, "line 1: worker must be a map of keys")

	// subscriptions: a file with an unknown type fails the commands that
	// open a client, which shows the key was applied.
	db := tempDB(t)
	mustRun(t, "--database", db, "migrate")
	subs := filepath.Join(dir, "subs.yaml")
	require.NoError(t, os.WriteFile(subs, []byte("subscriptions:\n  bad: {type: smtp}\n"), 0o600))
	write("database: " + db + "\nsubscriptions: " + subs + "\n")
	_, _, err = run(t, "--config", cfg, "task", "list")
	require.ErrorContains(t, err, `type "smtp" is unknown`)

	// templates as a list of files; the flag wins over the file.
	ex := examplesDir(t)
	write("database: " + db + "\ntemplates: [" + filepath.Join(ex, "order_processing.yaml") + ", " + filepath.Join(ex, "linear_workflow.yaml") + "]\n")
	out := mustRun(t, "--config", cfg, "handlers")
	require.Contains(t, out, "ecommerce")
	require.Contains(t, out, "default")
	out = mustRun(t, "--config", cfg, "--templates", filepath.Join(ex, "linear_workflow.yaml"), "handlers")
	require.NotContains(t, out, "ecommerce")
}

// --templates takes several directories or files, comma-separated or
// repeated; a missing one is named once.
func TestTemplatesList(t *testing.T) {
	t.Parallel()
	ex := examplesDir(t)
	order, linear := filepath.Join(ex, "order_processing.yaml"), filepath.Join(ex, "linear_workflow.yaml")
	for _, args := range [][]string{{"--templates", order + "," + linear}, {"--templates", order, "--templates", linear}} {
		out := mustRun(t, append(args, "handlers")...)
		require.Contains(t, out, "2 namespaces", args)
	}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "x.yaml"), []byte("name: x\nstep_templates:\n  - name: a\n    handler: exec\n    handler_config: {command: [\"true\"]}\n"), 0o600))
	out := mustRun(t, "--templates", ex+","+dir, "handlers", "default")
	require.Contains(t, out, "x ")
	require.Contains(t, out, "linear_workflow")

	missing := filepath.Join(dir, "nowhere")
	_, _, err := run(t, "--templates", missing+","+ex, "handlers")
	require.EqualError(t, err, "--templates "+missing+": no such directory or file [$TASKER_TEMPLATES, config templates]")
}

// A step's policy in -o json has its durations in milliseconds (the _ms
// fields, as the REST API), beside the stored nanoseconds.
func TestStepPolicyJSONMilliseconds(t *testing.T) {
	t.Parallel()
	db := tempDB(t)
	order := `{"customer_email": "ada@example.com", "cart_items": [{"sku": "A1", "quantity": 2, "price": 12.5}]}`
	mustRun(t, withDB(t, db, "task", "create", "process_order", "--namespace", "ecommerce", "--context", order)...)
	var got struct {
		Steps []struct {
			Name   string         `json:"name"`
			Policy map[string]any `json:"policy"`
		} `json:"steps"`
	}
	require.NoError(t, json.Unmarshal([]byte(mustRun(t, withDB(t, db, "task", "get", "1", "-o", "json")...)), &got))
	var seen bool
	for _, s := range got.Steps {
		if s.Name == "process_payment" {
			require.Equal(t, 500.0, s.Policy["backoff_base_ms"], s.Policy)
			require.Equal(t, 5e8, s.Policy["backoff_base"], "the older nanosecond field is kept")
			seen = true
		}
	}
	require.True(t, seen)
}
