package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/tasker-go/tasker/remoteworker"
)

func main() {
	server := flag.String("server", "http://127.0.0.1:8080", "Tasker server URL")
	queue := flag.String("queue", "billing", "queue to serve")
	concurrency := flag.Int("concurrency", 4, "steps run at once")
	flag.Parse()

	w, err := remoteworker.New(remoteworker.Config{
		// TASKER_TOKEN (an API token or JWT with tasker.worker:work) is read
		// by New when Token is empty; the legacy worker token works too.
		ServerURL: *server, Token: os.Getenv("TASKER_WORKER_TOKEN"),
		Queues: []string{*queue}, Concurrency: *concurrency,
	}, charge)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	slog.Info("remote worker started", "worker_id", w.ID(), "queue", *queue, "server", *server)
	if err := w.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// charge is the step handler: it reads the task context and returns the
// step's result. A bad context is permanent; anything else is retried.
func charge(_ context.Context, s *remoteworker.Step) (any, error) {
	var order struct {
		OrderID int     `json:"order_id"`
		Amount  float64 `json:"amount"`
	}
	if err := s.DecodeContext(&order); err != nil {
		return nil, remoteworker.Permanent(err)
	}
	if order.Amount <= 0 {
		return nil, remoteworker.Permanent(errors.New("amount must be positive"))
	}
	slog.Info("charging", "task_id", s.TaskID, "order_id", order.OrderID, "attempt", s.Attempt, "idempotency_key", s.IdempotencyKey)
	return map[string]any{"charge_id": fmt.Sprintf("ch_%d_%d", s.TaskID, order.OrderID), "amount": order.Amount}, nil
}
