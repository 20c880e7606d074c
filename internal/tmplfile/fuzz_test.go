package tmplfile_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/tmplfile"
)

func FuzzParse(f *testing.F) {
	complete, err := os.ReadFile("testdata/complete.yaml")
	require.NoError(f, err)
	f.Add(complete, "")
	f.Add(complete, "development")
	for _, seed := range []string{
		"",
		"name: t\n",
		"name: t\nversion: 1.0\n",
		"name: t\nstep_templates:\n  - name: a\n    handler: h\n    depends_on: b\n",
		"name: t\nstep_templates:\n  - name: a\n  - name: a\n    handler_class: x\n",
		"name: t\nstep_templates: [{name: a, handler: h, backoff: {jitter: 2}, timeout: -1}]\n",
		"name: ${NAME:-t}\ndescription: $${x} ${UNSET}\n",
		"name: t\nschema: {type: 5}\n",
		"name: t\nstep_templates:\n  - &a {name: a, handler: h}\n  - <<: *a\n    name: b\n",
		"name: t\nstep_templates: [{name: a, handler: h}]\nenvironments: {development: {step_templates: [{name: a, handler_config: {x: 1}}, {name: z}]}}\n",
		"- a\n- b\n",
		"name: [\n",
		"name: t\n---\nname: u\n",
		"name: t\nstep_templates: [{name: a, handler: h}]\nschedules: [{name: s, cron: '0 9 * * MON-FRI', time_zone: Europe/Paris, context: {a: 1}, overlap: skip, catch_up: all, catch_up_limit: 5}, {name: s, cron: '@every 1s'}]\n",
	} {
		f.Add([]byte(seed), "development")
	}
	lookup := func(k string) (string, bool) {
		if strings.HasPrefix(k, "SET") {
			return "value", true
		}
		return "", false
	}
	f.Fuzz(func(t *testing.T, data []byte, env string) {
		got, err := tmplfile.Parse("fuzz.yaml", data, tmplfile.Options{Env: env, LookupEnv: lookup})
		if err != nil {
			require.Nil(t, got)
			for _, e := range tmplfile.Errors(err) {
				require.Equal(t, "fuzz.yaml", e.File)
				require.NotEmpty(t, e.Problem)
			}
			require.NotEmpty(t, tmplfile.Errors(err))
			return
		}
		require.NotEmpty(t, got.Name)
		for _, s := range got.Steps {
			require.NotEmpty(t, s.Name)
			require.NotEmpty(t, s.Handler)
		}
	})
}
