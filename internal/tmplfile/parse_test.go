package tmplfile_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/tmplfile"
)

// noEnv is a LookupEnv that knows no variables, so tests never depend on the
// real environment.
func noEnv(string) (string, bool) { return "", false }

// envOf returns a LookupEnv backed by vars.
func envOf(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

func ptr[T any](v T) *T { return &v }

// parse parses src (with leading tabs of a Go raw string removed) as
// "t.yaml".
func parse(src string, opts tmplfile.Options) (*tmplfile.Template, error) {
	if opts.LookupEnv == nil {
		opts.LookupEnv = noEnv
	}
	return tmplfile.Parse("t.yaml", []byte(dedent(src)), opts)
}

// dedent removes the common leading tabs of src's lines, so YAML can be
// written indented inside Go tests. Tabs are not valid YAML indentation.
func dedent(src string) string {
	lines := strings.Split(strings.TrimPrefix(src, "\n"), "\n")
	prefix := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, "\t"))
		if prefix < 0 || n < prefix {
			prefix = n
		}
	}
	for i, l := range lines {
		switch {
		case strings.TrimSpace(l) == "":
			lines[i] = ""
		case prefix > 0:
			lines[i] = l[prefix:]
		}
	}
	return strings.Join(lines, "\n")
}

func TestParseCompleteTemplate(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/complete.yaml")
	require.NoError(t, err)

	got, err := tmplfile.Parse("testdata/complete.yaml", data, tmplfile.Options{LookupEnv: noEnv})
	require.NoError(t, err)

	want := &tmplfile.Template{
		File:                   "testdata/complete.yaml",
		Name:                   "process_order",
		NamespaceName:          "shop",
		Version:                "1.2.3-rc.1+build.5",
		Description:            "Takes an order from cart to confirmation",
		TaskHandlerClass:       "OrderProcess",
		ModuleNamespace:        "Shop",
		Concurrent:             ptr(true),
		DefaultDependentSystem: "ecommerce",
		NamedSteps:             []string{"fetch_cart", "charge", "confirm"},
		Schema: map[string]any{
			"type":     "object",
			"required": []any{"cart_id"},
			"properties": map[string]any{
				"cart_id":  map[string]any{"type": "integer", "minimum": 1},
				"currency": map[string]any{"type": "string", "default": "EUR"},
			},
		},
		IdentityStrategy: "hash",
		Steps: []tmplfile.Step{
			{
				Name:            "fetch_cart",
				Description:     "Fetch the cart",
				Handler:         "http",
				DependentSystem: "ecommerce",
				HandlerConfig: map[string]any{
					"method":  "GET",
					"url":     "https://shop.example/cart",
					"headers": map[string]any{"accept": "application/json"},
					"retries": 2,
				},
				DefaultRetryable:  ptr(true),
				DefaultRetryLimit: ptr(5),
				Timeout:           30 * time.Second,
				Backoff: &tmplfile.Backoff{
					Base:         2 * time.Second,
					Max:          time.Minute,
					MaxRequested: 5 * time.Minute,
					Jitter:       ptr(0.2),
				},
				Line: 26,
			},
			{
				Name:              "charge",
				Description:       "Charge the card",
				Handler:           "Shop::ChargeHandler",
				DependentSystem:   "payments",
				DependsOnStep:     "fetch_cart",
				DefaultRetryable:  ptr(false),
				DefaultRetryLimit: ptr(1),
				Skippable:         true,
				Timeout:           90 * time.Second,
				CustomEvents: []tmplfile.CustomEvent{
					{Name: "payment.charged", Description: "The card was charged"},
					{Name: "payment.declined"},
				},
				Line: 43,
			},
			{
				Name:            "confirm",
				Handler:         "exec",
				DependentSystem: "ecommerce",
				DependsOnStep:   "charge",
				DependsOnSteps:  []string{"fetch_cart", "charge"},
				Line:            56,
			},
		},
		Environments: map[string]tmplfile.Environment{
			"development": {StepTemplates: []tmplfile.StepOverride{{
				Name:   "fetch_cart",
				Values: map[string]any{"handler_config": map[string]any{"url": "http://localhost:3000/cart"}},
				Line:   63,
			}}},
		},
	}
	require.Equal(t, want, got)
	require.Equal(t, []string{"charge", "fetch_cart"}, got.Steps[2].Dependencies())
}

func TestParseAppliesDefaults(t *testing.T) {
	t.Parallel()
	got, err := parse(`
		name: minimal
		step_templates:
		  - name: only
		    handler_class: Only
	`, tmplfile.Options{})
	require.NoError(t, err)
	require.Equal(t, &tmplfile.Template{
		File:             "t.yaml",
		Name:             "minimal",
		NamespaceName:    "default",
		Version:          "0.1.0",
		IdentityStrategy: "",
		Steps:            []tmplfile.Step{{Name: "only", Handler: "Only", Line: 3}},
	}, got)
}

func TestParseOriginalREADMEExample(t *testing.T) {
	t.Parallel()
	// From the original README: null values (module_namespace with only a
	// comment) and handler_class must be accepted.
	got, err := parse(`
		---
		name: order_process
		module_namespace: # Optional namespace
		task_handler_class: OrderProcess
		concurrent: true # Whether steps can run concurrently

		schema: # JSON Schema for validating task context
		  type: object
		  required:
		    - order_id
		  properties:
		    order_id:
		      type: integer

		step_templates:
		  - name: fetch_order
		    description: Fetch order details from database
		    handler_class: OrderProcess::StepHandler::FetchOrderHandler

		  - name: process_payment
		    description: Process payment for the order
		    depends_on_step: fetch_order
		    handler_class: OrderProcess::StepHandler::ProcessPaymentHandler
		    # Retry configuration
		    default_retryable: true
		    default_retry_limit: 3
	`, tmplfile.Options{})
	require.NoError(t, err)
	require.Equal(t, "order_process", got.Name)
	require.Empty(t, got.ModuleNamespace)
	require.Len(t, got.Steps, 2)
	require.Equal(t, "OrderProcess::StepHandler::ProcessPaymentHandler", got.Steps[1].Handler)
	require.Equal(t, []string{"fetch_order"}, got.Steps[1].Dependencies())
}

func TestParseAcceptsASingleStringAsDependencyList(t *testing.T) {
	t.Parallel()
	got, err := parse(`
		name: t
		step_templates:
		  - {name: a, handler: h}
		  - {name: b, handler: h, depends_on_steps: a}
	`, tmplfile.Options{})
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, got.Steps[1].DependsOnSteps)
}

func TestParseAliasesAndMergeKeys(t *testing.T) {
	t.Parallel()
	got, err := parse(`
		name: t
		step_templates:
		  - &base
		    name: a
		    handler: http
		    handler_config: &cfg {url: "https://x.example", method: GET}
		  - <<: *base
		    name: b
		    handler_config:
		      <<: *cfg
		      method: POST
	`, tmplfile.Options{})
	require.NoError(t, err)
	require.Equal(t, "b", got.Steps[1].Name)
	require.Equal(t, "http", got.Steps[1].Handler)
	require.Equal(t, map[string]any{"url": "https://x.example", "method": "POST"}, got.Steps[1].HandlerConfig)
}

func TestParseEnvironmentOverrides(t *testing.T) {
	t.Parallel()
	src := `
		name: t
		step_templates:
		  - name: fetch
		    handler_class: Fetch
		    handler_config:
		      url: https://api.example/cart
		      params: {cart_id: 1, page: 1}
		      tags: [a, b]
		    timeout: 10s
		    backoff: {base: 1s, max: 30s}
		  - name: other
		    handler: exec
		environments:
		  development:
		    step_templates:
		      - name: fetch
		        handler: fake_fetch
		        handler_config:
		          url: http://localhost:3000/cart
		          params: {debug: true}
		          tags: [c]
		        timeout: 1m
		        backoff: {max: 5s}
		  production:
		    step_templates:
		      - name: fetch
		        handler_config:
		          api_key: ${API_KEY}
	`
	// No environment selected: the base values, and production's unset
	// variable does not matter.
	base, err := parse(src, tmplfile.Options{})
	require.NoError(t, err)
	require.Equal(t, "Fetch", base.Steps[0].Handler)
	require.Equal(t, 10*time.Second, base.Steps[0].Timeout)

	dev, err := parse(src, tmplfile.Options{Env: "development"})
	require.NoError(t, err)
	fetch := dev.Steps[0]
	require.Equal(t, "fake_fetch", fetch.Handler, "handler replaces handler_class")
	require.Equal(t, map[string]any{
		"url":    "http://localhost:3000/cart",
		"params": map[string]any{"cart_id": 1, "page": 1, "debug": true},
		"tags":   []any{"c"},
	}, fetch.HandlerConfig, "maps merge deeply, lists are replaced")
	require.Equal(t, time.Minute, fetch.Timeout)
	require.Equal(t, &tmplfile.Backoff{Base: time.Second, Max: 5 * time.Second}, fetch.Backoff)
	require.Equal(t, 3, fetch.Line, "the step keeps its own line")
	require.Equal(t, "exec", dev.Steps[1].Handler)
	// The raw overrides of every environment are kept; production's are
	// not substituted since production is not selected.
	require.Equal(t, map[string]any{"handler_config": map[string]any{"api_key": "${API_KEY}"}},
		dev.Environments["production"].StepTemplates[0].Values)
	require.Equal(t, "fetch", dev.Environments["development"].StepTemplates[0].Name)

	prod, err := parse(src, tmplfile.Options{Env: "production", LookupEnv: envOf(map[string]string{"API_KEY": "k"})})
	require.NoError(t, err)
	require.Equal(t, "Fetch", prod.Steps[0].Handler)
	require.Equal(t, map[string]any{
		"url":     "https://api.example/cart",
		"params":  map[string]any{"cart_id": 1, "page": 1},
		"tags":    []any{"a", "b"},
		"api_key": "${API_KEY}",
	}, prod.Steps[0].HandlerConfig, "handler_config keeps its references")

	unset, err := parse(src, tmplfile.Options{Env: "production"})
	require.NoError(t, err, "a handler_config variable is read when the step runs")
	require.Len(t, unset.Warnings, 1)
	require.Contains(t, unset.Warnings[0].Error(), `t.yaml:28: step "fetch": environment variable API_KEY is not set`)

	// An environment that the file does not mention changes nothing.
	staging, err := parse(src, tmplfile.Options{Env: "staging"})
	require.NoError(t, err)
	require.Equal(t, base.Steps, staging.Steps)
}

func TestParseEnvironmentOverrideIsValidatedAfterMerge(t *testing.T) {
	t.Parallel()
	src := `
		name: t
		step_templates:
		  - name: fetch
		    handler: h
		environments:
		  production:
		    step_templates:
		      - name: fetch
		        timeout: soon
	`
	_, err := parse(src, tmplfile.Options{})
	require.NoError(t, err, "overrides of other environments are not decoded")
	_, err = parse(src, tmplfile.Options{Env: "production"})
	require.EqualError(t, err, `t.yaml:9: step "fetch": key "timeout" must be a duration such as "30s" or "5m", or a whole number of seconds, got "soon"`)
}

func TestParseVariables(t *testing.T) {
	t.Parallel()
	vars := envOf(map[string]string{"HOST": "api.example", "RETRIES": "4", "EMPTY": "", "FLAG": "true"})
	got, err := parse(`
		name: ${NAME:-vars}
		description: "on ${HOST}, literal $${HOST}, cost $5"
		step_templates:
		  - name: fetch
		    handler: ${HANDLER:-http}
		    default_retry_limit: ${RETRIES}
		    handler_config:
		      url: https://${HOST}/v1
		      fallback: ${EMPTY:-used when empty}
		      empty: "${EMPTY}"
		      flag: ${FLAG}
		      quoted: "${FLAG}"
		      block: |
		        host=${HOST}
		      ${HOST}: keys are not substituted
		schema:
		  properties:
		    host: {default: "${HOST}"}
	`, tmplfile.Options{LookupEnv: vars})
	require.NoError(t, err)
	require.Equal(t, "vars", got.Name)
	require.Equal(t, "on api.example, literal ${HOST}, cost $5", got.Description)
	require.Equal(t, "http", got.Steps[0].Handler)
	require.Equal(t, ptr(4), got.Steps[0].DefaultRetryLimit, "an unquoted value is re-typed after substitution")
	require.Equal(t, map[string]any{
		"url":      "https://${HOST}/v1",
		"fallback": "${EMPTY:-used when empty}",
		"empty":    "${EMPTY}",
		"flag":     "${FLAG}",
		"quoted":   "${FLAG}",
		"block":    "host=${HOST}\n",
		"${HOST}":  "keys are not substituted",
	}, got.Steps[0].HandlerConfig, "handler_config keeps its references: the engine expands them when the step runs")
	require.Empty(t, got.Warnings)
	require.Equal(t, map[string]any{"properties": map[string]any{"host": map[string]any{"default": "api.example"}}}, got.Schema)
}

func TestParseVariablesDefaultToOSEnvironment(t *testing.T) {
	t.Setenv("TMPLFILE_TEST_HANDLER", "from_os")
	src := "name: t\nstep_templates:\n  - name: a\n    handler: ${TMPLFILE_TEST_HANDLER}\n"
	got, err := tmplfile.Parse("", []byte(src), tmplfile.Options{})
	require.NoError(t, err)
	require.Equal(t, "from_os", got.Steps[0].Handler)
}

// rejection is one invalid template and the exact error Parse must return.
type rejection struct {
	name string
	src  string
	opts tmplfile.Options
	want string
}

func runRejections(t *testing.T, cases []rejection) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parse(tc.src, tc.opts)
			require.Nil(t, got)
			require.EqualError(t, err, tc.want)
			for _, e := range tmplfile.Errors(err) {
				require.Equal(t, "t.yaml", e.File)
				require.NotEmpty(t, e.Problem)
			}
		})
	}
}

func TestParseRejectsUnknownKeys(t *testing.T) {
	t.Parallel()
	runRejections(t, []rejection{
		{
			name: "step key with a close match",
			src: `
				name: diamond
				step_templates:
				  - name: start
				    handler: noop
				  - name: merge
				    handler: noop
				    depends_on: start
			`,
			want: `t.yaml:7: step "merge": unknown key "depends_on"; did you mean "depends_on_step"?`,
		},
		{
			name: "top-level key with a typo",
			src: `
				name: t
				namespace: shop
				step_templates: []
			`,
			want: `t.yaml:2: unknown key "namespace"; did you mean "namespace_name"?`,
		},
		{
			name: "key far from every valid key",
			src: `
				name: t
				priority: 3
			`,
			want: `t.yaml:2: unknown key "priority"; valid keys are: name, namespace_name, version, description, task_handler_class, module_namespace, concurrent, default_dependent_system, named_steps, schema, identity_strategy, step_templates, environments, schedules`,
		},
		{
			name: "backoff key",
			src: `
				name: t
				step_templates:
				  - name: a
				    handler: h
				    backoff: {base: 1s, jiter: 0.1}
			`,
			want: `t.yaml:5: step "a": unknown key "jiter" in backoff; did you mean "jitter"?`,
		},
		{
			name: "custom event key",
			src: `
				name: t
				step_templates:
				  - name: a
				    handler: h
				    custom_events:
				      - name: order.done
				        desc: finished
			`,
			want: `t.yaml:7: step "a": unknown key "desc" in custom_events; did you mean "description"?`,
		},
		{
			name: "environment key",
			src: `
				name: t
				step_templates: [{name: a, handler: h}]
				environments:
				  production:
				    steps: []
			`,
			want: `t.yaml:5: unknown key "steps" in environment "production"; did you mean "step_templates"?`,
		},
		{
			name: "override key in an environment that is not selected",
			src: `
				name: t
				step_templates: [{name: a, handler: h}]
				environments:
				  production:
				    step_templates:
				      - name: a
				        handler_confg: {}
				        backoff: {bse: 1s}
			`,
			want: `t.yaml:7: step "a": unknown key "handler_confg" in environment "production"; did you mean "handler_config"?` + "\n" +
				`t.yaml:8: step "a": unknown key "bse" in backoff; did you mean "base"?`,
		},
	})
}

func TestParseRejectsMissingRequiredKeys(t *testing.T) {
	t.Parallel()
	runRejections(t, []rejection{
		{
			name: "template name",
			src: `
				description: no name
				step_templates: [{name: a, handler: h}]
			`,
			want: `t.yaml:1: missing required key "name"; name the task, such as name: process_order`,
		},
		{
			name: "step name",
			src: `
				name: t
				step_templates:
				  - handler: h
			`,
			want: `t.yaml:3: step_templates item 1: missing required key "name"; give every step a unique name`,
		},
		{
			name: "handler",
			src: `
				name: t
				step_templates:
				  - name: a
				    description: no handler
			`,
			want: `t.yaml:3: step "a": missing required key "handler"; set handler to the name of a registered handler (handler_class is accepted as an alias)`,
		},
		{
			name: "empty handler",
			src: `
				name: t
				step_templates:
				  - name: a
				    handler: ""
			`,
			want: `t.yaml:4: step "a": key "handler" must not be empty; set it to the name of a registered handler`,
		},
		{
			name: "custom event name",
			src: `
				name: t
				step_templates:
				  - name: a
				    handler: h
				    custom_events: [{description: x}]
			`,
			want: `t.yaml:5: step "a": custom_events item 1: missing required key "name"; name the event, such as "order.fulfilled"`,
		},
		{
			name: "override name",
			src: `
				name: t
				step_templates: [{name: a, handler: h}]
				environments:
				  dev:
				    step_templates:
				      - handler: x
			`,
			want: `t.yaml:6: environment "dev": step_templates item 1: missing required key "name"; name the step to override`,
		},
	})
}

// Handler and its alias handler_class may both be given when they agree;
// TestParseRejectsInconsistentTemplates has the case where they differ.
func TestParseAcceptsMatchingHandlerAlias(t *testing.T) {
	t.Parallel()
	got, err := parse(`
		name: t
		step_templates:
		  - {name: a, handler: same, handler_class: same}
	`, tmplfile.Options{})
	require.NoError(t, err)
	require.Equal(t, "same", got.Steps[0].Handler)
}

func TestParseRejectsWrongTypes(t *testing.T) {
	t.Parallel()
	runRejections(t, []rejection{
		{
			name: "mapping where a list of names is needed",
			src: `
				name: t
				step_templates:
				  - name: a
				    handler: h
				    depends_on_steps: {b: c}
			`,
			want: `t.yaml:5: step "a": key "depends_on_steps" must be a list of step names, got a mapping`,
		},
		{
			name: "list item that is not a string",
			src: `
				name: t
				step_templates:
				  - name: a
				    handler: h
				    depends_on_steps: [b, [c]]
			`,
			want: `t.yaml:5: step "a": item 2 of "depends_on_steps" must be a string, got a list`,
		},
		{
			name: "mapping where a string is needed",
			src: `
				name: {first: t}
				step_templates: []
			`,
			want: `t.yaml:1: key "name" must be a string, got a mapping`,
		},
		{
			name: "list for depends_on_step",
			src: `
				name: t
				step_templates:
				  - name: a
				    handler: h
				    depends_on_step: [b, c]
			`,
			want: `t.yaml:5: step "a": key "depends_on_step" must be a string, got a list; use depends_on_steps for several dependencies`,
		},
		{
			name: "boolean",
			src: `
				name: t
				step_templates:
				  - name: a
				    handler: h
				    default_retryable: sometimes
			`,
			want: `t.yaml:5: step "a": key "default_retryable" must be true or false, got "sometimes"`,
		},
		{
			name: "integer",
			src: `
				name: t
				step_templates:
				  - name: a
				    handler: h
				    default_retry_limit: 2.5
			`,
			want: `t.yaml:5: step "a": key "default_retry_limit" must be an integer, got "2.5"`,
		},
		{
			name: "handler_config",
			src: `
				name: t
				step_templates:
				  - name: a
				    handler: h
				    handler_config: [1, 2]
			`,
			want: `t.yaml:5: step "a": key "handler_config" must be a mapping, got a list`,
		},
		{
			name: "step_templates",
			src: `
				name: t
				step_templates:
				  a: {handler: h}
			`,
			want: `t.yaml:3: key "step_templates" must be a list of steps, got a mapping`,
		},
		{
			name: "step that is not a mapping",
			src: `
				name: t
				step_templates:
				  - fetch
			`,
			want: `t.yaml:3: step_templates item 1 must be a mapping, got "fetch"`,
		},
		{
			name: "timeout",
			src: `
				name: t
				step_templates:
				  - name: a
				    handler: h
				    timeout: 1.5
			`,
			want: `t.yaml:5: step "a": key "timeout" must be a duration such as "30s" or "5m", or a whole number of seconds, got "1.5"`,
		},
		{
			name: "jitter",
			src: `
				name: t
				step_templates:
				  - name: a
				    handler: h
				    backoff: {jitter: lots}
			`,
			want: `t.yaml:5: step "a": key "backoff.jitter" must be a number, got "lots"`,
		},
		{
			name: "schema",
			src: `
				name: t
				schema: [type, object]
			`,
			want: `t.yaml:2: key "schema" must be a mapping, got a list`,
		},
	})
}

func TestParseRejectsInvalidNames(t *testing.T) {
	t.Parallel()
	const fix = `use letters, digits, "_", "." and "-", starting with a letter, digit or "_"`
	runRejections(t, []rejection{
		{
			name: "template name with a slash",
			src:  "name: api_task/integration\n",
			want: `t.yaml:1: name "api_task/integration" is not a valid name; ` + fix,
		},
		{
			name: "empty template name",
			src:  "name: \"\"\n",
			want: `t.yaml:1: key "name" must not be empty; ` + fix,
		},
		{
			name: "null template name",
			src:  "name:\nstep_templates: []\n",
			want: `t.yaml:1: key "name" must not be empty; name the task`,
		},
		{
			name: "namespace starting with a dash",
			src:  "name: t\nnamespace_name: -shop\n",
			want: `t.yaml:2: namespace_name "-shop" is not a valid name; ` + fix,
		},
		{
			name: "empty step name",
			src: `
				name: t
				step_templates:
				  - name: " "
				    handler: h
			`,
			want: `t.yaml:3: step_templates item 1 has an empty name; give every step a unique name`,
		},
	})
}

func TestParseRejectsBadVersions(t *testing.T) {
	t.Parallel()
	runRejections(t, []rejection{
		{
			name: "two parts",
			src:  "name: t\nversion: 1.0\n",
			want: `t.yaml:2: version "1.0" is not semantic versioning; use MAJOR.MINOR.PATCH such as "1.0.0"`,
		},
		{
			name: "leading v",
			src:  "name: t\nversion: v1.2.3\n",
			want: `t.yaml:2: version "v1.2.3" is not semantic versioning; drop the leading "v": "1.2.3"`,
		},
		{
			name: "leading zero",
			src:  "name: t\nversion: 01.2.3\n",
			want: `t.yaml:2: version "01.2.3" is not semantic versioning; use MAJOR.MINOR.PATCH such as "1.0.0"`,
		},
	})
	for _, v := range []string{"0.0.0", "1.2.3", "10.20.30-alpha.1", "1.0.0+20130313144700", "1.0.0-beta+exp.sha.5114f85"} {
		got, err := parse("name: t\nversion: "+v+"\n", tmplfile.Options{})
		require.NoError(t, err, v)
		require.Equal(t, v, got.Version)
	}
}

func TestParseRejectsOutOfRangeValues(t *testing.T) {
	t.Parallel()
	step := func(extra string) string {
		return "name: t\nstep_templates:\n  - name: a\n    handler: h\n    " + extra + "\n"
	}
	runRejections(t, []rejection{
		{
			name: "retry limit",
			src:  step("default_retry_limit: 0"),
			want: `t.yaml:5: step "a": default_retry_limit must be at least 1, got 0; it counts every attempt, the first included: 1 means no retry`,
		},
		{
			name: "zero timeout",
			src:  step("timeout: 0s"),
			want: `t.yaml:5: step "a": timeout must be positive, got 0s; use a duration such as "30s" or "5m"`,
		},
		{
			name: "negative timeout in seconds",
			src:  step("timeout: -5"),
			want: `t.yaml:5: step "a": timeout must be positive, got -5s; use a duration such as "30s" or "5m"`,
		},
		{
			name: "backoff base",
			src:  step("backoff: {base: -1s}"),
			want: `t.yaml:5: step "a": backoff.base must be positive, got -1s; use a duration such as "30s" or "5m"`,
		},
		{
			name: "backoff max_requested",
			src:  step("backoff: {max_requested: 0}"),
			want: `t.yaml:5: step "a": backoff.max_requested must be positive, got 0s; use a duration such as "30s" or "5m"`,
		},
		{
			name: "jitter",
			src:  step("backoff: {jitter: 1.5}"),
			want: `t.yaml:5: step "a": backoff.jitter must be between 0 and 1, got 1.5; 0.1 spreads delays by ±10 %`,
		},
		{
			name: "max below base",
			src:  step("backoff: {base: 1m, max: 10s}"),
			want: `t.yaml:5: step "a": backoff.max (10s) is less than backoff.base (1m0s); raise max or lower base`,
		},
		{
			name: "identity strategy",
			src:  "name: t\nidentity_strategy: custom\n",
			want: `t.yaml:2: identity_strategy "custom" is not supported; use "default" or "hash"`,
		},
	})
}

// Templates whose parts contradict each other: two names for one handler,
// one name for two steps or keys, an incomplete named_steps, a schema that
// is not one.
func TestParseRejectsInconsistentTemplates(t *testing.T) {
	t.Parallel()
	runRejections(t, []rejection{
		{
			name: "handler and handler_class differ",
			src: `
				name: t
				step_templates:
				  - name: a
				    handler: http
				    handler_class: Api::Fetch
			`,
			want: `t.yaml:5: step "a": handler "http" and handler_class "Api::Fetch" differ; keep only one of them (handler_class is an alias of handler)`,
		},
		{
			name: "duplicate step name",
			src: `
				name: t
				step_templates:
				  - name: fetch
				    handler: h
				  - name: other
				    handler: h
				  - name: fetch
				    handler: h
			`,
			want: `t.yaml:7: step "fetch": duplicate step name "fetch" (lines 3 and 7); give each step a unique name`,
		},
		{
			name: "duplicate key",
			src: `
				name: t
				step_templates:
				  - name: a
				    handler: h
				    handler: g
			`,
			want: `t.yaml:5: key "handler" appears twice (lines 4 and 5); remove one of them`,
		},
		{
			name: "named_steps",
			src: `
				name: t
				named_steps: [a]
				step_templates:
				  - {name: a, handler: h}
				  - {name: b, handler: h}
				  - {name: c, handler: h}
			`,
			want: `t.yaml:2: named_steps does not list steps "b", "c"; add them to named_steps, or remove named_steps`,
		},
		{
			name: "schema",
			src: `
				name: t
				schema:
				  type: object
				  properties:
				    order_id: {type: integer, minimum: one}
			`,
			want: `t.yaml:2: schema is not a valid JSON Schema: invalid JSON Schema: at /properties/order_id/minimum: type: got string, want number`,
		},
	})
}

func TestParseRejectsBadCustomEventNames(t *testing.T) {
	t.Parallel()
	const fix = `use lowercase letters, digits and "_" in dot-separated parts, such as "order.fulfilled"`
	for _, name := range []string{"fulfilled", "Order.Fulfilled", "order.", ".order", "order fulfilled.x"} {
		runRejections(t, []rejection{{
			name: name,
			src:  "name: t\nstep_templates:\n  - name: a\n    handler: h\n    custom_events: [{name: \"" + name + "\"}]\n",
			want: `t.yaml:5: step "a": custom event name "` + name + `" is not namespaced; ` + fix,
		}})
	}
}

func TestParseRejectsUnknownOverrideStep(t *testing.T) {
	t.Parallel()
	src := `
		name: t
		step_templates:
		  - {name: fetch_cart, handler: h}
		  - {name: publish, handler: h}
		environments:
		  production:
		    step_templates:
		      - name: fetch_card
		        handler_config: {url: x}
		      - name: totally_different
	`
	want := `t.yaml:8: step "fetch_card": environment "production" overrides unknown step "fetch_card"; did you mean "fetch_cart"?` + "\n" +
		`t.yaml:10: step "totally_different": environment "production" overrides unknown step "totally_different"; the steps are "fetch_cart", "publish"`
	runRejections(t, []rejection{
		{name: "selected", src: src, opts: tmplfile.Options{Env: "production"}, want: want},
		{name: "not selected", src: src, want: want},
	})
}

func TestParseRejectsBadVariables(t *testing.T) {
	t.Parallel()
	runRejections(t, []rejection{
		{
			name: "unset",
			src: `
				name: t
				step_templates:
				  - name: a
				    handler: h
				    description: ${API_HANDLER}
			`,
			want: `t.yaml:5: step "a": environment variable API_HANDLER is not set; set API_HANDLER or write ${API_HANDLER:-default}`,
		},
		{
			name: "malformed in handler_config",
			src: `
				name: t
				step_templates:
				  - name: a
				    handler: h
				    handler_config: {token: "${API TOKEN}"}
			`,
			want: `t.yaml:5: step "a": malformed variable reference "${API TOKEN}"; write ${NAME} or ${NAME:-default} (NAME: letters, digits and "_"), or $${ for a literal "${"`,
		},
		{
			name: "unclosed",
			src:  "name: t\ndescription: ${HOST\n",
			want: `t.yaml:2: malformed variable reference "${HOST"; write ${NAME} or ${NAME:-default} (NAME: letters, digits and "_"), or $${ for a literal "${"`,
		},
		{
			name: "shell default without colon",
			src:  "name: t\ndescription: ${HOST-x}\n",
			want: `t.yaml:2: malformed variable reference "${HOST-x}"; write ${NAME} or ${NAME:-default} (NAME: letters, digits and "_"), or $${ for a literal "${"`,
		},
	})
}

// A handler_config reference to a variable the loading process does not
// have is a warning, not an error: the step reads it when it runs, and the
// worker that runs it (tasker worker) may have an environment the server
// (tasker serve) does not.
func TestParseWarnsOfUnsetHandlerConfigVariables(t *testing.T) {
	t.Parallel()
	got, err := parse(`
		name: t
		step_templates:
		  - name: a
		    handler: h
		    handler_config:
		      headers: {X-Api-Key: "${API_TOKEN}"}
		      url: "${BASE:-http://localhost}/x"
	`, tmplfile.Options{})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"X-Api-Key": "${API_TOKEN}"}, got.Steps[0].HandlerConfig["headers"])
	require.Len(t, got.Warnings, 1)
	w := got.Warnings[0]
	require.Equal(t, "t.yaml", w.File)
	require.Equal(t, 6, w.Line)
	require.Equal(t, "a", w.Step)
	require.Contains(t, w.Error(), "environment variable API_TOKEN is not set")
	require.Contains(t, w.Error(), "every worker that runs this step")
}

func TestParseRejectsMalformedFiles(t *testing.T) {
	t.Parallel()
	runRejections(t, []rejection{
		{name: "empty", src: "", want: `t.yaml: the file is empty; a template needs at least name and step_templates`},
		{name: "only a comment", src: "# nothing\n", want: `t.yaml: the file is empty; a template needs at least name and step_templates`},
		{name: "list", src: "- name: t\n", want: `t.yaml:1: a template must be a YAML mapping, got a list`},
		{
			name: "syntax",
			src:  "name: t\nstep_templates:\n  - name: a\n   handler: h\n",
			want: `t.yaml:2: invalid YAML: did not find expected '-' indicator; check the indentation and quoting`,
		},
		{
			name: "two documents",
			src:  "name: t\n---\nname: u\n",
			want: `t.yaml:2: the file holds more than one YAML document; keep one template per file`,
		},
	})
}

func TestParseReportsEveryProblemInLineOrder(t *testing.T) {
	t.Parallel()
	_, err := parse(`
		version: "2"
		step_templates:
		  - name: a
		    handler: h
		    default_retry_limit: 0
		  - name: b
		    depends_on: a
		namespace_name: "a b"
	`, tmplfile.Options{})
	require.EqualError(t, err, strings.Join([]string{
		`t.yaml:1: version "2" is not semantic versioning; use MAJOR.MINOR.PATCH such as "1.0.0"`,
		`t.yaml:1: missing required key "name"; name the task, such as name: process_order`,
		`t.yaml:5: step "a": default_retry_limit must be at least 1, got 0; it counts every attempt, the first included: 1 means no retry`,
		`t.yaml:6: step "b": missing required key "handler"; set handler to the name of a registered handler (handler_class is accepted as an alias)`,
		`t.yaml:7: step "b": unknown key "depends_on"; did you mean "depends_on_step"?`,
		`t.yaml:8: namespace_name "a b" is not a valid name; use letters, digits, "_", "." and "-", starting with a letter, digit or "_"`,
	}, "\n"))
	errs := tmplfile.Errors(err)
	require.Len(t, errs, 6)
	require.Equal(t, &tmplfile.Error{
		File: "t.yaml", Line: 7, Step: "b", Field: "depends_on",
		Problem: `unknown key "depends_on"`, Fix: `did you mean "depends_on_step"?`,
	}, errs[4])
}

func TestParseLimitsAliasExpansion(t *testing.T) {
	t.Parallel()
	var sb strings.Builder
	sb.WriteString("name: t\nstep_templates:\n  - name: a\n    handler: h\n    handler_config:\n")
	sb.WriteString("      l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		sb.WriteString("      l" + string(rune('0'+i)) + ": &l" + string(rune('0'+i)) + " [")
		for j := range 10 {
			if j > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("*l" + string(rune('0'+i-1)))
		}
		sb.WriteString("]\n")
	}
	_, err := parse(sb.String(), tmplfile.Options{})
	require.Error(t, err)
	require.Contains(t, err.Error(), "document expands to too many values through aliases")
}

func TestErrorFormat(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  tmplfile.Error
		want string
	}{
		{tmplfile.Error{File: "examples/diamond.yaml", Line: 14, Step: "merge", Problem: `unknown key "depends_on"`, Fix: `did you mean "depends_on_step"?`},
			`examples/diamond.yaml:14: step "merge": unknown key "depends_on"; did you mean "depends_on_step"?`},
		{tmplfile.Error{File: "a.yaml", Problem: "the file is empty"}, `a.yaml: the file is empty`},
		{tmplfile.Error{Line: 3, Problem: "p", Fix: "f"}, `<input>:3: p; f`},
	} {
		require.Equal(t, tc.want, tc.err.Error())
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	a := &tmplfile.Error{Problem: "a"}
	b := &tmplfile.Error{Problem: "b"}
	require.Nil(t, tmplfile.Errors(nil))
	require.Equal(t, []*tmplfile.Error{a}, tmplfile.Errors(a))
	require.Equal(t, []*tmplfile.Error{a, b}, tmplfile.Errors(errors.Join(a, errors.Join(b, errors.New("other")))))
}

func TestStepDependencies(t *testing.T) {
	t.Parallel()
	require.Nil(t, tmplfile.Step{}.Dependencies())
	require.Equal(t, []string{"a", "b", "c"},
		tmplfile.Step{DependsOnStep: "a", DependsOnSteps: []string{"b", "a", "c", "b"}}.Dependencies())
	require.Equal(t, []string{"b"}, tmplfile.Step{DependsOnSteps: []string{"b"}}.Dependencies())
}

func TestParseSchedules(t *testing.T) {
	t.Parallel()
	doc := `name: report
step_templates:
  - name: build
    handler: h
schedules:
  - name: nightly
    cron: "30 2 * * *"
    time_zone: Europe/Paris
    context: {region: eu}
    overlap: skip
    catch_up: all
    catch_up_limit: 5
  - name: ticker
    cron: "@every 10s"
`
	tmpl, err := tmplfile.Parse("t.yaml", []byte(doc), tmplfile.Options{})
	require.NoError(t, err)
	require.Equal(t, []tmplfile.Schedule{
		{Name: "nightly", Cron: "30 2 * * *", TimeZone: "Europe/Paris", Context: map[string]any{"region": "eu"}, Overlap: "skip", CatchUp: "all", CatchUpLimit: 5, Line: 6},
		{Name: "ticker", Cron: "@every 10s", Line: 13},
	}, tmpl.Schedules)

	for bad, want := range map[string]string{
		"schedules: {name: x}":                                               `key "schedules" must be a list`,
		"schedules: [{cron: '@daily'}]":                                      `missing required key "name"`,
		"schedules: [{name: x}]":                                             `missing required key "cron"`,
		"schedules: [{name: x, cron: '61 * * * *'}]":                         `minute field`,
		"schedules: [{name: x, cron: '@daily', time_zone: Mars}]":            `not an IANA time zone`,
		"schedules: [{name: x, cron: '@daily', overlap: queue}]":             `overlap "queue" is not a policy`,
		"schedules: [{name: x, cron: '@daily', catch_up: some}]":             `catch_up "some" is not a policy`,
		"schedules: [{name: x, cron: '@daily', catch_up_limit: 0}]":          `catch_up_limit 0 is out of range`,
		"schedules: [{name: x, cron: '@daily', every: 1}]":                   `unknown key "every"`,
		"schedules: [{name: 'a b', cron: '@daily'}]":                         `schedule name "a b" is not valid`,
		"schedules: [{name: x, cron: '@daily'}, {name: x, cron: '@hourly'}]": `duplicate schedule name "x"`,
	} {
		_, err := tmplfile.Parse("t.yaml", []byte("name: report\nstep_templates: [{name: build, handler: h}]\n"+bad+"\n"), tmplfile.Options{})
		require.ErrorContains(t, err, want, bad)
	}
}
