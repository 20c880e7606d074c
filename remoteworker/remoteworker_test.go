package remoteworker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	"github.com/tasker-go/tasker/remoteworker"
	"github.com/tasker-go/tasker/taskerhttp"
	"github.com/tasker-go/tasker/taskertype"
	"github.com/tasker-go/tasker/taskerwire"
)

func TestMain(m *testing.M) { testdb.Main(m) }

const token = "test-token-0123456789"

// engine is a started client (real clock) behind a REST server with the
// worker routes.
type engine struct {
	client *tasker.Client
	url    string
}

func newEngine(t *testing.T, templates ...*tasker.TaskTemplate) *engine {
	t.Helper()
	reg := tasker.NewRegistry()
	reg.MustRegisterHandler("go_validate", tasker.StepHandlerFunc(func(_ context.Context, s *tasker.StepContext) (any, error) {
		var in struct {
			Amount int `json:"amount"`
		}
		if err := s.DecodeContext(&in); err != nil {
			return nil, err
		}
		return map[string]any{"valid": in.Amount > 0}, nil
	}))
	reg.MustRegisterHandler("go_notify", tasker.StepHandlerFunc(func(_ context.Context, s *tasker.StepContext) (any, error) {
		var charge struct {
			ChargeID string `json:"charge_id"`
		}
		if err := s.DependencyResult("charge", &charge); err != nil {
			return nil, err
		}
		return map[string]any{"notified": charge.ChargeID}, nil
	}))
	for _, tm := range templates {
		require.NoError(t, reg.RegisterTemplate(tm, tasker.RegisterOptions{}))
	}
	c, err := tasker.NewClient(t.Context(), testdb.Open(t), &tasker.Config{
		Registry: reg, Logger: slog.New(slog.DiscardHandler),
		Backoff: tasker.Backoff{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond, Jitter: new(0.0)},
		Worker:  tasker.WorkerConfig{RescueInterval: 50 * time.Millisecond, PollInterval: 50 * time.Millisecond},
	})
	require.NoError(t, err)
	require.NoError(t, c.Start(t.Context()))
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	srv := httptest.NewServer(taskerhttp.NewHandler(c, &taskerhttp.Options{WorkerToken: token}))
	t.Cleanup(srv.Close)
	return &engine{client: c, url: srv.URL}
}

// startWorker runs a remote worker until the test ends (or stop is called).
func startWorker(t *testing.T, e *engine, cfg remoteworker.Config, h remoteworker.Handler) (w *remoteworker.Worker, stop func()) {
	t.Helper()
	cfg.ServerURL, cfg.Token = e.url+"/tasker", token
	cfg.Queues = []string{"billing"}
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.PollWait = cmpOr(cfg.PollWait, 200*time.Millisecond)
	w, err := remoteworker.New(cfg, h)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return w, stop
}

func cmpOr(a, b time.Duration) time.Duration {
	if a != 0 {
		return a
	}
	return b
}

func waitFinal(t *testing.T, c *tasker.Client, id int64) *tasker.Task {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	task, err := c.WaitTask(ctx, id)
	require.NoError(t, err)
	return task
}

// billingTemplate is a template of one remote step, "charge", on the queue
// "billing" with three attempts.
func billingTemplate(name string) *tasker.TaskTemplate {
	return &tasker.TaskTemplate{Name: name, Steps: []tasker.StepTemplate{
		{Name: "charge", Handler: "remote", RetryLimit: 3, HandlerConfig: map[string]any{"queue": "billing"}},
	}}
}

// runToEnd creates a task of a one-step template, waits until it is final
// and in state want, and returns its step.
func runToEnd(t *testing.T, e *engine, req *tasker.TaskRequest, want taskertype.State) *tasker.Step {
	t.Helper()
	res, err := e.client.CreateTask(t.Context(), req)
	require.NoError(t, err)
	require.Equal(t, want, waitFinal(t, e.client, res.Task.ID).State)
	s, err := e.client.GetStep(t.Context(), res.Steps[0].ID)
	require.NoError(t, err)
	return s
}

// A workflow mixing a Go handler, exec, http and a remote step served by
// this package runs to completion; each step sees its parents' results.
func TestMixedWorkflow(t *testing.T) {
	t.Parallel()
	testdb.EachDriver(t, func(t *testing.T) {
		rates := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"rate": 2}`))
		}))
		defer rates.Close()
		e := newEngine(t, &tasker.TaskTemplate{Name: "mixed", Steps: []tasker.StepTemplate{
			{Name: "validate", Handler: "go_validate"},
			{Name: "fetch_rate", Handler: "http", HandlerConfig: map[string]any{"url": rates.URL + "/rate"}},
			{Name: "enrich", Handler: "exec", HandlerConfig: map[string]any{"command": `cat >/dev/null; echo '{"tier": "gold"}'`}},
			{Name: "charge", Handler: "remote", DependsOn: []string{"validate", "fetch_rate", "enrich"},
				HandlerConfig: map[string]any{"queue": "billing", "provider": "psp"}},
			{Name: "notify", Handler: "go_notify", DependsOn: []string{"charge"}},
		}})
		var seen atomic.Pointer[remoteworker.Step]
		startWorker(t, e, remoteworker.Config{}, func(_ context.Context, s *remoteworker.Step) (any, error) {
			seen.Store(s)
			var ctx struct {
				Amount int `json:"amount"`
			}
			var rate struct {
				Body struct {
					Rate int `json:"rate"`
				} `json:"body"`
			}
			var enrich struct {
				Tier string `json:"tier"`
			}
			var cfg struct {
				Provider string `json:"provider"`
			}
			if err := errors.Join(s.DecodeContext(&ctx), s.DependencyResult("fetch_rate", &rate),
				s.DependencyResult("enrich", &enrich), s.DecodeConfig(&cfg)); err != nil {
				return nil, remoteworker.Permanent(err)
			}
			return map[string]any{"charge_id": "ch_1", "total": ctx.Amount * rate.Body.Rate, "tier": enrich.Tier, "provider": cfg.Provider}, nil
		})
		res, err := e.client.CreateTask(t.Context(), &tasker.TaskRequest{Name: "mixed", Context: map[string]any{"amount": 21}})
		require.NoError(t, err)
		task := waitFinal(t, e.client, res.Task.ID)
		require.Equal(t, taskertype.StateComplete, task.State)
		steps, err := e.client.ListSteps(t.Context(), task.ID)
		require.NoError(t, err)
		results := map[string]string{}
		for _, s := range steps {
			require.Equal(t, taskertype.StateComplete, s.State, s.Name)
			results[s.Name] = string(s.Results)
		}
		require.JSONEq(t, `{"charge_id":"ch_1","total":42,"tier":"gold","provider":"psp"}`, results["charge"])
		require.JSONEq(t, `{"notified":"ch_1"}`, results["notify"])
		require.Equal(t, "charge", seen.Load().StepName)
		require.Equal(t, 1, seen.Load().Attempt)
	})
}

// breakable is a transport that fails every request once broken: the
// worker behind it is dead to the server.
type breakable struct {
	broken atomic.Bool
	// heartbeatsBroken fails only the heartbeat requests.
	heartbeatsBroken atomic.Bool
	// leaseLost counts result reports answered 409.
	leaseLost atomic.Int32
}

func (b *breakable) RoundTrip(r *http.Request) (*http.Response, error) {
	if b.broken.Load() || (b.heartbeatsBroken.Load() && strings.HasSuffix(r.URL.Path, "/heartbeat")) {
		return nil, errors.New("network down")
	}
	res, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && res.StatusCode == http.StatusConflict && strings.HasSuffix(r.URL.Path, "/result") {
		b.leaseLost.Add(1)
	}
	return res, err
}

// A remote worker that dies mid-step (its requests stop reaching the
// server) loses its lease; the step is rescued and re-run by another
// worker; when the first worker comes back, its late result is refused and
// does not overwrite the newer attempt.
func TestWorkerDeathRerunAndLateResult(t *testing.T) {
	t.Parallel()
	testdb.EachDriver(t, func(t *testing.T) {
		e := newEngine(t, billingTemplate("remote_only"))
		net := &breakable{}
		started, release := make(chan struct{}), make(chan struct{})
		var lateReported atomic.Bool
		_, stopA := startWorker(t, e, remoteworker.Config{WorkerID: "worker-a", Lease: time.Second, ShutdownGrace: 10 * time.Second,
			HTTPClient: &http.Client{Transport: net}},
			func(ctx context.Context, _ *remoteworker.Step) (any, error) {
				close(started)
				<-release // stuck: the worker is gone for the server
				lateReported.Store(true)
				return map[string]any{"by": "a"}, nil
			})
		res, err := e.client.CreateTask(t.Context(), &tasker.TaskRequest{Name: "remote_only"})
		require.NoError(t, err)
		<-started
		net.broken.Store(true) // worker A dies mid-step: no heartbeat, no result

		_, stopB := startWorker(t, e, remoteworker.Config{WorkerID: "worker-b", Lease: 5 * time.Second},
			func(context.Context, *remoteworker.Step) (any, error) { return map[string]any{"by": "b"}, nil })
		task := waitFinal(t, e.client, res.Task.ID)
		require.Equal(t, taskertype.StateComplete, task.State)
		stopB()
		steps, err := e.client.ListSteps(t.Context(), task.ID)
		require.NoError(t, err)
		s := steps[0]
		require.Equal(t, 2, s.Attempts, "attempt 1 on worker A was lost, attempt 2 ran on worker B")
		require.JSONEq(t, `{"by":"b"}`, string(s.Results))
		tr, err := e.client.StepTransitions(t.Context(), s.TaskID, s.ID)
		require.NoError(t, err)
		var lost bool
		for _, x := range tr {
			var m map[string]any
			_ = json.Unmarshal(x.Metadata, &m)
			if x.ToState == taskertype.StateError && m["error_kind"] == "worker_lost" {
				lost = true
			}
		}
		require.True(t, lost, "attempt 1 was failed as worker_lost")

		// Worker A comes back and reports its stale attempt: refused.
		net.broken.Store(false)
		close(release)
		stopA()
		require.True(t, lateReported.Load())
		require.Equal(t, int32(1), net.leaseLost.Load(), "worker A's late report was sent and refused with 409")
		s, err = e.client.GetStep(t.Context(), s.ID)
		require.NoError(t, err)
		require.JSONEq(t, `{"by":"b"}`, string(s.Results), "the late result did not overwrite attempt 2")
		require.Equal(t, 2, s.Attempts)
		_, err = e.client.FinishRemoteStep(t.Context(), &taskerwire.Result{WorkerID: "worker-a", StepID: s.ID, Attempt: 1, Results: json.RawMessage(`{"by":"a"}`)})
		require.ErrorIs(t, err, tasker.ErrLeaseLost)
	})
}

// A handler error is reported with its kind: Permanent blocks the step,
// RetryAfter delays the next attempt, a panic is a retryable failure.
func TestErrorsReported(t *testing.T) {
	t.Parallel()
	e := newEngine(t, billingTemplate("remote_only"))
	var calls atomic.Int32
	startWorker(t, e, remoteworker.Config{}, func(_ context.Context, s *remoteworker.Step) (any, error) {
		switch calls.Add(1) {
		case 1:
			panic("boom")
		case 2:
			return nil, remoteworker.RetryAfter(errors.New("busy"), 20*time.Millisecond)
		default:
			return nil, remoteworker.Permanent(errors.New("card declined"))
		}
	})
	s := runToEnd(t, e, &tasker.TaskRequest{Name: "remote_only"}, taskertype.StateError)
	require.Equal(t, 3, s.Attempts)
	require.True(t, s.Blocked)
	require.Equal(t, "permanent", s.LastError.Kind)
	require.Equal(t, "card declined", s.LastError.Message)
	tr, err := e.client.StepTransitions(t.Context(), s.TaskID, s.ID)
	require.NoError(t, err)
	var kinds []string
	for _, x := range tr {
		var m map[string]any
		_ = json.Unmarshal(x.Metadata, &m)
		if k, ok := m["error_kind"].(string); ok {
			kinds = append(kinds, k+":"+m["error"].(string))
		}
	}
	require.Equal(t, []string{"retryable:handler panic: boom", "retryable:busy", "permanent:card declined"}, kinds)
}

func TestNewValidates(t *testing.T) {
	t.Setenv("TASKER_TOKEN", "")
	h := func(context.Context, *remoteworker.Step) (any, error) { return nil, nil }
	for _, tc := range []struct {
		cfg  remoteworker.Config
		want string
	}{
		{remoteworker.Config{ServerURL: "localhost:8080", Token: "t", Queues: []string{"q"}}, `remoteworker: ServerURL "localhost:8080" must start with http:// or https://`},
		{remoteworker.Config{ServerURL: "http://x", Queues: []string{"q"}}, "remoteworker: Token is required (or $TASKER_TOKEN): the server's --worker-token, or an API token or JWT with tasker.worker:work"},
		{remoteworker.Config{ServerURL: "http://x", Token: "t"}, "remoteworker: Queues is required: name the queues to serve"},
	} {
		_, err := remoteworker.New(tc.cfg, h)
		require.EqualError(t, err, tc.want)
	}
	_, err := remoteworker.New(remoteworker.Config{ServerURL: "http://x", Token: "t", Queues: []string{"q"}}, nil)
	require.EqualError(t, err, "remoteworker: nil handler")
}

// Shutdown with every slot busy: Run stops claiming at once, cancels the
// running step after ShutdownGrace and gives it back (released: pending,
// the attempt not counted).
func TestShutdownWhileBusy(t *testing.T) {
	t.Parallel()
	e := newEngine(t, billingTemplate("remote_only"))
	started := make(chan struct{})
	w, err := remoteworker.New(remoteworker.Config{ServerURL: e.url, Token: token, Queues: []string{"billing"}, Concurrency: 1,
		ShutdownGrace: 200 * time.Millisecond, PollWait: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)},
		func(ctx context.Context, _ *remoteworker.Step) (any, error) {
			close(started)
			<-ctx.Done()
			return nil, ctx.Err()
		})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	res, err := e.client.CreateTask(t.Context(), &tasker.TaskRequest{Name: "remote_only"})
	require.NoError(t, err)
	<-started
	cancel()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after its context was cancelled with every slot busy")
	}
	s := requireGivenBack(t, e, res.Steps[0].ID, "the cancelled attempt was given back")
	require.Nil(t, s.LastError)
}

// A handler that ignores its context past the step's timeout is given up:
// the attempt is reported as a timeout.
func TestStepTimeout(t *testing.T) {
	t.Parallel()
	e := newEngine(t, &tasker.TaskTemplate{Name: "slow", Steps: []tasker.StepTemplate{
		{Name: "charge", Handler: "remote", RetryLimit: 1, Timeout: 300 * time.Millisecond, HandlerConfig: map[string]any{"queue": "billing"}},
	}})
	release := make(chan struct{})
	defer close(release)
	startWorker(t, e, remoteworker.Config{}, func(context.Context, *remoteworker.Step) (any, error) {
		<-release // ignores its context
		return "late", nil
	})
	s := runToEnd(t, e, &tasker.TaskRequest{Name: "slow"}, taskertype.StateError)
	require.Equal(t, "timeout", s.LastError.Kind)
	require.Contains(t, s.LastError.Message, "step timed out after 300ms")
}

// A result the server refuses (here: larger than its body limit) fails the
// attempt permanently with the server's reason, instead of leaving the step
// to be rescued and refused again.
func TestRefusedResult(t *testing.T) {
	t.Parallel()
	e := newEngine(t, billingTemplate("big"))
	startWorker(t, e, remoteworker.Config{}, func(context.Context, *remoteworker.Step) (any, error) {
		return strings.Repeat("x", 2<<20), nil // 2 MiB; the server takes 1 MiB
	})
	s := runToEnd(t, e, &tasker.TaskRequest{Name: "big"}, taskertype.StateError)
	require.Equal(t, 1, s.Attempts, "no retry of a result the server cannot take")
	require.Equal(t, "permanent", s.LastError.Kind)
	require.Contains(t, s.LastError.Message, "the server refused the step's result: HTTP 413: request body is larger than 1048576 bytes")
}

// A worker whose heartbeats fail loses attempt 1 of a step (rescued) and
// claims attempt 2 of the same step while attempt 1's handler still runs.
// When attempt 1 finishes first, its report is refused (409) and attempt 2
// keeps its place: attempts are told apart, not just steps, so attempt 2's
// result is reported.
func TestNewerAttemptOfSameStepKept(t *testing.T) {
	t.Parallel()
	e := newEngine(t, billingTemplate("remote_only"))
	net := &breakable{}
	net.heartbeatsBroken.Store(true)
	started1, started2, release1 := make(chan struct{}), make(chan struct{}), make(chan struct{})
	startWorker(t, e, remoteworker.Config{WorkerID: "worker-a", Concurrency: 2, Lease: time.Second, HTTPClient: &http.Client{Transport: net}},
		func(ctx context.Context, s *remoteworker.Step) (any, error) {
			switch s.Attempt {
			case 1:
				close(started1)
				<-release1 // outlives its lease
				return map[string]any{"by": 1}, nil
			case 2:
				close(started2)
				for net.leaseLost.Load() == 0 { // attempt 1 reports, and is refused, first
					select {
					case <-ctx.Done():
						return nil, ctx.Err()
					case <-time.After(5 * time.Millisecond):
					}
				}
				return map[string]any{"by": 2}, nil
			}
			return nil, remoteworker.Permanent(fmt.Errorf("attempt %d: attempt 2's result was lost", s.Attempt))
		})
	res, err := e.client.CreateTask(t.Context(), &tasker.TaskRequest{Name: "remote_only"})
	require.NoError(t, err)
	<-started1
	<-started2 // attempt 1's lease ran out, the step was rescued and re-claimed by the same worker
	close(release1)
	task := waitFinal(t, e.client, res.Task.ID)
	require.Equal(t, taskertype.StateComplete, task.State)
	s, err := e.client.GetStep(t.Context(), res.Steps[0].ID)
	require.NoError(t, err)
	require.Equal(t, 2, s.Attempts)
	require.JSONEq(t, `{"by":2}`, string(s.Results))
	require.Equal(t, int32(1), net.leaseLost.Load(), "attempt 1's late report was refused")
}

// A handler publishes a declared custom event: it is delivered with the
// result. An undeclared one makes the server refuse the result; the
// attempt then fails permanently, saying why.
func TestPublishCustomEvents(t *testing.T) {
	t.Parallel()
	e := newEngine(t, &tasker.TaskTemplate{Name: "events", Steps: []tasker.StepTemplate{
		{Name: "charge", Handler: "remote", RetryLimit: 3, HandlerConfig: map[string]any{"queue": "billing"},
			CustomEvents: []tasker.CustomEvent{{Name: "payment.charged", Description: "charged"}}},
	}})
	events, unsub := e.client.Subscribe("payment.*")
	defer unsub()
	startWorker(t, e, remoteworker.Config{}, func(_ context.Context, s *remoteworker.Step) (any, error) {
		var in struct {
			Event string `json:"event"`
		}
		if err := s.DecodeContext(&in); err != nil {
			return nil, err
		}
		if err := s.Publish(in.Event, map[string]int{"amount": 42}); err != nil {
			return nil, err
		}
		return map[string]bool{"ok": true}, nil
	})
	res, err := e.client.CreateTask(t.Context(), &tasker.TaskRequest{Name: "events", Context: map[string]string{"event": "payment.charged"}})
	require.NoError(t, err)
	require.Equal(t, taskertype.StateComplete, waitFinal(t, e.client, res.Task.ID).State)
	ev := <-events
	require.Equal(t, "payment.charged", ev.Name)
	require.JSONEq(t, `{"amount": 42}`, string(ev.Payload))

	s := runToEnd(t, e, &tasker.TaskRequest{Name: "events", Context: map[string]string{"event": "payment.refunded"}}, taskertype.StateError)
	require.Equal(t, "permanent", s.LastError.Kind)
	require.Contains(t, s.LastError.Message, `the server refused the step's result: HTTP 400: invalid remote result`)
	require.Contains(t, s.LastError.Message, `custom event "payment.refunded" is not declared for step "charge"`)
}

// A credential the server refuses (401 for a wrong token, 403 when the server
// takes no remote workers) stops Run with ErrUnauthorized at the first
// claim, instead of retrying forever.
func TestRunStopsOnRefusedCredential(t *testing.T) {
	e := newEngine(t)
	noWorkers := httptest.NewServer(taskerhttp.NewHandler(e.client, &taskerhttp.Options{}))
	t.Cleanup(noWorkers.Close)
	withAuth := httptest.NewServer(taskerhttp.NewHandler(e.client, &taskerhttp.Options{Authenticator: taskerhttp.NewAuthenticator(e.client, nil)}))
	t.Cleanup(withAuth.Close)
	reader, _, err := e.client.CreateToken(t.Context(), tasker.TokenParams{Name: "reader", Permissions: []string{"tasker.task:index"}})
	require.NoError(t, err)
	for _, tc := range []struct {
		name, url, token, status string
	}{
		{"wrong token", e.url, "not-the-token", "HTTP 401"},
		{"workers disabled", noWorkers.URL, token, "HTTP 403"},
		{"API token without tasker.worker:work", withAuth.URL, reader, "tasker.worker:work"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := remoteworker.New(remoteworker.Config{ServerURL: tc.url, Token: tc.token, Queues: []string{"billing"},
				Logger: slog.New(slog.DiscardHandler), PollWait: 100 * time.Millisecond},
				func(context.Context, *remoteworker.Step) (any, error) { return nil, nil })
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			err = w.Run(ctx)
			require.ErrorIs(t, err, remoteworker.ErrUnauthorized)
			require.ErrorContains(t, err, tc.status)
			require.NoError(t, ctx.Err(), "Run returned because of the refusal, not the deadline")
		})
	}
}

// claimHook is a transport that tells when a claim is sent and can act on
// its answer before the worker reads it.
type claimHook struct {
	sent     chan struct{} // gets a value when a claim request is sent
	answered func(steps int)
}

func (h *claimHook) RoundTrip(r *http.Request) (*http.Response, error) {
	isClaim := strings.HasSuffix(r.URL.Path, "/workers/claim")
	if isClaim && h.sent != nil {
		select {
		case h.sent <- struct{}{}:
		default:
		}
	}
	res, err := http.DefaultTransport.RoundTrip(r)
	if err != nil || !isClaim || h.answered == nil || res.StatusCode != http.StatusOK {
		return res, err
	}
	body, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if err != nil {
		return nil, err
	}
	var out struct {
		Steps []json.RawMessage `json:"steps"`
	}
	if json.Unmarshal(body, &out) == nil {
		h.answered(len(out.Steps))
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	return res, nil
}

// Cancelling Run's context ends a claim waiting in its long poll at once.
func TestCancelAbortsTheLongPoll(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	hook := &claimHook{sent: make(chan struct{}, 1)}
	w, err := remoteworker.New(remoteworker.Config{ServerURL: e.url, Token: token, Queues: []string{"billing"},
		PollWait: 25 * time.Second, Logger: slog.New(slog.DiscardHandler), HTTPClient: &http.Client{Transport: hook}},
		func(context.Context, *remoteworker.Step) (any, error) { return nil, nil })
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	<-hook.sent
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run still waits for its 25 s long poll after its context was cancelled")
	}
}

// Steps whose claim is answered as the worker is told to stop are released
// unstarted, not run, and not left leased to the stopped worker.
func TestStepsClaimedAsTheWorkerStopsAreReleased(t *testing.T) {
	t.Parallel()
	e := newEngine(t, billingTemplate("remote_stop"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hook := &claimHook{answered: func(steps int) {
		if steps > 0 {
			cancel() // the signal arrives with the answer
		}
	}}
	var ran atomic.Int32
	w, err := remoteworker.New(remoteworker.Config{ServerURL: e.url, Token: token, Queues: []string{"billing"},
		PollWait: 5 * time.Second, Logger: slog.New(slog.DiscardHandler), HTTPClient: &http.Client{Transport: hook}},
		func(context.Context, *remoteworker.Step) (any, error) { ran.Add(1); return map[string]any{}, nil })
	require.NoError(t, err)
	res, err := e.client.CreateTask(t.Context(), &tasker.TaskRequest{Name: "remote_stop"})
	require.NoError(t, err)
	require.NoError(t, w.Run(ctx))
	require.Zero(t, ran.Load(), "a step claimed as the worker stopped was run")
	s := requireGivenBack(t, e, res.Steps[0].ID, "the step was given back")
	require.Empty(t, s.LeaseOwner)
}

// requireGivenBack requires that step stepID is pending again with no
// attempt counted, and returns it.
func requireGivenBack(t *testing.T, e *engine, stepID int64, msg string) *tasker.Step {
	t.Helper()
	s, err := e.client.GetStep(t.Context(), stepID)
	require.NoError(t, err)
	require.Equal(t, taskertype.StatePending, s.State, msg)
	require.Equal(t, 0, s.Attempts)
	return s
}

// A handler's annotations are sent with its result and stored with it,
// failed attempts' too; one the server refuses fails the attempt
// permanently, saying why, and none of its annotations is stored.
func TestAnnotate(t *testing.T) {
	t.Parallel()
	e := newEngine(t, billingTemplate("annotated"))
	startWorker(t, e, remoteworker.Config{}, func(_ context.Context, s *remoteworker.Step) (any, error) {
		var in struct {
			Type string `json:"type"`
		}
		if err := s.DecodeContext(&in); err != nil {
			return nil, err
		}
		if err := s.Annotate("not an object", []int{1}); err == nil {
			return nil, remoteworker.Permanent(errors.New("Annotate took a JSON array"))
		}
		if err := s.Annotate(in.Type, map[string]any{"attempt": s.Attempt}); err != nil {
			return nil, err
		}
		if s.Attempt == 1 {
			return nil, errors.New("gateway busy")
		}
		return map[string]bool{"ok": true}, nil
	})
	res, err := e.client.CreateTask(t.Context(), &tasker.TaskRequest{Name: "annotated", Context: map[string]string{"type": "gateway"}})
	require.NoError(t, err)
	require.Equal(t, taskertype.StateComplete, waitFinal(t, e.client, res.Task.ID).State)
	got, err := e.client.TaskAnnotations(t.Context(), res.Task.ID)
	require.NoError(t, err)
	require.Len(t, got[res.Task.ID], 2, "the failed attempt's and the successful one's")
	for i, a := range got[res.Task.ID] {
		require.Equal(t, "gateway", a.Type)
		require.JSONEq(t, fmt.Sprintf(`{"attempt": %d}`, i+1), string(a.Annotation))
	}

	s := runToEnd(t, e, &tasker.TaskRequest{Name: "annotated", Context: map[string]string{"type": "bad type"}}, taskertype.StateError)
	require.Equal(t, "permanent", s.LastError.Kind)
	require.Contains(t, s.LastError.Message, "the server refused the step's result: HTTP 400: invalid remote result")
	require.Contains(t, s.LastError.Message, "annotations[0].annotation_type")
	got, err = e.client.TaskAnnotations(t.Context(), s.TaskID)
	require.NoError(t, err)
	require.Empty(t, got[s.TaskID])
}
