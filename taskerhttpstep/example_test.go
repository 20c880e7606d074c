package taskerhttpstep_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskerdriver/taskersqlite"
	"github.com/tasker-go/tasker/taskerhttpstep"
)

// An http handler registered under a name of its own, whose ProcessResults
// keeps only what later steps need from the API's answer (the original
// engine's process_results). The step's handler_config has the keys of the
// built-in http handler, with a placeholder from the task context.
func ExampleNewHandler() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"order": {"id": %q, "status": "paid", "lines": [1, 2, 3]}, "served_by": "eu-1"}`, r.URL.Path)
	}))
	defer api.Close()
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "tasker-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	reg := tasker.NewRegistry()
	reg.MustRegisterHandler("order_api", taskerhttpstep.NewHandler(taskerhttpstep.Options{
		ProcessResults: func(step *tasker.StepContext, resp *taskerhttpstep.Response) (any, error) {
			var answer struct {
				Order struct {
					ID     string `json:"id"`
					Status string `json:"status"`
				} `json:"order"`
			}
			if err := resp.DecodeJSON(&answer); err != nil {
				return nil, tasker.PermanentError(err) // not the answer we expect: retrying will not help
			}
			return map[string]any{"order": answer.Order.ID, "paid": answer.Order.Status == "paid"}, nil
		},
	}))
	_, err = reg.LoadYAML("orders.yaml", []byte(`
name: check_order
step_templates:
  - name: fetch_order
    handler: order_api
    handler_config:
      url: `+api.URL+`/orders/{{context.order_id}}
      timeout: 5s
`), tasker.LoadOptions{})
	if err != nil {
		log.Fatal(err)
	}

	drv, err := taskersqlite.Open(filepath.Join(dir, "tasker.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer drv.Close()
	client, err := tasker.NewClient(ctx, drv, &tasker.Config{Registry: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	res, err := client.CreateTask(ctx, &tasker.TaskRequest{Name: "check_order", Context: map[string]any{"order_id": 42}})
	if err != nil {
		log.Fatal(err)
	}
	if err := client.RunUntilIdle(ctx); err != nil {
		log.Fatal(err)
	}
	steps, err := client.ListSteps(ctx, res.Task.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(steps[0].Name, steps[0].State, string(steps[0].Results))
	// Output:
	// fetch_order complete {"order":"/orders/42","paid":true}
}
