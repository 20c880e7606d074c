package tasker_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskerdriver"
)

const chargeYAML = `# a comment that does not count
name: charge
namespace_name: billing
version: 1.0.0
description: Charge a card
schema:
  type: object
  required: [amount]
  properties:
    amount: {type: integer, minimum: 1}
step_templates:
  - name: authorize
    handler: test
    handler_config:
      token: ${TMPLDB_SECRET_TOKEN}
      url: https://pay.example/authorize
  - name: capture
    handler: test
    depends_on_step: authorize
    default_retry_limit: 3
`

// The same template written differently: keys reordered, defaults
// spelled out, other spacing and comments.
const chargeYAMLReformatted = `version: "1.0.0"
namespace_name: billing
name: charge
description: "Charge a card"
step_templates:
  - handler: test
    name: authorize
    default_retryable: true
    handler_config: {url: "https://pay.example/authorize", token: "${TMPLDB_SECRET_TOKEN}"}
  - {name: capture, handler: test, depends_on_steps: [authorize]}
schema: {type: object, properties: {amount: {minimum: 1, type: integer}}, required: [amount]}
`

// A changed template under the same version.
var chargeYAMLChanged = strings.Replace(chargeYAML, "default_retry_limit: 3", "default_retry_limit: 5", 1)

// secretEnv is the environment of the workers: the secret the templates
// refer to.
func secretEnv(name string) (string, bool) {
	if name == "TMPLDB_SECRET_TOKEN" {
		return "s3cr3t-value", true
	}
	return "", false
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

// newTemplateClient returns a client on d whose registry has the handler
// "test" (h) and the YAML files given, registered under the worker id.
func newTemplateClient(t *testing.T, d taskerdriver.Driver, id string, h tasker.StepHandler, files ...string) *tasker.Client {
	t.Helper()
	reg := tasker.NewRegistry()
	if h != nil {
		require.NoError(t, reg.RegisterHandler("test", h, false))
	}
	for _, f := range files {
		_, err := reg.LoadFile(f, tasker.LoadOptions{RegisterOptions: tasker.RegisterOptions{AllowUnknownHandlers: h == nil},
			LookupEnv: secretEnv, Warn: func(*tasker.TemplateError) {}})
		require.NoError(t, err)
	}
	c, err := tasker.NewClient(t.Context(), d, &tasker.Config{Registry: reg, Logger: slog.New(slog.DiscardHandler),
		Worker: tasker.WorkerConfig{ID: id, Concurrency: 4, LookupEnv: secretEnv}})
	require.NoError(t, err)
	return c
}

// Registering is idempotent for the same content however it is written;
// other content of the same version is refused naming both sources, and
// replaced only when asked; the secret a handler_config refers to is never
// stored.
func TestRegisterTemplates(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := t.Context()
		d := openTestDriver(t)
		dir := t.TempDir()
		a := newTemplateClient(t, d, "host-a-1", newFailer(), writeFile(t, dir, "charge.yaml", chargeYAML))

		regs, err := a.RegisterTemplates(ctx, nil)
		require.NoError(t, err)
		require.Len(t, regs, 1)
		require.Equal(t, "created", regs[0].Outcome)
		require.Equal(t, "worker host-a-1", regs[0].Template.RegisteredBy)
		require.Equal(t, filepath.Join(dir, "charge.yaml"), regs[0].Template.Source)
		regs, err = a.RegisterTemplates(ctx, nil)
		require.NoError(t, err)
		require.Equal(t, "unchanged", regs[0].Outcome)

		stored, err := d.Executor().TemplateGet(ctx, &taskerdriver.TemplateGetParams{Namespace: "billing", Name: "charge", Version: "1.0.0"})
		require.NoError(t, err)
		require.Contains(t, string(stored.Definition), `"token":"${TMPLDB_SECRET_TOKEN}"`, "the reference as written")
		require.NotContains(t, string(stored.Definition), "s3cr3t-value", "never the secret")

		// The same template, written otherwise, by another worker: unchanged.
		b := newTemplateClient(t, d, "host-b-2", newFailer(), writeFile(t, t.TempDir(), "charge.yaml", chargeYAMLReformatted))
		regs, err = b.RegisterTemplates(ctx, nil)
		require.NoError(t, err)
		require.Equal(t, "unchanged", regs[0].Outcome)
		require.Equal(t, stored.Hash, regs[0].Template.Hash)

		// Other content under the same version: refused, naming both.
		otherDir := t.TempDir()
		c := newTemplateClient(t, d, "host-c-3", newFailer(), writeFile(t, otherDir, "charge.yaml", chargeYAMLChanged))
		_, err = c.RegisterTemplates(ctx, nil)
		require.ErrorIs(t, err, tasker.ErrTemplateConflict)
		var ce *tasker.TemplateConflictError
		require.ErrorAs(t, err, &ce)
		require.Equal(t, "billing.charge@1.0.0", ce.Template)
		require.Equal(t, "worker host-a-1", ce.Registered.RegisteredBy)
		msg := err.Error()
		for _, want := range []string{"billing.charge@1.0.0", filepath.Join(dir, "charge.yaml") + " registered by worker host-a-1",
			filepath.Join(otherDir, "charge.yaml") + " registered by worker host-c-3", "bump the version in " + filepath.Join(otherDir, "charge.yaml"),
			"--replace"} {
			require.Contains(t, msg, want)
		}
		require.ErrorContains(t, c.Start(ctx), "is already registered with other content", "a worker with other content does not start")

		// Replace is explicit.
		regs, err = c.RegisterTemplates(ctx, &tasker.RegisterTemplatesOptions{Replace: true, RegisteredBy: "ops"})
		require.NoError(t, err)
		require.Equal(t, "replaced", regs[0].Outcome)
		list, err := a.Templates(ctx)
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, "ops", list[0].RegisteredBy)
		require.NotEqual(t, stored.Hash, list[0].Hash)
		require.Nil(t, list[0].Definition)
	})
}

// A worker's Start registers its templates; a process without the files
// (and without the handler) then lists, draws, validates and creates tasks
// of them, and the worker runs them.
func TestRegisteredTemplateWithoutFiles(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := t.Context()
		d := openTestDriver(t)
		h := newFailer()
		worker := newTemplateClient(t, d, "worker-1", h, writeFile(t, t.TempDir(), "charge.yaml", chargeYAML))
		require.NoError(t, worker.Start(ctx))
		t.Cleanup(func() { require.NoError(t, worker.Stop(t.Context())) })

		api := newTemplateClient(t, d, "api-1", nil)
		require.Empty(t, api.Registry().Namespaces(), "the API process has no file")
		list, err := api.Templates(ctx)
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, "billing", list[0].Namespace)

		tmpl, err := api.Template(ctx, "billing", "charge", "")
		require.NoError(t, err)
		require.Equal(t, "billing.charge@1.0.0", tmpl.FullName())
		require.Len(t, tmpl.Steps, 2)
		require.Equal(t, "${TMPLDB_SECRET_TOKEN}", tmpl.Steps[0].HandlerConfig["token"])
		require.Contains(t, tmpl.Mermaid(), "authorize --> capture")

		cat, err := api.TemplateCatalog(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"billing"}, cat.Namespaces())
		require.Equal(t, []string{"1.0.0"}, cat.Versions("billing", "charge"))

		// Validation by the stored schema.
		_, err = api.CreateTask(ctx, &tasker.TaskRequest{Namespace: "billing", Name: "charge", Context: map[string]any{"amount": 0}})
		var ve *tasker.ValidationError
		require.ErrorAs(t, err, &ve)
		_, err = api.CreateTask(ctx, &tasker.TaskRequest{Namespace: "billing", Name: "nope"})
		require.ErrorIs(t, err, tasker.ErrNotFound)

		// Schedules of it too, validated by the stored schema.
		s, err := api.CreateSchedule(ctx, &tasker.ScheduleRequest{Name: "daily_charge", Namespace: "billing", TaskName: "charge",
			Cron: "@daily", Context: map[string]any{"amount": 5}})
		require.NoError(t, err)
		require.Equal(t, "charge", s.TaskName)
		_, err = api.CreateSchedule(ctx, &tasker.ScheduleRequest{Name: "bad_charge", Namespace: "billing", TaskName: "charge",
			Cron: "@daily", Context: map[string]any{"amount": 0}})
		require.ErrorAs(t, err, &ve)
		require.Contains(t, ve.Fields["context"], "does not match the schema of billing.charge@1.0.0")
		require.NoError(t, api.DeleteSchedule(ctx, "daily_charge"))

		res, err := api.CreateTask(ctx, &tasker.TaskRequest{Namespace: "billing", Name: "charge", Context: map[string]any{"amount": 5}})
		require.NoError(t, err)
		done, err := api.WaitTask(ctx, res.Task.ID)
		require.NoError(t, err)
		require.Equal(t, tasker.StateComplete, done.State)
		require.Equal(t, 1, h.Calls("authorize"))
		require.Equal(t, 1, h.Calls("capture"))
	})
}

// Many workers starting at once register the same templates: every start
// succeeds and one registration is created.
func TestRegisterTemplatesConcurrently(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := t.Context()
		d := openTestDriver(t)
		dir := t.TempDir()
		file := writeFile(t, dir, "charge.yaml", chargeYAML)
		const n = 8
		clients := make([]*tasker.Client, n)
		for i := range n {
			clients[i] = newTemplateClient(t, d, fmt.Sprintf("w-%d", i), newFailer(), file)
		}
		var wg sync.WaitGroup
		outcomes := make([]string, n)
		errs := make([]error, n)
		for i, c := range clients {
			wg.Go(func() {
				regs, err := c.RegisterTemplates(ctx, nil)
				errs[i] = err
				if err == nil {
					outcomes[i] = regs[0].Outcome
				}
			})
		}
		wg.Wait()
		created := 0
		for i := range n {
			require.NoError(t, errs[i])
			if outcomes[i] == "created" {
				created++
			} else {
				require.Equal(t, "unchanged", outcomes[i])
			}
		}
		require.Equal(t, 1, created)
	})
}

// The canonical form of every example template reads back into the same
// template: the stored form is stable, so a template read from the
// database and registered again is unchanged.
func TestCanonicalRoundTrip(t *testing.T) {
	t.Parallel()
	reg := tasker.NewRegistry()
	require.NoError(t, reg.LoadDir("examples", tasker.LoadOptions{RegisterOptions: tasker.RegisterOptions{AllowUnknownHandlers: true},
		LookupEnv: func(string) (string, bool) { return "", false }, Warn: func(*tasker.TemplateError) {}}))
	go1 := &tasker.TaskTemplate{Name: "go", Steps: []tasker.StepTemplate{{Name: "a", Handler: "h",
		HandlerConfig: map[string]any{"n": 3, "m": map[string]string{"k": "v"}}, Timeout: 90e9,
		Backoff: &tasker.Backoff{Base: 1e9, Jitter: new(0.2)}, CustomEvents: []tasker.CustomEvent{{Name: "order.done"}}}}}
	require.NoError(t, reg.RegisterTemplate(go1, tasker.RegisterOptions{AllowUnknownHandlers: true}))
	ts := reg.Templates("")
	require.Greater(t, len(ts), 5)
	for _, tm := range ts {
		data, hash, err := tasker.CanonicalOf(tm)
		require.NoError(t, err, tm.FullName())
		require.True(t, json.Valid(data))
		back, err := tasker.ParseCanonical(data)
		require.NoError(t, err, "%s: %s", tm.FullName(), data)
		data2, hash2, err := tasker.CanonicalOf(back)
		require.NoError(t, err)
		require.Equal(t, string(data), string(data2), tm.FullName())
		require.Equal(t, hash, hash2)
	}
}
