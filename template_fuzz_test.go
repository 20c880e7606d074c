package tasker_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
)

// FuzzParseTemplate checks that ParseTemplate never panics and that every
// template it accepts is a DAG whose analysis orders each step exactly once,
// after all of its dependencies.
func FuzzParseTemplate(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("examples", "*.yaml"))
	require.NoError(f, err)
	require.NotEmpty(f, files)
	for _, file := range files {
		data, err := os.ReadFile(file)
		require.NoError(f, err)
		f.Add(data, "")
		f.Add(data, "production")
		// Broken variants of each example.
		s := string(data)
		f.Add([]byte(strings.Replace(s, "depends_on_step:", "depends_on:", 1)), "")
		f.Add([]byte(strings.Replace(s, "version: 1.0.0", "version: v1", 1)), "")
		f.Add([]byte(strings.Replace(s, "handler: exec", "handler_class: exec\n    handler: other", 1)), "")
		f.Add([]byte(s[:len(s)/2]), "")
	}
	for _, seed := range []string{
		"",
		"name: t\n",
		"- a\n",
		"name: t\nstep_templates:\n  - name: a\n    handler: exec\n    depends_on_step: a\n",
		"name: t\nstep_templates:\n  - {name: a, handler: h, depends_on_step: c}\n  - {name: b, handler: h, depends_on_step: a}\n  - {name: c, handler: h, depends_on_step: b}\n",
		"name: t\nstep_templates:\n  - {name: a, handler: h}\n  - {name: a, handler: h}\n",
		"name: t\nstep_templates:\n  - {name: a, handler: h}\n  - {name: b, handler: h, depends_on_steps: [a, a, c]}\n",
		"name: t\nstep_templates:\n  - &s {name: a, handler: h}\n  - <<: *s\n    name: b\n    depends_on_step: a\n",
		"name: ${NAME:-t}\ndescription: $${x} ${UNSET}\nstep_templates: [{name: a, handler: h}]\n",
		"name: t\nschema: {type: object, properties: {n: {type: integer, default: 1}}}\nstep_templates: [{name: a, handler: h, timeout: 5, backoff: {base: 1s, max: 2s, jitter: 0.5}}]\n",
		"name: t\nstep_templates: [{name: a, handler: h}, {name: b, handler: h}]\n" +
			"environments: {production: {step_templates: [{name: b, depends_on_step: a}]}}\n",
		"name: t\nstep_templates: [{name: a, handler: h}]\nenvironments: {production: {step_templates: [{name: a, depends_on_step: a}]}}\n",
	} {
		f.Add([]byte(seed), "production")
	}
	lookup := func(k string) (string, bool) {
		if strings.HasPrefix(k, "SET") {
			return "value", true
		}
		return "", false
	}
	f.Fuzz(func(t *testing.T, data []byte, env string) {
		tmpl, err := tasker.ParseTemplate("fuzz.yaml", data, tasker.LoadOptions{Env: env, LookupEnv: lookup})
		if err != nil {
			require.Nil(t, tmpl)
			require.NotEmpty(t, err.Error())
			return
		}
		require.NotNil(t, tmpl)
		require.NotEmpty(t, tmpl.Steps)
		an := tmpl.Analyze()
		require.Empty(t, an.Cycles)
		require.Len(t, an.Topology, len(tmpl.Steps), "topology %v of steps %v", an.Topology, stepNames(tmpl))
		pos := make(map[string]int, len(an.Topology))
		for i, name := range an.Topology {
			_, dup := pos[name]
			require.False(t, dup, "step %q appears twice in topology %v", name, an.Topology)
			pos[name] = i
		}
		for _, s := range tmpl.Steps {
			i, ok := pos[s.Name]
			require.True(t, ok, "step %q missing from topology %v", s.Name, an.Topology)
			for _, d := range s.DependsOn {
				j, ok := pos[d]
				require.True(t, ok, "dependency %q of %q missing from topology %v", d, s.Name, an.Topology)
				require.Less(t, j, i, "dependency %q comes after %q in topology %v", d, s.Name, an.Topology)
			}
		}
		// The Mermaid text draws every step.
		require.True(t, strings.HasPrefix(tmpl.Mermaid(), "graph TD\n"))
	})
}

func stepNames(t *tasker.TaskTemplate) []string {
	out := make([]string, len(t.Steps))
	for i, s := range t.Steps {
		out[i] = s.Name
	}
	return out
}
