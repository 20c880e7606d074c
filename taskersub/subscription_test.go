package taskersub_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskersub"
)

func TestLoadSubscriptions(t *testing.T) {
	t.Setenv("HOOK_SECRET", "abc")
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "subs.yaml")
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	subs, err := taskersub.Load(write(`subscriptions:
  - name: ops
    type: webhook
    events: ["task.failed"]
    config: {url: "https://ops.example.com/hook", secret: "${HOOK_SECRET}", timeout: 5s, max_attempts: 3}
  - name: audit
    type: log
    enabled: false
`))
	require.NoError(t, err)
	require.Len(t, subs, 2)
	require.Equal(t, "abc", subs[0].Config["secret"])
	for body, want := range map[string]string{
		"subscriptions:\n  - {name: a, type: smtp}\n":                                         `type "smtp" is unknown: use log, webhook or nats`,
		"subscriptions:\n  - {type: log}\n":                                                   `subscription #1: name is missing`,
		"subscriptions:\n  - {name: a, type: log}\n  - {name: a, type: log}\n":                `subscription "a" is declared twice`,
		"subscriptions:\n  - {name: a, type: webhook, config: {url: ftp://x}}\n":              `config.url must be an http(s) URL`,
		"subscriptions:\n  - {name: a, type: webhook, config: {url: http://x, retries: 3}}\n": `config.retries is unknown`,
		"subscriptions:\n  - {name: a, type: log, events: [\"[\"]}\n":                         `event pattern "[" is malformed`,
		"subscriptions:\n  - {name: a, type: log, colour: red}\n":                             `field colour not found`,
		"subscriptions:\n  a: {type: log, colour: red}\n":                                     `field colour not found`,
		"subscriptions:\n  a: {name: b, type: log}\n":                                         `subscription "a" has name "b": leave the name out`,
		"subscriptions:\n  a: [log]\n":                                                        `subscription "a" is not a map of its settings`,
		"subscriptions:\n  a: {type: smtp}\n":                                                 `subscription "a": type "smtp" is unknown`,
	} {
		_, err := taskersub.Load(write(body))
		require.ErrorContains(t, err, want, body)
	}
}

// The original Tasker's shape, a map keyed by name, loads as the list does,
// in file order.
func TestLoadSubscriptionsMap(t *testing.T) {
	t.Setenv("HOOK_SECRET", "abc")
	p := filepath.Join(t.TempDir(), "subs.yaml")
	require.NoError(t, os.WriteFile(p, []byte(`subscriptions:
  ops:
    type: webhook
    events: ["task.failed"]
    config: {url: "https://ops.example.com/hook", secret: "${HOOK_SECRET}", timeout: 5s, max_attempts: 3}
  audit:
    name: audit
    type: log
    enabled: false
`), 0o600))
	subs, err := taskersub.Load(p)
	require.NoError(t, err)
	require.Len(t, subs, 2)
	require.Equal(t, "ops", subs[0].Name)
	require.Equal(t, "webhook", subs[0].Type)
	require.Equal(t, []string{"task.failed"}, subs[0].Events)
	require.Equal(t, "abc", subs[0].Config["secret"])
	require.Equal(t, "audit", subs[1].Name)
	require.False(t, *subs[1].Enabled)
}

// Without the taskernats package, a nats subscription is refused with the
// import that provides it (this test binary does not link it).
func TestNATSNeedsItsPackage(t *testing.T) {
	err := taskersub.Validate([]taskersub.Subscription{{Name: "bus", Type: "nats"}})
	require.ErrorContains(t, err, `subscription "bus": type "nats" needs the NATS sender`)
	require.ErrorContains(t, err, `import _ "github.com/tasker-go/tasker/taskersub/taskernats"`)
}

func TestRegisterType(t *testing.T) {
	require.Panics(t, func() { taskersub.RegisterType("webhook", nil) })
	require.Panics(t, func() {
		taskersub.RegisterType("log", func(map[string]any) (taskersub.Target, error) { return taskersub.Target{}, nil })
	})
	taskersub.RegisterType("test-sink", func(cfg map[string]any) (taskersub.Target, error) {
		t := taskersub.Target{}
		return t, taskersub.ConfigLimits(cfg, &t)
	})
	require.NoError(t, taskersub.Validate([]taskersub.Subscription{{Name: "s", Type: "test-sink", Config: map[string]any{"max_attempts": 2}}}))
	require.ErrorContains(t, taskersub.Validate([]taskersub.Subscription{{Name: "s", Type: "test-sink", Config: map[string]any{"max_attempts": 0}}}),
		"config.max_attempts must be a whole number")
}

func TestMatchEvent(t *testing.T) {
	for _, c := range []struct {
		patterns []string
		name     string
		want     bool
	}{
		{nil, "task.completed", true},
		{[]string{"*"}, "step.failed", true},
		{[]string{"task.*"}, "task.completed", true},
		{[]string{"task.*"}, "step.completed", false},
		{[]string{"step.failed", "task.blocked"}, "task.blocked", true},
		{[]string{"step.failed"}, "step.failed_again", false},
		{[]string{"["}, "[", false}, // a malformed pattern matches nothing
	} {
		require.Equal(t, c.want, taskersub.MatchEvent(c.patterns, c.name), "%v %q", c.patterns, c.name)
		require.Equal(t, c.want, taskersub.Subscription{Events: c.patterns}.Matches(c.name), "%v %q", c.patterns, c.name)
	}
}
