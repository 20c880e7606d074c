package tasker_test

import (
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
)

// scheduledReasons lists the reasons of the scheduled tasks, sorted.
func (e *env) scheduledReasons() []string {
	e.t.Helper()
	l, err := e.client.ListTasks(e.ctx, &tasker.TaskListParams{SourceSystem: tasker.SourceSystemSchedule, Limit: 1000})
	require.NoError(e.t, err)
	var out []string
	for _, task := range l.Tasks {
		out = append(out, task.Reason)
	}
	sort.Strings(out)
	return out
}

const scheduledYAML = `name: report
namespace_name: ops
version: 1.0.0
schema:
  type: object
  required: [region]
  properties:
    region: {type: string}
step_templates:
  - name: build
    handler: test
schedules:
  - name: hourly_report
    cron: "0 * * * *"
    context: {region: eu}
`

func TestSchedulesFromTemplateAndAPI(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		tmpl, err := tasker.ParseTemplate("report.yaml", []byte(scheduledYAML), tasker.LoadOptions{})
		require.NoError(t, err)
		e := newEnv(t, tmpl) // clock at 2026-03-01T12:00:00Z
		events, stop := e.client.Subscribe(tasker.EventTaskScheduled)
		defer stop()

		// The first run stores the template's schedule; nothing is due.
		require.NoError(t, e.client.RunUntilIdle(e.ctx))
		s, err := e.client.GetSchedule(e.ctx, "hourly_report")
		require.NoError(t, err)
		require.Equal(t, "template", s.Source)
		require.Equal(t, "ops", s.Namespace)
		require.Equal(t, "report", s.TaskName)
		require.Equal(t, time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC), s.NextFireAt)
		require.Empty(t, e.scheduledReasons())

		// At the fire time the leader creates the task; the worker runs it.
		e.clock.Advance(time.Hour)
		require.NoError(t, e.client.RunUntilIdle(e.ctx))
		require.Equal(t, []string{"hourly_report@2026-03-01T13:00:00Z"}, e.scheduledReasons())
		ev := <-events
		require.Equal(t, tasker.EventTaskScheduled, ev.Name)
		require.JSONEq(t, `{"schedule":"hourly_report","fire_at":"2026-03-01T13:00:00Z","catch_up":false,"trigger":"schedule"}`, string(ev.Payload))
		task := e.task(ev.Task.ID)
		require.Equal(t, "complete", string(task.State))
		require.Equal(t, "schedule", task.SourceSystem)
		require.Equal(t, "scheduler", task.Initiator)
		require.JSONEq(t, `{"region":"eu"}`, string(task.Context))
		require.NoError(t, e.client.RunUntilIdle(e.ctx))
		require.Len(t, e.scheduledReasons(), 1, "once per fire time")

		// The API: create (validated), list, pause, resume, trigger, delete.
		_, err = e.client.CreateSchedule(e.ctx, &tasker.ScheduleRequest{Name: "bad name", TaskName: "nope", Cron: "61 * * * *",
			TimeZone: "Mars/Base", Overlap: "queue", CatchUp: "some", Context: "[]"})
		var ve *tasker.ValidationError
		require.ErrorAs(t, err, &ve)
		require.Equal(t, []string{"catch_up", "context", "cron", "name", "overlap", "time_zone"}, sortedFields(ve.Fields))
		_, err = e.client.CreateSchedule(e.ctx, &tasker.ScheduleRequest{Name: "x", Namespace: "ops", TaskName: "report", Cron: "@daily", Context: map[string]any{"region": 1}})
		require.ErrorAs(t, err, &ve)
		require.Contains(t, ve.Fields["context"], "does not match the schema")

		paris, err := e.client.CreateSchedule(e.ctx, &tasker.ScheduleRequest{Name: "paris_morning", Namespace: "ops", TaskName: "report",
			Cron: "0 9 * * *", TimeZone: "Europe/Paris", Context: map[string]any{"region": "fr"}, Overlap: "skip", CatchUp: "all"})
		require.NoError(t, err)
		require.Equal(t, time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC), paris.NextFireAt, "09:00 CET")
		require.Equal(t, tasker.DefaultCatchUpLimit, paris.CatchUpLimit)
		require.Equal(t, "api", paris.Source)
		_, err = e.client.CreateSchedule(e.ctx, &tasker.ScheduleRequest{Name: "paris_morning", Namespace: "ops", TaskName: "report", Cron: "@daily", Context: map[string]any{"region": "fr"}})
		require.ErrorIs(t, err, tasker.ErrScheduleExists)

		all, err := e.client.Schedules(e.ctx)
		require.NoError(t, err)
		require.Len(t, all, 2)
		require.Equal(t, "hourly_report", all[0].Name)
		require.Equal(t, time.Date(2026, 3, 1, 14, 0, 0, 0, time.UTC), all[0].NextFireAt)

		p, err := e.client.PauseSchedule(e.ctx, "hourly_report")
		require.NoError(t, err)
		require.True(t, p.Paused)
		e.clock.Advance(3 * time.Hour) // 16:00: 14:00, 15:00 and 16:00 pass while paused
		require.NoError(t, e.client.RunUntilIdle(e.ctx))
		require.Len(t, e.scheduledReasons(), 1)
		r, err := e.client.ResumeSchedule(e.ctx, "hourly_report")
		require.NoError(t, err)
		require.False(t, r.Paused)
		require.Equal(t, time.Date(2026, 3, 1, 17, 0, 0, 0, time.UTC), r.NextFireAt, "resumed from now: no catch-up of the pause")

		res, err := e.client.TriggerSchedule(e.ctx, "paris_morning")
		require.NoError(t, err)
		require.Equal(t, "paris_morning@2026-03-01T16:00:00Z", res.Task.Reason)
		_, err = e.client.TriggerSchedule(e.ctx, "paris_morning")
		require.ErrorIs(t, err, tasker.ErrInvalidState, "one fire per schedule and second")
		_, err = e.client.TriggerSchedule(e.ctx, "nope")
		require.ErrorIs(t, err, tasker.ErrNotFound)

		require.NoError(t, e.client.DeleteSchedule(e.ctx, "paris_morning"))
		require.ErrorIs(t, e.client.DeleteSchedule(e.ctx, "paris_morning"), tasker.ErrNotFound)
		_, err = e.client.GetSchedule(e.ctx, "paris_morning")
		require.ErrorIs(t, err, tasker.ErrNotFound)
		require.Equal(t, []string{"hourly_report@2026-03-01T13:00:00Z", "paris_morning@2026-03-01T16:00:00Z"}, e.scheduledReasons())
	})
}

func sortedFields(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// The YAML example of docs/schedules.md loads.
func TestSchedulesDocExample(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("docs/schedules.md")
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(raw), "<!-- schedules:example")
	require.True(t, ok)
	_, rest, _ = strings.Cut(rest, "```yaml\n")
	doc, _, _ := strings.Cut(rest, "```")
	tmpl, err := tasker.ParseTemplate("schedules.md", []byte(doc), tasker.LoadOptions{})
	require.NoError(t, err)
	require.Len(t, tmpl.Schedules, 2)
	require.Equal(t, tasker.ScheduleTemplate{Name: "nightly_report", Cron: "30 2 * * *", TimeZone: "Europe/Paris",
		Context: map[string]any{"region": "eu"}, Overlap: "skip", CatchUp: "one"}, tmpl.Schedules[0])
	require.Equal(t, 20, tmpl.Schedules[1].CatchUpLimit)
}
