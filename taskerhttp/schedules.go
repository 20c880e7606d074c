package taskerhttp

import (
	"context"
	"net/http"

	"github.com/tasker-go/tasker"
)

// listSchedules answers GET /tasker/schedules: every schedule by name,
// each with its next fire time.
func (s *server) listSchedules(w http.ResponseWriter, r *http.Request) error {
	l, err := s.c.Schedules(r.Context())
	if err != nil {
		return err
	}
	l = nonNil(l)
	writeJSON(w, http.StatusOK, map[string]any{"schedules": l})
	return nil
}

// createSchedule answers POST /tasker/schedules {"name", "namespace",
// "task_name", "version", "cron", "time_zone", "context", "overlap",
// "catch_up", "catch_up_limit", "paused"}: 201 with the schedule.
func (s *server) createSchedule(w http.ResponseWriter, r *http.Request) error {
	d, err := s.readFields(w, r, "name", "namespace", "task_name", "version", "cron", "time_zone", "context", "overlap", "catch_up", "catch_up_limit", "paused")
	if err != nil {
		return err
	}
	req := &tasker.ScheduleRequest{Name: d.str("name"), Namespace: d.str("namespace"), TaskName: d.str("task_name"), Version: d.str("version"),
		Cron: d.str("cron"), TimeZone: d.str("time_zone"), Overlap: d.str("overlap"), CatchUp: d.str("catch_up")}
	if raw := d.object("context"); raw != nil {
		req.Context = raw
	}
	if n := d.intPtr("catch_up_limit"); n != nil {
		req.CatchUpLimit = *n
	}
	if p := d.boolPtr("paused"); p != nil {
		req.Paused = *p
	}
	if err := d.err(); err != nil {
		return err
	}
	sc, err := s.c.CreateSchedule(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"schedule": sc})
	return nil
}

// answerSchedule answers with the schedule named by the path, as act
// (GetSchedule, PauseSchedule or ResumeSchedule) returns it.
func (s *server) answerSchedule(w http.ResponseWriter, r *http.Request, act func(*tasker.Client, context.Context, string) (*tasker.Schedule, error)) error {
	sc, err := act(s.c, r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"schedule": sc})
	return nil
}

// getSchedule answers GET /tasker/schedules/{name}.
func (s *server) getSchedule(w http.ResponseWriter, r *http.Request) error {
	return s.answerSchedule(w, r, (*tasker.Client).GetSchedule)
}

// deleteSchedule answers DELETE /tasker/schedules/{name}.
func (s *server) deleteSchedule(w http.ResponseWriter, r *http.Request) error {
	if err := s.c.DeleteSchedule(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"deleted": true, "name": r.PathValue("name")})
	return nil
}

// pauseSchedule answers POST /tasker/schedules/{name}/pause.
func (s *server) pauseSchedule(w http.ResponseWriter, r *http.Request) error {
	return s.answerSchedule(w, r, (*tasker.Client).PauseSchedule)
}

// resumeSchedule answers POST /tasker/schedules/{name}/resume.
func (s *server) resumeSchedule(w http.ResponseWriter, r *http.Request) error {
	return s.answerSchedule(w, r, (*tasker.Client).ResumeSchedule)
}

// triggerSchedule answers POST /tasker/schedules/{name}/trigger: 201 with
// the task it fired now.
func (s *server) triggerSchedule(w http.ResponseWriter, r *http.Request) error {
	res, err := s.c.TriggerSchedule(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"task": newTaskView(res.Task, res.Steps)})
	return nil
}
