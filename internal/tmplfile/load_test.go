package tmplfile_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/tmplfile"
)

// loadDir writes files (slash-separated paths relative to a fresh
// directory → contents) and loads the directory with opts; it returns the
// directory too.
func loadDir(t *testing.T, files map[string]string, opts tmplfile.Options) (string, []*tmplfile.Template, error) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	}
	templates, err := tmplfile.LoadDir(dir, opts)
	return dir, templates, err
}

func TestLoadDir(t *testing.T) {
	t.Parallel()
	dir, templates, err := loadDir(t, map[string]string{
		"good.yaml":                  "name: good\nstep_templates:\n  - name: a\n    handler: h\n",
		"nested/also_good.yml":       "name: also_good\nversion: 2.0.0\n",
		"bad_version.yaml":           "name: bad\nversion: \"1.0\"\n",
		"nested/deeper/bad_step.yml": "name: bad_step\nstep_templates:\n  - name: a\n    handler: h\n    depends_on: b\n",
		// Hidden directories and files, and other extensions, are skipped.
		".git/broken.yaml": "{{{",
		".hidden.yaml":     "{{{",
		"README.md":        "# not a template",
	}, tmplfile.Options{LookupEnv: noEnv})
	require.EqualError(t, err,
		filepath.Join(dir, "bad_version.yaml")+`:2: version "1.0" is not semantic versioning; use MAJOR.MINOR.PATCH such as "1.0.0"`+"\n"+
			filepath.Join(dir, "nested", "deeper", "bad_step.yml")+`:5: step "a": unknown key "depends_on"; did you mean "depends_on_step"?`)
	errs := tmplfile.Errors(err)
	require.Len(t, errs, 2)
	require.Equal(t, filepath.Join(dir, "bad_version.yaml"), errs[0].File)
	require.Equal(t, filepath.Join(dir, "nested", "deeper", "bad_step.yml"), errs[1].File)

	// The templates that parsed are returned, sorted by path.
	require.Len(t, templates, 2)
	require.Equal(t, filepath.Join(dir, "good.yaml"), templates[0].File)
	require.Equal(t, "good", templates[0].Name)
	require.Equal(t, filepath.Join(dir, "nested", "also_good.yml"), templates[1].File)
	require.Equal(t, "2.0.0", templates[1].Version)
}

func TestLoadDirAllGood(t *testing.T) {
	t.Parallel()
	_, templates, err := loadDir(t, map[string]string{
		"b.yaml": "name: b\n",
		"a.yml":  "name: a\nenvironments:\n  test:\n    step_templates: []\n",
	}, tmplfile.Options{Env: "test"})
	require.NoError(t, err)
	require.Len(t, templates, 2)
	require.Equal(t, "a", templates[0].Name)
	require.Equal(t, "b", templates[1].Name)
}

// Other YAML kept next to the templates (Prometheus rules, a collector's
// configuration) is skipped: a mapping with no template key at its top
// level. A template with a wrong key among right ones is still an error.
func TestLoadDirSkipsOtherYAML(t *testing.T) {
	t.Parallel()
	dir, templates, err := loadDir(t, map[string]string{
		"a.yaml":                     "name: a\n",
		"prometheus/alerts.yml":      "groups:\n  - name: tasker\n    rules: []\n",
		"otel/collector.yaml":        "receivers:\n  otlp: {}\nservice: {}\n",
		"typo.yaml":                  "name: typo\nstep_templatez: []\n",
		"not-a-mapping/list.yaml":    "- name: x\n",
		"empty-mapping/nothing.yaml": "{}\n",
	}, tmplfile.Options{})
	require.Len(t, templates, 1)
	require.Equal(t, "a", templates[0].Name)
	errs := tmplfile.Errors(err)
	files := make([]string, len(errs))
	for i, e := range errs {
		files[i] = e.File
	}
	require.ElementsMatch(t, []string{filepath.Join(dir, "typo.yaml"), filepath.Join(dir, "not-a-mapping", "list.yaml"),
		filepath.Join(dir, "empty-mapping", "nothing.yaml")}, files, "%v", err)
}

func TestLoadDirRejectsDuplicateTemplates(t *testing.T) {
	t.Parallel()
	dir, templates, err := loadDir(t, map[string]string{
		"a.yaml": "name: same\nnamespace_name: shop\n",
		"b.yaml": "name: same\nnamespace_name: shop\n",
		"c.yaml": "name: same\nnamespace_name: shop\nversion: 1.0.0\n",
	}, tmplfile.Options{})
	require.EqualError(t, err, filepath.Join(dir, "b.yaml")+`: template "same" (namespace "shop", version 0.1.0) is also defined in `+
		filepath.Join(dir, "a.yaml")+"; change the name, namespace_name or version of one of them")
	require.Len(t, templates, 2)
}

func TestLoadDirMissingDirectory(t *testing.T) {
	t.Parallel()
	_, err := tmplfile.LoadDir(filepath.Join(t.TempDir(), "absent"), tmplfile.Options{})
	require.ErrorIs(t, err, os.ErrNotExist)
}

// TestLoadDirRefusesHugeFile: a file over MaxFileBytes is refused, naming
// the file and the limit, beside the templates that load.
func TestLoadDirRefusesHugeFile(t *testing.T) {
	t.Parallel()
	huge := "name: huge\ndescription: \"" + strings.Repeat("x", tmplfile.MaxFileBytes) + "\"\n"
	dir, templates, err := loadDir(t, map[string]string{"good.yaml": "name: good\n", "huge.yaml": huge}, tmplfile.Options{LookupEnv: noEnv})
	require.Error(t, err)
	require.Contains(t, err.Error(), filepath.Join(dir, "huge.yaml")+": is 4194331 bytes, over the limit of 4194304 bytes (4 MiB) for a template file")
	require.Len(t, templates, 1)

	_, err = tmplfile.Parse("mem.yaml", []byte(huge), tmplfile.Options{LookupEnv: noEnv})
	require.ErrorContains(t, err, "mem.yaml: is 4194331 bytes, over the limit of 4194304 bytes")
}
