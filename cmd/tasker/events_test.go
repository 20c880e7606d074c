package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata")

// The catalog of the examples (which declare no custom events) is the
// system catalog; its text form is kept in testdata/events_catalog.golden
// (go test ./cmd/tasker -run TestEventsCatalogGolden -update rewrites it).
func TestEventsCatalogGolden(t *testing.T) {
	t.Parallel()
	out := mustRun(t, "events", "catalog", "--templates", filepath.Join("..", "..", "examples"))
	golden := filepath.Join("testdata", "events_catalog.golden")
	if *updateGolden {
		require.NoError(t, os.WriteFile(golden, []byte(out), 0o600))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run with -update to create the golden file")
	require.Equal(t, string(want), out, "run with -update to accept the new output")
	require.Equal(t, len(tasker.SystemEvents())+2, len(strings.Split(strings.TrimSpace(out), "\n")), "header, one line per system event, count")
	require.True(t, strings.HasPrefix(out, "NAME "), out)
	require.Contains(t, out, "FIRED BY")
}

// customEventsDir writes a template whose step declares a custom event.
func customEventsDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	tmpl := `name: ship_order
namespace_name: shop
version: 1.0.0
step_templates:
  - name: pack
    handler: exec
    handler_config: {command: ["true"]}
  - name: ship
    depends_on_step: pack
    handler: exec
    handler_config: {command: ["true"]}
    custom_events:
      - name: order.fulfilled
        description: The order left the warehouse
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ship_order.yaml"), []byte(tmpl), 0o600))
	return dir
}

func TestEventsCatalogCustomEvents(t *testing.T) {
	t.Parallel()
	dir := customEventsDir(t)

	out := mustRun(t, "events", "catalog", "--templates", dir)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, len(tasker.SystemEvents())+3, out)
	require.Equal(t, fmt.Sprintf("%d events", len(tasker.SystemEvents())+1), lines[len(lines)-1])
	var custom string
	for _, l := range lines {
		if strings.HasPrefix(l, "order.fulfilled ") {
			custom = l
		}
	}
	require.NotEmpty(t, custom, out)
	require.Equal(t, []string{"order.fulfilled", "custom", "step", "handlers", "(StepContext.Publish)", "The", "order", "left", "the", "warehouse"}, strings.Fields(custom))
	// Sorted by name: order.fulfilled comes before the step.* events.
	require.True(t, strings.HasPrefix(lines[1], "order.fulfilled "), out)

	// --namespace keeps the namespace's custom events and no system event.
	out = mustRun(t, "events", "catalog", "--templates", dir, "--namespace", "shop")
	lines = strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3, out)
	require.True(t, strings.HasPrefix(lines[1], "order.fulfilled "), out)
	require.Equal(t, "1 events", lines[2])
	out = mustRun(t, "events", "catalog", "--templates", dir, "--namespace", "default")
	require.Equal(t, "0 events", strings.Split(strings.TrimSpace(out), "\n")[1], out)

	// --search matches names and descriptions, case-insensitively.
	out = mustRun(t, "events", "catalog", "--templates", dir, "--search", "WAREHOUSE")
	require.Contains(t, out, "order.fulfilled")
	require.Contains(t, out, "\n1 events\n")
	out = mustRun(t, "events", "catalog", "--templates", dir, "--search", "task.")
	require.NotContains(t, out, "order.fulfilled")
	require.NotContains(t, out, "step.failed")
	require.Contains(t, out, "task.completed")
	tasks := 0
	for _, e := range tasker.SystemEvents() {
		if strings.Contains(e.Name, "task.") || strings.Contains(strings.ToLower(e.Description), "task.") {
			tasks++
		}
	}
	require.Contains(t, out, fmt.Sprintf("\n%d events\n", tasks))
	out = mustRun(t, "events", "catalog", "--templates", dir, "--search", "Worker Was Lost")
	require.Contains(t, out, "step.failed", "a description match")
	out = mustRun(t, "events", "catalog", "--templates", dir, "--search", "fulfilled", "--namespace", "shop")
	require.Contains(t, out, "\n1 events\n")

	// --json prints an array of EventSpec.
	out = mustRun(t, "events", "catalog", "--templates", dir, "--json")
	var specs []tasker.EventSpec
	require.NoError(t, json.Unmarshal([]byte(out), &specs), out)
	require.Len(t, specs, len(tasker.SystemEvents())+1)
	var found bool
	for i, s := range specs {
		if i > 0 {
			require.Less(t, specs[i-1].Name, s.Name, "sorted by name")
		}
		require.NotEmpty(t, s.PayloadSchema, s.Name)
		require.NotEmpty(t, s.Example, s.Name)
		if s.Name == "order.fulfilled" {
			found = true
			require.True(t, s.Custom)
			require.Equal(t, "custom", s.Category)
			require.Equal(t, "shop", s.Namespace)
			require.Equal(t, "The order left the warehouse", s.Description)
			require.Equal(t, []string{"shop.ship_order@1.0.0/ship"}, s.DeclaredBy)
		} else {
			require.False(t, s.Custom, s.Name)
		}
	}
	require.True(t, found, out)
	out = mustRun(t, "events", "catalog", "--templates", dir, "--json", "--namespace", "nowhere")
	require.JSONEq(t, "[]", out)
}

func TestEventsCatalogErrors(t *testing.T) {
	t.Parallel()
	// Without templates only the system events are listed.
	out := mustRun(t, "events", "catalog")
	require.Contains(t, out, fmt.Sprintf("\n%d events\n", len(tasker.SystemEvents())))
	missing := filepath.Join(t.TempDir(), "missing")
	_, _, err := run(t, "events", "catalog", "--templates", missing)
	require.EqualError(t, err, "--templates "+missing+": no such directory or file [$TASKER_TEMPLATES, config templates]")
	_, _, err = run(t, "events", "catalog", "extra")
	require.Error(t, err)
}

// Dead letters are listed and replayed from the CLI; a subscriptions file
// is validated when the client opens.
func TestEventsDeadLettersAndReplay(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := "sqlite://" + filepath.Join(dir, "x.db")
	subs := filepath.Join(dir, "subs.yaml")
	require.NoError(t, os.WriteFile(subs, []byte(`subscriptions:
  - name: ops
    type: webhook
    config: {url: "http://127.0.0.1:1/unreachable", max_attempts: 1, timeout: 1s}
`), 0o600))
	run := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		root := newRoot(&out, &errOut)
		root.SetArgs(append([]string{"--database", db, "--templates", "../../examples", "--subscriptions", subs}, args...))
		err := root.ExecuteContext(context.Background())
		return out.String(), err
	}
	_, err := run("task", "create", "diamond_workflow", "--wait")
	require.NoError(t, err)
	// The deliverer started with the --wait worker makes its first pass at
	// once: task.initialize_requested (written at creation) failed its only
	// attempt against the unreachable receiver and is dead.
	out, err := run("events", "dead-letters")
	require.NoError(t, err)
	require.NotContains(t, out, "\n0 dead letters")
	require.Contains(t, out, "ops")
	require.Contains(t, out, "task.initialize_requested")
	_, err = run("events", "replay", "999")
	require.EqualError(t, err, "id 999 is not a dead letter (unknown, or delivered or replayed already); nothing replayed: tasker events dead-letters lists them")

	// Through --server: the same list, the same check, a replay.
	_, srv := serveDB(t, db, "../../examples", 1<<20)
	out, err = run("events", "dead-letters", "-o", "json", "--server", srv.URL)
	require.NoError(t, err)
	var dead []*tasker.OutboxMessage
	require.NoError(t, json.Unmarshal([]byte(out), &dead))
	require.NotEmpty(t, dead)
	require.Equal(t, "ops", dead[0].Subscription)
	_, err = run("events", "replay", "999", "998", "--server", srv.URL)
	require.ErrorContains(t, err, "ids 999, 998 are not dead letters")
	out, err = run("events", "replay", strconv.FormatInt(dead[0].ID, 10), "--server", srv.URL)
	require.NoError(t, err)
	require.Equal(t, "1 dead letters queued for delivery again; a running worker or server with the subscriptions delivers them\n", out)

	out, err = run("events", "replay")
	require.NoError(t, err)
	require.Regexp(t, `^[1-9][0-9]* dead letters queued for delivery again`, out)
	out, err = run("events", "dead-letters", "--json")
	require.NoError(t, err)
	require.Equal(t, "[]\n", out)
	_, err = run("events", "replay", "x")
	require.EqualError(t, err, `dead letter id "x" is not a positive integer`)

	require.NoError(t, os.WriteFile(subs, []byte("subscriptions:\n  - {name: a, type: smtp}\n"), 0o600))
	_, err = run("task", "list")
	require.ErrorContains(t, err, `type "smtp" is unknown: use log, webhook or nats`)
}
