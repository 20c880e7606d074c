package tasker_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
)

// loadBad loads data as "bad.yaml" into a fresh registry and returns the
// error, which the caller expects.
func loadBad(t *testing.T, data string) error {
	t.Helper()
	tmpl, err := tasker.NewRegistry().LoadYAML("bad.yaml", []byte(data), tasker.LoadOptions{})
	require.Error(t, err)
	require.Nil(t, tmpl)
	return err
}

// Every rejection rule of the YAML loading path, with the exact message a
// user sees: the file (and line when the parser knows it), the step where
// relevant, what is wrong and how to fix it.
func TestTemplateErrorMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{
			name: "unknown top-level key",
			yaml: "name: t\nstep_template:\n  - name: a\n    handler: exec\n",
			want: `bad.yaml:2: unknown key "step_template"; did you mean "step_templates"?`,
		},
		{
			name: "unknown top-level key without a close match lists the valid keys",
			yaml: "name: t\nfoo: 1\nstep_templates:\n  - name: a\n    handler: exec\n",
			want: `bad.yaml:2: unknown key "foo"; valid keys are: name, namespace_name, version, description, ` +
				`task_handler_class, module_namespace, concurrent, default_dependent_system, named_steps, schema, ` +
				`identity_strategy, step_templates, environments, schedules`,
		},
		{
			name: "unknown step key",
			yaml: "name: t\nstep_templates:\n  - name: a\n    handler: exec\n  - name: b\n    handler: exec\n    depends_on: a\n",
			want: `bad.yaml:7: step "b": unknown key "depends_on"; did you mean "depends_on_step"?`,
		},
		{
			name: "unknown backoff key",
			yaml: "name: t\nstep_templates:\n  - name: a\n    handler: exec\n    backoff: {bse: 1s}\n",
			want: `bad.yaml:5: step "a": unknown key "bse" in backoff; did you mean "base"?`,
		},
		{
			name: "duplicate step name",
			yaml: "name: t\nstep_templates:\n  - name: a\n    handler: exec\n  - name: a\n    handler: exec\n",
			want: `bad.yaml:5: step "a": duplicate step name "a" (lines 3 and 5); give each step a unique name`,
		},
		{
			name: "unknown dependency with a suggestion",
			yaml: "name: t\nstep_templates:\n  - name: fetch_user\n    handler: exec\n  - name: b\n    handler: exec\n    depends_on_step: fetch_usr\n",
			want: `bad.yaml:5: template "t": step "b" depends on unknown step "fetch_usr"; did you mean "fetch_user"?`,
		},
		{
			name: "unknown dependency without a close name",
			yaml: "name: t\nstep_templates:\n  - name: a\n    handler: exec\n  - name: b\n    handler: exec\n    depends_on_steps: [a, zzz]\n",
			want: `bad.yaml:5: template "t": step "b" depends on unknown step "zzz"; ` +
				`declare a step with that name or remove it from the dependencies of "b"`,
		},
		{
			name: "self dependency",
			yaml: "name: t\nstep_templates:\n  - name: a\n    handler: exec\n    depends_on_step: a\n",
			want: `bad.yaml:3: template "t": step "a" depends on itself; remove "a" from its own dependencies`,
		},
		{
			name: "three-step cycle names the path",
			yaml: "name: t\nstep_templates:\n" +
				"  - name: a\n    handler: exec\n    depends_on_step: c\n" +
				"  - name: b\n    handler: exec\n    depends_on_step: a\n" +
				"  - name: c\n    handler: exec\n    depends_on_step: b\n",
			want: `bad.yaml: template "t": dependency cycle: a -> b -> c -> a; remove one of these dependencies`,
		},
		{
			name: "version is not semver",
			yaml: "name: t\nversion: \"1.0\"\nstep_templates:\n  - name: a\n    handler: exec\n",
			want: `bad.yaml:2: version "1.0" is not semantic versioning; use MAJOR.MINOR.PATCH such as "1.0.0"`,
		},
		{
			name: "version with a leading v",
			yaml: "name: t\nversion: v1.2.3\nstep_templates:\n  - name: a\n    handler: exec\n",
			want: `bad.yaml:2: version "v1.2.3" is not semantic versioning; drop the leading "v": "1.2.3"`,
		},
		{
			name: "invalid JSON Schema",
			yaml: "name: t\nschema:\n  type: object\n  properties:\n    x: {minimum: low}\nstep_templates:\n  - name: a\n    handler: exec\n",
			want: `bad.yaml:2: schema is not a valid JSON Schema: invalid JSON Schema: at /properties/x/minimum: type: got string, want number`,
		},
		{
			name: "missing handler",
			yaml: "name: t\nstep_templates:\n  - name: a\n    description: no handler here\n",
			want: `bad.yaml:3: step "a": missing required key "handler"; ` +
				`set handler to the name of a registered handler (handler_class is accepted as an alias)`,
		},
		{
			name: "handler and handler_class differ",
			yaml: "name: t\nstep_templates:\n  - name: a\n    handler: exec\n    handler_class: ChargeHandler\n",
			want: `bad.yaml:5: step "a": handler "exec" and handler_class "ChargeHandler" differ; ` +
				`keep only one of them (handler_class is an alias of handler)`,
		},
		{
			name: "missing template name",
			yaml: "step_templates:\n  - name: a\n    handler: exec\n",
			want: `bad.yaml:1: missing required key "name"; name the task, such as name: process_order`,
		},
		{
			name: "invalid template name",
			yaml: "name: my task\nstep_templates:\n  - name: a\n    handler: exec\n",
			want: `bad.yaml:1: name "my task" is not a valid name; use letters, digits, "_", "." and "-", starting with a letter, digit or "_"`,
		},
		{
			name: "step without a name",
			yaml: "name: t\nstep_templates:\n  - handler: exec\n",
			want: `bad.yaml:3: step_templates item 1: missing required key "name"; give every step a unique name`,
		},
		{
			name: "no steps",
			yaml: "name: t\n",
			want: `bad.yaml: template "t": the template has no steps; declare at least one step under step_templates`,
		},
		{
			name: "retry limit 0",
			yaml: "name: t\nstep_templates:\n  - name: a\n    handler: exec\n    default_retry_limit: 0\n",
			want: `bad.yaml:5: step "a": default_retry_limit must be at least 1, got 0; it counts every attempt, the first included: 1 means no retry`,
		},
		{
			name: "retry limit beyond 32 bits",
			yaml: "name: t\nstep_templates:\n  - name: a\n    handler: exec\n    default_retry_limit: 2147483648\n",
			want: `bad.yaml:3: template "t": step "a": retry limit 2147483648 is above 2147483647; the database stores it as a 32-bit integer: use a smaller number`,
		},
		{
			name: "timeout is not a duration",
			yaml: "name: t\nstep_templates:\n  - name: a\n    handler: exec\n    timeout: soon\n",
			want: `bad.yaml:5: step "a": key "timeout" must be a duration such as "30s" or "5m", or a whole number of seconds, got "soon"`,
		},
		{
			name: "timeout is not positive",
			yaml: "name: t\nstep_templates:\n  - name: a\n    handler: exec\n    timeout: -5s\n",
			want: `bad.yaml:5: step "a": timeout must be positive, got -5s; use a duration such as "30s" or "5m"`,
		},
		{
			name: "backoff jitter out of range",
			yaml: "name: t\nstep_templates:\n  - name: a\n    handler: exec\n    backoff: {jitter: 2}\n",
			want: `bad.yaml:5: step "a": backoff.jitter must be between 0 and 1, got 2; 0.1 spreads delays by ±10 %`,
		},
		{
			name: "backoff max below base",
			yaml: "name: t\nstep_templates:\n  - name: a\n    handler: exec\n    backoff: {base: 10s, max: 1s}\n",
			want: `bad.yaml:5: step "a": backoff.max (1s) is less than backoff.base (10s); raise max or lower base`,
		},
		{
			name: "unknown identity strategy",
			yaml: "name: t\nidentity_strategy: sha\nstep_templates:\n  - name: a\n    handler: exec\n",
			want: `bad.yaml:2: identity_strategy "sha" is not supported; use "default" or "hash"`,
		},
		{
			name: "environment overrides an unknown step",
			yaml: "name: t\nstep_templates:\n  - name: call_api\n    handler: exec\n" +
				"environments:\n  production:\n    step_templates:\n      - name: call_ap\n        handler_config: {command: x}\n",
			want: `bad.yaml:8: step "call_ap": environment "production" overrides unknown step "call_ap"; did you mean "call_api"?`,
		},
		{
			name: "environment with an unknown key",
			yaml: "name: t\nstep_templates:\n  - name: a\n    handler: exec\nenvironments:\n  production:\n    steps: []\n",
			want: `bad.yaml:7: unknown key "steps" in environment "production"; did you mean "step_templates"?`,
		},
		{
			name: "malformed variable reference",
			yaml: "name: t\nstep_templates:\n  - name: a\n    handler: exec\n    handler_config:\n      command: ${1X}\n",
			want: `bad.yaml:6: step "a": malformed variable reference "${1X}"; ` +
				`write ${NAME} or ${NAME:-default} (NAME: letters, digits and "_"), or $${ for a literal "${"`,
		},
		{
			name: "empty file",
			yaml: "",
			want: `bad.yaml: the file is empty; a template needs at least name and step_templates`,
		},
		{
			name: "invalid YAML",
			yaml: "name: t\n  step_templates: [\n",
			want: `bad.yaml:2: invalid YAML: mapping values are not allowed in this context; check the indentation and quoting`,
		},
		{
			name: "every parse problem of a file is reported, in line order",
			yaml: "name: t\nversion: x\nfoo: 1\nstep_templates:\n  - name: a\n    handler: exec\n    timeout: 0s\n",
			want: "bad.yaml:2: version \"x\" is not semantic versioning; use MAJOR.MINOR.PATCH such as \"1.0.0\"\n" +
				"bad.yaml:3: unknown key \"foo\"; valid keys are: name, namespace_name, version, description, " +
				"task_handler_class, module_namespace, concurrent, default_dependent_system, named_steps, schema, " +
				"identity_strategy, step_templates, environments, schedules\n" +
				"bad.yaml:7: step \"a\": timeout must be positive, got 0s; use a duration such as \"30s\" or \"5m\"",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.EqualError(t, loadBad(t, tt.yaml), tt.want)
		})
	}
}

func TestTemplateErrorUnknownHandlerListsRegistered(t *testing.T) {
	t.Parallel()
	reg := tasker.NewRegistry()
	noop := tasker.StepHandlerFunc(nil)
	reg.MustRegisterHandler("ship", noop)
	reg.MustRegisterHandler("charge", noop)
	_, err := reg.LoadYAML("bad.yaml", []byte("name: t\nstep_templates:\n  - name: a\n    handler: charge_card\n"), tasker.LoadOptions{})
	require.EqualError(t, err, `bad.yaml:3: template "t": step "a": handler "charge_card" is not registered; `+
		`register it with Registry.RegisterHandler before loading templates, or use one of: charge, exec, http, remote, ship`)
	var te *tasker.TemplateError
	require.ErrorAs(t, err, &te)
	require.Equal(t, "bad.yaml", te.File)
	require.Equal(t, "t", te.Template)
	require.Equal(t, "a", te.Step)

	// AllowUnknownHandlers skips the check, and ParseTemplate never makes it.
	_, err = tasker.NewRegistry().LoadYAML("ok.yaml", []byte("name: t\nstep_templates:\n  - name: a\n    handler: charge_card\n"),
		tasker.LoadOptions{RegisterOptions: tasker.RegisterOptions{AllowUnknownHandlers: true}})
	require.NoError(t, err)
	_, err = tasker.ParseTemplate("ok.yaml", []byte("name: t\nstep_templates:\n  - name: a\n    handler: charge_card\n"), tasker.LoadOptions{})
	require.NoError(t, err)
}

func TestTemplateErrorUnsetVariable(t *testing.T) {
	t.Parallel()
	const name = "TASKER_TEMPLATE_TEST_SURELY_UNSET_7F3A"
	_, set := os.LookupEnv(name)
	require.False(t, set, "%s must not be set for this test", name)
	err := loadBad(t, "name: t\nstep_templates:\n  - name: a\n    handler: exec\n    description: ${"+name+"}\n")
	require.EqualError(t, err, `bad.yaml:5: step "a": environment variable `+name+` is not set; set `+name+` or write ${`+name+`:-default}`)

	// In handler_config the reference is read when the step runs, by the
	// worker that runs it: loading warns and keeps it as written.
	var warnings []*tasker.TemplateError
	tmpl, err := tasker.NewRegistry().LoadYAML("ok.yaml",
		[]byte("name: t\nstep_templates:\n  - name: a\n    handler: exec\n    handler_config:\n      command: echo ${"+name+"}\n"),
		tasker.LoadOptions{Warn: func(e *tasker.TemplateError) { warnings = append(warnings, e) }})
	require.NoError(t, err)
	require.Equal(t, "echo ${"+name+"}", tmpl.Steps[0].HandlerConfig["command"])
	require.Len(t, warnings, 1)
	require.Equal(t, "ok.yaml", warnings[0].File)
	require.Equal(t, 6, warnings[0].Line)
	require.Equal(t, "a", warnings[0].Step)
	require.Contains(t, warnings[0].Error(), "environment variable "+name+" is not set")

	// A default, or the escape $${, is kept too (expanded when the step runs).
	tmpl, err = tasker.NewRegistry().LoadYAML("ok.yaml",
		[]byte("name: t\nstep_templates:\n  - name: a\n    handler: exec\n    handler_config:\n      command: echo ${"+name+":-fallback} $${"+name+"}\n"),
		tasker.LoadOptions{})
	require.NoError(t, err)
	require.Equal(t, "echo ${"+name+":-fallback} $${"+name+"}", tmpl.Steps[0].HandlerConfig["command"])
}

func TestTemplateErrorDuplicateRegistration(t *testing.T) {
	t.Parallel()
	reg := tasker.NewRegistry()
	const y = "name: t\nversion: 1.2.0\nstep_templates:\n  - name: a\n    handler: exec\n    handler_config: {command: [\"true\"]}\n"
	_, err := reg.LoadYAML("first.yaml", []byte(y), tasker.LoadOptions{})
	require.NoError(t, err)
	_, err = reg.LoadYAML("second.yaml", []byte(y), tasker.LoadOptions{})
	require.EqualError(t, err, `second.yaml: template "t": default.t@1.2.0 is already registered; bump the version, or register with Replace to replace it`)
	_, err = reg.LoadYAML("second.yaml", []byte(y), tasker.LoadOptions{RegisterOptions: tasker.RegisterOptions{Replace: true}})
	require.NoError(t, err)
}

func TestTemplateErrorLoadDirReportsEveryFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(rel, content string) string {
		p := filepath.Join(dir, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		return p
	}
	badVersion := write("a_bad.yaml", "name: bad_version\nversion: x\nstep_templates:\n  - name: a\n    handler: exec\n")
	badDep := write("sub/b_bad.yml", "name: bad_dep\nstep_templates:\n  - name: a\n    handler: exec\n    depends_on_step: zz\n")
	good := write("c_good.yaml", "name: good\nversion: 1.0.0\nstep_templates:\n  - name: a\n    handler: exec\n    handler_config: {command: [\"true\"]}\n")
	write(".hidden.yaml", "this: [is not loaded\n")
	write("notes.txt", "not a template\n")

	reg := tasker.NewRegistry()
	err := reg.LoadDir(dir, tasker.LoadOptions{})
	require.EqualError(t, err,
		badVersion+`:2: version "x" is not semantic versioning; use MAJOR.MINOR.PATCH such as "1.0.0"`+"\n"+
			badDep+`:3: template "bad_dep": step "a" depends on unknown step "zz"; declare a step with that name or remove it from the dependencies of "a"`)

	tmpl, err := reg.Template("default", "good", "")
	require.NoError(t, err)
	require.Equal(t, good, tmpl.File)
	require.Len(t, reg.Templates(""), 1)
}

func TestTemplateErrorLoadDirMissingDirectory(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "nope")
	err := tasker.NewRegistry().LoadDir(dir, tasker.LoadOptions{})
	require.EqualError(t, err, "load templates from "+dir+": lstat "+dir+": no such file or directory")
	require.ErrorIs(t, err, os.ErrNotExist)
}

// Go-defined templates go through the same validation as YAML ones and get
// the same kind of message (without a file or line).
func TestTemplateErrorGoDefined(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		tmpl *tasker.TaskTemplate
		want string
	}{
		{
			name: "cycle",
			tmpl: &tasker.TaskTemplate{Name: "g", Steps: []tasker.StepTemplate{
				{Name: "a", Handler: "exec", DependsOn: []string{"c"}},
				{Name: "b", Handler: "exec", DependsOn: []string{"a"}},
				{Name: "c", Handler: "exec", DependsOn: []string{"b"}},
			}},
			want: `template "g": dependency cycle: a -> b -> c -> a; remove one of these dependencies`,
		},
		{
			name: "unknown handler",
			tmpl: &tasker.TaskTemplate{Name: "g", Steps: []tasker.StepTemplate{{Name: "a", Handler: "charge"}}},
			want: `template "g": step "a": handler "charge" is not registered; ` +
				`register it with Registry.RegisterHandler before loading templates, or use one of: exec, http, remote`,
		},
		{
			name: "bad version",
			tmpl: &tasker.TaskTemplate{Name: "g", Version: "1.0", Steps: []tasker.StepTemplate{{Name: "a", Handler: "exec"}}},
			want: `template "g": version "1.0" is not semantic versioning; use MAJOR.MINOR.PATCH such as "1.0.0"`,
		},
		{
			name: "duplicate step",
			tmpl: &tasker.TaskTemplate{Name: "g", Steps: []tasker.StepTemplate{{Name: "a", Handler: "exec"}, {Name: "a", Handler: "exec"}}},
			want: `template "g": step "a" is declared twice; step names must be unique within a template: rename one of them`,
		},
		{
			name: "unknown dependency",
			tmpl: &tasker.TaskTemplate{Name: "g", Steps: []tasker.StepTemplate{{Name: "load", Handler: "exec"}, {Name: "b", Handler: "exec", DependsOn: []string{"lode"}}}},
			want: `template "g": step "b" depends on unknown step "lode"; did you mean "load"?`,
		},
		{
			name: "self dependency",
			tmpl: &tasker.TaskTemplate{Name: "g", Steps: []tasker.StepTemplate{{Name: "a", Handler: "exec", DependsOn: []string{"a"}}}},
			want: `template "g": step "a" depends on itself; remove "a" from its own dependencies`,
		},
		{
			name: "missing name",
			tmpl: &tasker.TaskTemplate{Steps: []tasker.StepTemplate{{Name: "a", Handler: "exec"}}},
			want: `name is missing; give the template a name`,
		},
		{
			name: "missing handler",
			tmpl: &tasker.TaskTemplate{Name: "g", Steps: []tasker.StepTemplate{{Name: "a"}}},
			want: `template "g": step "a": handler is missing; name a registered handler, such as "exec"`,
		},
		{
			name: "step without a name",
			tmpl: &tasker.TaskTemplate{Name: "g", Steps: []tasker.StepTemplate{{Handler: "exec"}}},
			want: `template "g": step #1 has no name; give every step a unique name`,
		},
		{
			name: "no steps",
			tmpl: &tasker.TaskTemplate{Name: "g"},
			want: `template "g": the template has no steps; declare at least one step under step_templates`,
		},
		{
			name: "negative retry limit",
			tmpl: &tasker.TaskTemplate{Name: "g", Steps: []tasker.StepTemplate{{Name: "a", Handler: "exec", RetryLimit: -1}}},
			want: `template "g": step "a": retry limit -1 is below 1; the retry limit counts all attempts: use 1 or more`,
		},
		{
			name: "negative timeout",
			tmpl: &tasker.TaskTemplate{Name: "g", Steps: []tasker.StepTemplate{{Name: "a", Handler: "exec", Timeout: -time.Second}}},
			want: `template "g": step "a": timeout is negative; use a positive duration such as "30s"`,
		},
		{
			name: "invalid schema",
			tmpl: &tasker.TaskTemplate{Name: "g", Schema: map[string]any{"type": "object", "required": "id"},
				Steps: []tasker.StepTemplate{{Name: "a", Handler: "exec"}}},
			want: `template "g": schema is not a valid JSON Schema: invalid JSON Schema: at /required: type: got string, want array`,
		},
		{
			name: "unknown identity strategy",
			tmpl: &tasker.TaskTemplate{Name: "g", IdentityStrategy: "sha", Steps: []tasker.StepTemplate{{Name: "a", Handler: "exec"}}},
			want: `template "g": identity_strategy "sha" is unknown; use "default" or "hash"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg := tasker.NewRegistry()
			err := reg.RegisterTemplate(tt.tmpl, tasker.RegisterOptions{})
			require.EqualError(t, err, tt.want)
			var te *tasker.TemplateError
			require.ErrorAs(t, err, &te)
			require.Empty(t, te.File)
			require.Empty(t, reg.Templates(""))
		})
	}
}

// The TaskTemplate documentation says YAML and Go templates "are validated
// the same way", but several rules of the YAML parser are not applied to Go
// templates.
func TestTemplateErrorGoDefinedValidatedLikeYAML(t *testing.T) {
	t.Parallel()
	cases := map[string]*tasker.TaskTemplate{
		"semver prerelease with a leading zero": {Name: "g", Version: "1.0.0-01", Steps: []tasker.StepTemplate{{Name: "a", Handler: "exec"}}},
		"backoff max below base": {Name: "g", Steps: []tasker.StepTemplate{{Name: "a", Handler: "exec",
			Backoff: &tasker.Backoff{Base: 10 * time.Second, Max: time.Second}}}},
		"blank step name": {Name: "g", Steps: []tasker.StepTemplate{{Name: "  ", Handler: "exec"}}},
	}
	for name, tmpl := range cases {
		require.Error(t, tasker.NewRegistry().RegisterTemplate(tmpl, tasker.RegisterOptions{}), name)
	}
}

// A Go-defined handler_config is judged in the form handlers get at run
// time (after JSON): Go maps of strings and Go integers are fine; a
// time.Duration, which would become nanoseconds read as seconds, is refused.
func TestTemplateGoHandlerConfigAsStored(t *testing.T) {
	t.Parallel()
	reg := tasker.NewRegistry()
	ok := &tasker.TaskTemplate{Name: "go_cfg", Steps: []tasker.StepTemplate{
		{Name: "call", Handler: "http", HandlerConfig: map[string]any{
			"url": "https://api.example.com/x", "headers": map[string]string{"X-Api-Key": "k"},
			"params": map[string]int{"page": 2}, "max_response_bytes": int64(4096),
		}},
		{Name: "run", Handler: "exec", HandlerConfig: map[string]any{"command": []string{"true"}, "timeout": 30}},
	}}
	require.NoError(t, reg.RegisterTemplate(ok, tasker.RegisterOptions{}))
	bad := &tasker.TaskTemplate{Name: "go_cfg_bad", Steps: []tasker.StepTemplate{
		{Name: "call", Handler: "http", HandlerConfig: map[string]any{"url": "https://api.example.com/x", "timeout": 10 * time.Second}},
	}}
	err := reg.RegisterTemplate(bad, tasker.RegisterOptions{})
	require.EqualError(t, err, `template "go_cfg_bad": step "call": handler_config.timeout is a time.Duration (10s): write it as a string such as "10s", since handler_config is stored as JSON`)
}

// An http step may only read the results of its parents.
func TestTemplateHTTPDependenciesMustBeParents(t *testing.T) {
	t.Parallel()
	reg := tasker.NewRegistry()
	reg.MustRegisterHandler("go", tasker.StepHandlerFunc(func(context.Context, *tasker.StepContext) (any, error) { return nil, nil }))
	steps := func(deps ...string) []tasker.StepTemplate {
		return []tasker.StepTemplate{
			{Name: "lookup", Handler: "go"},
			{Name: "other", Handler: "go"},
			{Name: "call", Handler: "http", DependsOn: deps, HandlerConfig: map[string]any{
				"url": "https://api.example.com/orders/{{dependencies.lookup.id}}", "body": map[string]any{"x": "{{dependencies.lookup}}"},
			}},
		}
	}
	require.NoError(t, reg.RegisterTemplate(&tasker.TaskTemplate{Name: "ok", Steps: steps("lookup")}, tasker.RegisterOptions{}))
	err := reg.RegisterTemplate(&tasker.TaskTemplate{Name: "bad", Steps: steps("other")}, tasker.RegisterOptions{})
	require.EqualError(t, err, `template "bad": step "call": handler_config reads {{dependencies.lookup}}, but "lookup" is not a parent of this step (its parents are other): add it to depends_on_steps, or fix the name`)
	err = reg.RegisterTemplate(&tasker.TaskTemplate{Name: "none", Steps: steps()}, tasker.RegisterOptions{})
	require.ErrorContains(t, err, `"lookup" is not a parent of this step (it has none)`)
}

// Every step's problem of one kind is reported in one run: all the unknown
// handlers, and all the handler_config problems (each names its step and
// line), not only the first.
func TestTemplateErrorEveryStepReported(t *testing.T) {
	t.Parallel()
	err := loadBad(t, "name: t\nstep_templates:\n  - name: a\n    handler: charge\n  - name: b\n    handler: refund\n")
	require.ErrorContains(t, err, `bad.yaml:3: template "t": step "a": handler "charge" is not registered`)
	require.ErrorContains(t, err, `bad.yaml:5: template "t": step "b": handler "refund" is not registered`)

	err = loadBad(t, "name: t\nstep_templates:\n  - name: a\n    handler: exec\n    handler_config: {command: 5}\n"+
		"  - name: b\n    handler: http\n    handler_config: {url: \"ftp://x\"}\n")
	require.ErrorContains(t, err, `bad.yaml:3: template "t": step "a": handler_config.command must be a list`)
	require.ErrorContains(t, err, `bad.yaml:6: template "t": step "b": handler_config.url "ftp://x" must be an absolute http(s) URL`)
	var te *tasker.TemplateError
	require.ErrorAs(t, err, &te)
}
