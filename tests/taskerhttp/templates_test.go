package taskerhttp_test

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskerdriver"
)

// A server whose process has no template file serves the templates that a
// worker registered in the database: the handlers routes list and draw
// them, and a task of one is created. Its steps, whose handler no worker
// seen recently runs, say so in waiting_for_handler until a worker with
// that handler is seen.
func TestRegisteredTemplatesAndWaitingForHandler(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		ctx := t.Context()
		d := openTestDriver(t)
		workerReg := tasker.NewRegistry()
		require.NoError(t, workerReg.RegisterTemplate(&tasker.TaskTemplate{Namespace: "billing", Name: "charge", Version: "1.2.0",
			Schema: map[string]any{"type": "object", "required": []any{"amount"}},
			Steps: []tasker.StepTemplate{{Name: "authorize", Handler: "pay", HandlerConfig: map[string]any{"token": "${PAY_TOKEN}"}},
				{Name: "capture", Handler: "pay", DependsOn: []string{"authorize"}}}}, tasker.RegisterOptions{AllowUnknownHandlers: true}))
		worker, err := tasker.NewClient(ctx, d, &tasker.Config{Registry: workerReg, Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		_, err = worker.RegisterTemplates(ctx, nil)
		require.NoError(t, err)

		api, err := tasker.NewClient(ctx, d, &tasker.Config{Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		e := newEnvWithClient(t, api, nil)

		res := e.do("GET", "/tasker/handlers", nil).want(t, http.StatusOK).json(t)
		require.Equal(t, []any{map[string]any{"handler_count": float64(1), "name": "billing"}}, res["namespaces"])
		res = e.do("GET", "/tasker/handlers/billing", nil).want(t, http.StatusOK).json(t)
		require.Equal(t, "1.2.0", res["handlers"].([]any)[0].(map[string]any)["latest_version"])
		res = e.do("GET", "/tasker/handlers/billing/charge", nil).want(t, http.StatusOK).json(t)
		h := res["handler"].(map[string]any)
		require.Equal(t, "billing.charge@1.2.0", h["full_name"])
		require.Equal(t, map[string]any{"token": "${PAY_TOKEN}"}, h["step_templates"].([]any)[0].(map[string]any)["handler_config"])
		require.Len(t, h["dependency_graph"].(map[string]any)["edges"], 1)

		e.do("POST", "/tasker/tasks", `{"namespace":"billing","name":"charge","context":{}}`).want(t, http.StatusBadRequest)
		task := e.createTask(map[string]any{"namespace": "billing", "name": "charge", "context": map[string]any{"amount": 3}})
		id := strconv.FormatInt(idOf(task, "task_id"), 10)

		res = e.do("GET", "/tasker/tasks/"+id, nil).want(t, http.StatusOK).json(t)
		wait := stepByName(t, res["task"].(map[string]any), "authorize")["waiting_for_handler"].(map[string]any)
		require.Equal(t, "pay", wait["handler"])
		require.True(t, strings.HasPrefix(wait["message"].(string), `no worker for handler "pay" in the last 5 minutes`), wait["message"])
		steps := e.do("GET", "/tasker/tasks/"+id+"/workflow_steps", nil).want(t, http.StatusOK).json(t)["steps"].([]any)
		require.Len(t, steps, 2)
		for _, s := range steps {
			require.Contains(t, s.(map[string]any), "waiting_for_handler")
		}
		stepID := strconv.FormatInt(int64(steps[0].(map[string]any)["workflow_step_id"].(float64)), 10)
		one := e.do("GET", "/tasker/tasks/"+id+"/workflow_steps/"+stepID, nil).want(t, http.StatusOK).json(t)["step"].(map[string]any)
		require.Contains(t, one, "waiting_for_handler")

		// A worker with the handler is seen: nothing waits for one.
		require.NoError(t, d.Executor().WorkerSeen(ctx, &taskerdriver.WorkerSeenParams{ID: "w-1", Kind: tasker.WorkerInProcess,
			Handlers: []string{"pay"}, Now: time.Now()}))
		res = e.do("GET", "/tasker/tasks/"+id, nil).want(t, http.StatusOK).json(t)
		require.NotContains(t, stepByName(t, res["task"].(map[string]any), "authorize"), "waiting_for_handler")
	})
}
