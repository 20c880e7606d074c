package tasker_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskerdriver/taskersqlite"
)

// A Go template with two handlers: "charge" computes a total from the task
// context and "ship" reads the result of its parent. The client runs an
// in-process worker (Start), the program waits for the task (WaitTask) and
// stops the worker (Stop).
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "tasker-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	reg := tasker.NewRegistry()
	reg.MustRegisterHandler("charge", tasker.StepHandlerFunc(func(ctx context.Context, s *tasker.StepContext) (any, error) {
		var order struct {
			Quantity int `json:"quantity"`
			Price    int `json:"price"`
		}
		if err := s.DecodeContext(&order); err != nil {
			return nil, tasker.PermanentError(err) // a bad context will not get better
		}
		return map[string]int{"charged": order.Quantity * order.Price}, nil
	}))
	reg.MustRegisterHandler("ship", tasker.StepHandlerFunc(func(ctx context.Context, s *tasker.StepContext) (any, error) {
		var charge struct {
			Charged int `json:"charged"`
		}
		if err := s.DependencyResult("charge", &charge); err != nil {
			return nil, err
		}
		return map[string]any{"shipped": true, "paid": charge.Charged}, nil
	}))
	err = reg.RegisterTemplate(&tasker.TaskTemplate{
		Name: "checkout", Version: "1.0.0",
		Schema: map[string]any{
			"type":     "object",
			"required": []any{"quantity", "price"},
			"properties": map[string]any{
				"quantity": map[string]any{"type": "integer", "minimum": 1},
				"price":    map[string]any{"type": "integer"},
			},
		},
		Steps: []tasker.StepTemplate{
			{Name: "charge", Handler: "charge"},
			{Name: "ship", Handler: "ship", DependsOn: []string{"charge"}},
		},
	}, tasker.RegisterOptions{})
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
	if err := client.Start(ctx); err != nil {
		log.Fatal(err)
	}
	res, err := client.CreateTask(ctx, &tasker.TaskRequest{Name: "checkout", Context: map[string]int{"quantity": 3, "price": 14}})
	if err != nil {
		log.Fatal(err)
	}
	task, err := client.WaitTask(ctx, res.Task.ID)
	if err != nil {
		log.Fatal(err)
	}
	if err := client.Stop(ctx); err != nil {
		log.Fatal(err)
	}

	fmt.Println(task.FullName(), task.State)
	steps, err := client.ListSteps(ctx, task.ID)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range steps {
		fmt.Printf("%s: %s after %d attempt(s), results %s\n", s.Name, s.State, s.Attempts, s.Results)
	}
	// Output:
	// default.checkout@1.0.0 complete
	// charge: complete after 1 attempt(s), results {"charged":42}
	// ship: complete after 1 attempt(s), results {"paid":42,"shipped":true}
}

// A template written in YAML and loaded from a string; its only step runs a
// command with the built-in exec handler, whose JSON output becomes the
// step's results. RunUntilIdle runs the task in the calling goroutine.
func ExampleRegistry_LoadYAML() {
	ctx := context.Background()
	const yamlTemplate = `
name: hello
namespace_name: demo
version: 1.2.0
step_templates:
  - name: say_ok
    handler: exec
    handler_config:
      command: ["echo", "{\"ok\": true}"]
`
	reg := tasker.NewRegistry()
	tmpl, err := reg.LoadYAML("hello.yaml", []byte(yamlTemplate), tasker.LoadOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("loaded", tmpl.FullName(), "with", len(tmpl.Steps), "step")

	client, done := openExampleClient(reg) // a SQLite database in a temporary directory
	defer done()
	res, err := client.CreateTask(ctx, &tasker.TaskRequest{Namespace: "demo", Name: "hello"})
	if err != nil {
		log.Fatal(err)
	}
	if err := client.RunUntilIdle(ctx); err != nil {
		log.Fatal(err)
	}
	task, err := client.GetTask(ctx, res.Task.ID)
	if err != nil {
		log.Fatal(err)
	}
	steps, err := client.ListSteps(ctx, task.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("task", task.State)
	fmt.Printf("%s: %s, results %s\n", steps[0].Name, steps[0].State, steps[0].Results)
	// Output:
	// loaded demo.hello@1.2.0 with 1 step
	// task complete
	// say_ok: complete, results {"ok": true}
}
