package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/pgtest"
)

// tasker template push registers the templates in the database; then
// handlers and task create, in other invocations without --templates, see
// them, and task create --wait runs one. Pushing again changes nothing;
// other content under the same version is refused naming both files, and
// replaced with --replace.
func TestTemplatePush(t *testing.T) {
	t.Parallel()
	for name, db := range map[string]func() string{
		"sqlite":   func() string { return tempDB(t) },
		"postgres": func() string { return postgresURL(t, pgtest.URL(t)) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := db()
			examples := examplesDir(t)
			out := mustRun(t, "--database", db, "--log-level", "error", "template", "push", examples)
			require.Regexp(t, `(?m)^created +default\.diamond_workflow@1\.0\.0 `+filepath.Join(examples, "diamond_workflow.yaml")+`$`, out)
			require.Regexp(t, `(?m)^created +ecommerce\.process_order@1\.0\.0 `, out)
			out = mustRun(t, "--database", db, "--log-level", "error", "template", "push", examples)
			require.Regexp(t, `(?m)^unchanged +default\.diamond_workflow@1\.0\.0 `, out)
			require.NotContains(t, out, "created")

			// Another invocation, without --templates.
			out = mustRun(t, "--database", db, "handlers")
			require.Regexp(t, `(?m)^default +5$`, out)
			require.Regexp(t, `(?m)^ecommerce +1$`, out)
			out = mustRun(t, "--database", db, "handlers", "default")
			require.Regexp(t, `(?m)^diamond_workflow +1\.0\.0 +1\.0\.0$`, out)
			out = mustRun(t, "--database", db, "--log-level", "error", "task", "create", "diamond_workflow", "--context", `{"even_number": 4}`, "--wait")
			require.Contains(t, out, "task 1 default.diamond_workflow@1.0.0: complete")
			_, _, err := run(t, "--database", db, "task", "create", "diamond_workflow", "--context", `{"even_number": 3}`)
			require.ErrorContains(t, err, "multiple", "validated against the registered schema")

			// Other content under the same version.
			dir := t.TempDir()
			src, err := os.ReadFile(filepath.Join(examples, "diamond_workflow.yaml"))
			require.NoError(t, err)
			changed := filepath.Join(dir, "diamond_workflow.yaml")
			require.NoError(t, os.WriteFile(changed, []byte(strings.Replace(string(src), "maximum: 100", "maximum: 50", 1)), 0o600))
			_, _, err = run(t, "--database", db, "--log-level", "error", "template", "push", changed)
			require.Error(t, err)
			require.Equal(t, 2, exitCode(err))
			for _, want := range []string{"default.diamond_workflow@1.0.0 is already registered with other content",
				filepath.Join(examples, "diamond_workflow.yaml") + " registered by tasker template push on ",
				"refused: " + changed, "bump the version in " + changed, "--replace"} {
				require.ErrorContains(t, err, want)
			}
			out = mustRun(t, "--database", db, "--log-level", "error", "template", "push", changed, "--replace")
			require.Regexp(t, `(?m)^replaced +default\.diamond_workflow@1\.0\.0 `+changed+`$`, out)
			_, _, err = run(t, "--database", db, "task", "create", "diamond_workflow", "--context", `{"even_number": 60}`)
			require.ErrorContains(t, err, "50", "the replaced schema applies")

			// A file that does not load registers nothing.
			bad := filepath.Join(dir, "bad.yaml")
			require.NoError(t, os.WriteFile(bad, []byte("name: bad\nstep_templates: []\nbogus: 1\n"), 0o600))
			_, _, err = run(t, "--database", db, "template", "push", bad)
			require.ErrorContains(t, err, "nothing registered")
			require.Equal(t, 2, exitCode(err))
		})
	}
}
