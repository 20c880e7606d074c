package taskerhttp_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// The schedule routes, each answer checked against openapi.json.
func TestScheduleRoutes(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t)
		body := map[string]any{"name": "nightly", "task_name": "dummy_task", "cron": "0 3 * * *", "time_zone": "Europe/Paris",
			"context": map[string]any{"dummy": true}, "overlap": "skip", "catch_up": "all", "catch_up_limit": 3}
		sc := e.do("POST", "/tasker/schedules", body).want(t, http.StatusCreated).json(t)["schedule"].(map[string]any)
		require.Equal(t, "nightly", sc["name"])
		require.Equal(t, "api", sc["source"])
		require.NotEmpty(t, sc["next_fire_at"])
		require.Equal(t, "conflict", e.do("POST", "/tasker/schedules", body).want(t, http.StatusConflict).errorCode(t))

		bad := e.do("POST", "/tasker/schedules", map[string]any{"name": "x", "task_name": "dummy_task", "cron": "@every 1ms", "catch_up_limit": "3"}).
			want(t, http.StatusBadRequest).json(t)
		require.Contains(t, bad["error"].(map[string]any)["fields"], "catch_up_limit")
		bad = e.do("POST", "/tasker/schedules", map[string]any{"name": "x", "task_name": "dummy_task", "cron": "@every 1ms"}).want(t, http.StatusBadRequest).json(t)
		require.Contains(t, bad["error"].(map[string]any)["fields"], "cron")

		list := e.do("GET", "/tasker/schedules", nil).want(t, http.StatusOK).json(t)["schedules"].([]any)
		require.Len(t, list, 1)
		require.True(t, e.do("POST", "/tasker/schedules/nightly/pause", nil).want(t, http.StatusOK).json(t)["schedule"].(map[string]any)["paused"].(bool))
		require.False(t, e.do("POST", "/tasker/schedules/nightly/resume", nil).want(t, http.StatusOK).json(t)["schedule"].(map[string]any)["paused"].(bool))
		task := e.do("POST", "/tasker/schedules/nightly/trigger", nil).want(t, http.StatusCreated).json(t)["task"].(map[string]any)
		require.Equal(t, "schedule", task["source_system"])
		require.Contains(t, task["reason"], "nightly@")
		e.do("GET", "/tasker/schedules/nightly", nil).want(t, http.StatusOK)
		e.do("DELETE", "/tasker/schedules/nightly", nil).want(t, http.StatusOK)
		e.do("GET", "/tasker/schedules/nightly", nil).want(t, http.StatusNotFound)
		e.do("POST", "/tasker/schedules/nope/trigger", nil).want(t, http.StatusNotFound)
	})
}
