package tasker_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskersub"
)

// hookServer is a webhook receiver whose behaviour the test switches.
type hookServer struct {
	*httptest.Server
	mode     atomic.Value // "ok", "fail", "hang"
	mu       sync.Mutex
	received map[string]int // delivery id → times received
	names    []string
	badSig   int
}

func newHookServer(t *testing.T, secret string) *hookServer {
	h := &hookServer{received: map[string]int{}}
	h.mode.Store("ok")
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch h.mode.Load().(string) {
		case "fail":
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		case "hang":
			<-r.Context().Done() // until the sender's timeout
			return
		}
		var msg struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		}
		_ = json.Unmarshal(body, &msg)
		h.mu.Lock()
		defer h.mu.Unlock()
		if r.Header.Get("X-Tasker-Signature") != taskersub.Sign(secret, body) {
			h.badSig++
		}
		h.received[msg.ID]++
		if h.received[msg.ID] == 1 {
			h.names = append(h.names, msg.Name)
		}
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) distinct() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.received)
}

func webhookClient(t *testing.T, d taskerdriver.Driver, url string, maxAttempts int) *tasker.Client {
	t.Helper()
	reg := tasker.NewRegistry()
	reg.MustRegisterHandler("noop", tasker.StepHandlerFunc(func(context.Context, *tasker.StepContext) (any, error) { return "ok", nil }))
	require.NoError(t, reg.RegisterTemplate(&tasker.TaskTemplate{Name: "pair", Steps: []tasker.StepTemplate{
		{Name: "a", Handler: "noop"}, {Name: "b", Handler: "noop", DependsOn: []string{"a"}},
	}}, tasker.RegisterOptions{}))
	c, err := tasker.NewClient(t.Context(), d, &tasker.Config{Registry: reg, Logger: slog.New(slog.DiscardHandler),
		Worker: tasker.WorkerConfig{PollInterval: 50 * time.Millisecond},
		Subscriptions: []tasker.Subscription{{Name: "ops", Type: "webhook", Events: []string{"task.*", "step.completed"},
			Config: map[string]any{"url": url, "secret": "s3cret", "timeout": "200ms", "backoff": "20ms", "max_attempts": maxAttempts}}},
	})
	require.NoError(t, err)
	return c
}

// waitUntil is testdb.WaitUntil.
var waitUntil = testdb.WaitUntil

// Webhook events are written in the fact's transaction and delivered at
// least once across failures, timeouts and a restart of the process; they
// are signed; a subscription that gives up keeps dead letters that replay.
func TestWebhookDurableDelivery(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		hook := newHookServer(t, "s3cret")
		d := openTestDriver(t)
		ctx := t.Context()

		// First "process": the receiver is down, then hangs; the worker
		// runs the task but cannot deliver; then it stops.
		hook.mode.Store("fail")
		c1 := webhookClient(t, d, hook.URL, 100)
		require.NoError(t, c1.Start(ctx))
		res, err := c1.CreateTask(ctx, &tasker.TaskRequest{Name: "pair"})
		require.NoError(t, err)
		task, err := c1.WaitTask(ctx, res.Task.ID)
		require.NoError(t, err)
		require.Equal(t, tasker.StateComplete, task.State)
		hook.mode.Store("hang")
		waitUntil(t, "a delivery attempt to time out against the hanging receiver", func() bool {
			pending, err := d.Executor().OutboxList(ctx, &taskerdriver.OutboxListParams{State: "pending"})
			if err != nil {
				return false
			}
			for _, m := range pending {
				if strings.Contains(m.LastError, "no answer within 200ms") {
					return true
				}
			}
			return false
		})
		require.NoError(t, c1.Stop(ctx))
		require.Zero(t, hook.distinct(), "nothing delivered while the receiver was down")

		// Second "process" on the same database: the receiver is back.
		hook.mode.Store("ok")
		c2 := webhookClient(t, d, hook.URL, 100)
		require.NoError(t, c2.Start(ctx))
		// task.initialize_requested, task.start_requested, 2 × step.completed, task.completed
		waitUntil(t, "5 events delivered", func() bool { return hook.distinct() == 5 })
		require.NoError(t, c2.Stop(ctx))
		hook.mu.Lock()
		require.Zero(t, hook.badSig, "every signature verifies")
		require.ElementsMatch(t, []string{"task.initialize_requested", "task.start_requested", "step.completed", "step.completed", "task.completed"}, hook.names)
		hook.mu.Unlock()

		// A subscription that gives up: 2 attempts, then dead letters.
		hook.mode.Store("fail")
		c3 := webhookClient(t, d, hook.URL, 2)
		require.NoError(t, c3.Start(ctx))
		res, err = c3.CreateTask(ctx, &tasker.TaskRequest{Name: "pair"})
		require.NoError(t, err)
		_, err = c3.WaitTask(ctx, res.Task.ID)
		require.NoError(t, err)
		waitUntil(t, "5 dead letters", func() bool {
			dead, err := c3.DeadLetters(ctx, "ops", 0)
			return err == nil && len(dead) == 5
		})
		dead, err := c3.DeadLetters(ctx, "", 0)
		require.NoError(t, err)
		require.Equal(t, 2, dead[0].Attempts)
		require.Contains(t, dead[0].LastError, "503")
		hook.mode.Store("ok")
		n, err := c3.ReplayDeadLetters(ctx)
		require.NoError(t, err)
		require.Equal(t, 5, n)
		waitUntil(t, "replayed events delivered", func() bool { return hook.distinct() == 10 })
		require.NoError(t, c3.Stop(ctx))
		dead, err = c3.DeadLetters(ctx, "", 0)
		require.NoError(t, err)
		require.Empty(t, dead)
	})
}
