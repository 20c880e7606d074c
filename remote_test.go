package tasker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskertype"
	"github.com/tasker-go/tasker/taskerwire"
)

// remoteTemplate is prepare (Go) → charge (remote queue billing) → notify (Go).
func remoteTemplate() *tasker.TaskTemplate {
	return &tasker.TaskTemplate{Name: "remote_flow", Steps: []tasker.StepTemplate{
		{Name: "prepare", Handler: "test"},
		{Name: "charge", Handler: "remote", DependsOn: []string{"prepare"}, RetryLimit: 3,
			HandlerConfig: map[string]any{"queue": "billing", "currency": "EUR"}},
		{Name: "notify", Handler: "test", DependsOn: []string{"charge"}},
	}}
}

func (e *env) claim(worker string, lease time.Duration, queues ...string) []*taskerwire.Step {
	e.t.Helper()
	steps, err := e.client.ClaimRemoteSteps(e.ctx, &taskerwire.ClaimRequest{WorkerID: worker, Queues: queues, Limit: 10, Lease: lease})
	require.NoError(e.t, err)
	return steps
}

// newClaimedRemote is newEnv with remoteTemplate and a task of it whose
// remote step, charge, worker w1 has claimed with the lease given.
func newClaimedRemote(t *testing.T, lease time.Duration) (*env, *tasker.Task, *taskerwire.Step) {
	t.Helper()
	e := newEnv(t, remoteTemplate())
	task := e.create("remote_flow", nil)
	e.singlePass()
	return e, task, e.claim("w1", lease, "billing")[0]
}

// A remote step is never run in-process; a remote worker claims it with its
// input document, fails it with a retry-after, and completes it; the
// workflow continues as with in-process steps.
func TestRemoteStepLifecycle(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t, remoteTemplate())
		events, unsub := e.client.Subscribe("step.*", "task.*")
		defer unsub()
		task := e.create("remote_flow", map[string]any{"order": 7})
		e.singlePass()
		e.expect(task.ID, map[string]stepWant{"prepare": complete(1), "charge": pending(0), "notify": pending(0)})
		require.Equal(t, taskertype.StateInProgress, e.task(task.ID).State, "the task waits for its remote step")

		require.Empty(t, e.claim("w1", 0, "mail"), "another queue")
		got := e.claim("w1", 0, "billing", "mail")
		require.Len(t, got, 1)
		rs := got[0]
		require.Equal(t, "charge", rs.StepName)
		require.Equal(t, "billing", rs.Queue)
		require.Equal(t, 1, rs.Attempt)
		require.Equal(t, 3, rs.RetryLimit)
		require.Equal(t, e.clock.Now().Add(tasker.DefaultRemoteLease), rs.LeaseExpiresAt)
		require.Equal(t, (5 * time.Minute).Milliseconds(), rs.TimeoutMS)
		require.Equal(t, "task-"+strconv.FormatInt(task.ID, 10)+"/charge", rs.IdempotencyKey)
		require.JSONEq(t, `{"order":7}`, string(rs.Context))
		require.JSONEq(t, `{"queue":"billing","currency":"EUR"}`, string(rs.Config))
		require.Contains(t, rs.Dependencies, "prepare")
		require.Empty(t, e.claim("w2", 0, "billing"), "a claimed step is not claimed twice")

		step, err := e.client.FinishRemoteStep(e.ctx, &taskerwire.Result{WorkerID: "w1", StepID: rs.StepID, Attempt: 1,
			Error: &taskerwire.Error{Message: "gateway busy", RetryAfter: 10 * time.Second, Class: "GatewayBusy", Detail: "Traceback...",
				Details: json.RawMessage(`{"gateway":"psp-1"}`)}})
		require.NoError(t, err)
		require.Equal(t, taskertype.StateError, step.State)
		require.Equal(t, e.clock.Now().Add(10*time.Second), step.NextAttemptAt, "the worker's retry-after")
		require.Equal(t, "GatewayBusy", step.LastError.Class)
		require.Equal(t, "retryable", step.LastError.Kind)
		require.Equal(t, "Traceback...", step.LastError.Stack)
		require.JSONEq(t, `{"gateway":"psp-1"}`, string(step.LastError.Details))

		require.Empty(t, e.claim("w1", 0, "billing"), "backoff not elapsed")
		e.clock.Advance(10 * time.Second)
		got = e.claim("w2", time.Minute, "billing")
		require.Len(t, got, 1)
		require.Equal(t, 2, got[0].Attempt)
		step, err = e.client.FinishRemoteStep(e.ctx, &taskerwire.Result{WorkerID: "w2", StepID: got[0].StepID, Attempt: 2,
			Results: json.RawMessage(`{"charge_id":"ch_1"}`)})
		require.NoError(t, err)
		require.Equal(t, taskertype.StateComplete, step.State)
		require.JSONEq(t, `{"charge_id":"ch_1"}`, string(step.Results))

		e.singlePass()
		e.expect(task.ID, map[string]stepWant{"prepare": complete(1), "charge": complete(2), "notify": complete(1)})
		require.Equal(t, taskertype.StateComplete, e.task(task.ID).State)
		e.checkAudit(task.ID)

		var names []string
		for len(events) > 0 {
			ev := <-events
			if ev.Step != nil && ev.Step.Name == "charge" {
				names = append(names, ev.Name)
			}
		}
		require.Equal(t, []string{
			"step.execution_requested", "step.failed", "step.backoff",
			"step.execution_requested", "step.completed",
		}, names, "remote attempts publish the in-process events")
	})
}

// A remote worker that stops heartbeating loses its lease: the step is
// rescued as worker_lost and re-run by another worker, and the first
// worker's late result is rejected without touching the newer attempt.
func TestRemoteLeaseLostAndLateResult(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e, task, first := newClaimedRemote(t, 5*time.Second)

		e.clock.Advance(3 * time.Second)
		kept, err := e.client.HeartbeatRemoteSteps(e.ctx, "w1", []int64{first.StepID}, 5*time.Second)
		require.NoError(t, err)
		require.Equal(t, []int64{first.StepID}, kept)
		e.clock.Advance(4 * time.Second)
		e.singlePass()
		require.Equal(t, taskertype.StateInProgress, e.steps(task.ID)["charge"].State, "the heartbeat extended the lease")

		e.clock.Advance(2 * time.Second) // past the extended lease
		e.singlePass()
		s := e.steps(task.ID)["charge"]
		require.Equal(t, taskertype.StateError, s.State)
		require.Equal(t, "worker_lost", s.LastError.Kind)
		require.Contains(t, s.LastError.Message, "worker w1 lost")

		_, err = e.client.FinishRemoteStep(e.ctx, &taskerwire.Result{WorkerID: "w1", StepID: first.StepID, Attempt: 1, Results: json.RawMessage(`{"late":1}`)})
		require.ErrorIs(t, err, tasker.ErrLeaseLost)
		require.ErrorContains(t, err, "the lease expired and attempt 1 was failed as worker_lost")

		e.clock.Advance(time.Minute)
		second := e.claim("w2", time.Minute, "billing")[0]
		require.Equal(t, 2, second.Attempt)
		kept, err = e.client.HeartbeatRemoteSteps(e.ctx, "w1", []int64{first.StepID}, 0)
		require.NoError(t, err)
		require.Empty(t, kept, "w1 holds nothing")

		_, err = e.client.FinishRemoteStep(e.ctx, &taskerwire.Result{WorkerID: "w1", StepID: first.StepID, Attempt: 1, Results: json.RawMessage(`{"late":1}`)})
		require.ErrorIs(t, err, tasker.ErrLeaseLost)
		require.EqualError(t, err, "step "+strconv.FormatInt(first.StepID, 10)+" attempt 1 is no longer held by worker w1: attempt 2 is now running on worker w2; the result was not recorded")
		s = e.steps(task.ID)["charge"]
		require.Equal(t, taskertype.StateInProgress, s.State, "the late result did not overwrite the newer attempt")
		require.Equal(t, "w2", s.LeaseOwner)
		require.Empty(t, s.Results)

		_, err = e.client.FinishRemoteStep(e.ctx, &taskerwire.Result{WorkerID: "w2", StepID: second.StepID, Attempt: 2, Results: json.RawMessage(`{"ok":true}`)})
		require.NoError(t, err)
		e.singlePass()
		require.Equal(t, taskertype.StateComplete, e.task(task.ID).State)
		require.JSONEq(t, `{"ok":true}`, string(e.steps(task.ID)["charge"].Results))
		e.checkAudit(task.ID)
	})
}

// A permanent remote failure blocks the step and fails the task; a result
// for a cancelled task is rejected.
func TestRemotePermanentFailureAndCancel(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e, task, rs := newClaimedRemote(t, 0)
		step, err := e.client.FinishRemoteStep(e.ctx, &taskerwire.Result{WorkerID: "w1", StepID: rs.StepID, Attempt: 1,
			Error: &taskerwire.Error{Message: "card declined", Kind: "permanent"}})
		require.NoError(t, err)
		require.True(t, step.Blocked)
		require.Equal(t, "remote", step.LastError.Class, "the default class of a remote error")
		require.Equal(t, taskertype.StateError, e.task(task.ID).State, "finalized in the result's transaction")

		other := e.create("remote_flow", map[string]any{"n": 2})
		e.singlePass()
		rs = e.claim("w1", 0, "billing")[0]
		_, err = e.client.CancelTask(e.ctx, other.ID, "customer left")
		require.NoError(t, err)
		_, err = e.client.FinishRemoteStep(e.ctx, &taskerwire.Result{WorkerID: "w1", StepID: rs.StepID, Attempt: 1, Results: json.RawMessage(`1`)})
		require.ErrorIs(t, err, tasker.ErrLeaseLost)
		require.ErrorContains(t, err, "the step is cancelled now")
		require.Equal(t, taskertype.StateCancelled, e.steps(other.ID)["charge"].State)
	})
}

// Long polling: a claim that waits returns the step that becomes ready
// meanwhile; one that finds nothing returns empty after its wait.
func TestRemoteClaimWaits(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		tmpl := &tasker.TaskTemplate{Name: "only_remote", Steps: []tasker.StepTemplate{
			{Name: "work", Handler: "remote", HandlerConfig: map[string]any{"queue": "q"}},
		}}
		e := newEnv(t, tmpl)
		steps, err := e.client.ClaimRemoteSteps(e.ctx, &taskerwire.ClaimRequest{WorkerID: "w", Queues: []string{"q"}, Wait: 50 * time.Millisecond})
		require.NoError(t, err)
		require.Empty(t, steps)

		type answer struct {
			steps []*taskerwire.Step
			err   error
		}
		out := make(chan answer, 1)
		go func() {
			s, err := e.client.ClaimRemoteSteps(e.ctx, &taskerwire.ClaimRequest{WorkerID: "w", Queues: []string{"q"}, Wait: tasker.MaxRemoteWait})
			out <- answer{s, err}
		}()
		task := e.create("only_remote", nil)
		a := <-out
		require.NoError(t, a.err)
		require.Len(t, a.steps, 1)
		require.Equal(t, task.ID, a.steps[0].TaskID)
		require.Equal(t, taskertype.StateInProgress, e.task(task.ID).State, "the remote claim started the task")
	})
}

func TestRemoteValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, err := e.client.ClaimRemoteSteps(e.ctx, &taskerwire.ClaimRequest{Limit: 1000, Lease: time.Millisecond, Wait: time.Hour})
	var ve *tasker.ValidationError
	require.True(t, errors.As(err, &ve), "%v", err)
	require.Equal(t, map[string]string{
		"worker_id": "is required: 1 to 200 printable ASCII characters without spaces, unique per worker process (such as host-pid)",
		"queues":    `is required: list the queues this worker serves, such as ["billing"]`,
		"limit":     "must be between 1 and 100",
		"lease":     "must be between 1s and 1h0m0s",
		"wait":      "must be between 0 and 30s",
	}, ve.Fields)
	_, err = e.client.ClaimRemoteSteps(e.ctx, &taskerwire.ClaimRequest{WorkerID: "w", Queues: []string{"ok", "bad queue"}})
	require.True(t, errors.As(err, &ve))
	require.Equal(t, map[string]string{"queues[1]": `"bad queue" is not a queue name: use 1 to 128 letters, digits, '_', '.', ':' or '-'`}, ve.Fields)

	_, err = e.client.FinishRemoteStep(e.ctx, &taskerwire.Result{WorkerID: "w", Error: &taskerwire.Error{Kind: "odd", RetryAfter: -1, Details: json.RawMessage(`[1]`)}})
	require.True(t, errors.As(err, &ve))
	require.Equal(t, map[string]string{
		"step_id":           "is required: the step_id of the claimed step",
		"attempt":           "is required: the attempt number of the claim",
		"error.message":     "is required: say what went wrong",
		"error.kind":        `"odd" is unknown: use retryable, permanent or timeout`,
		"error.retry_after": "must be a positive delay on a retryable error",
		"error.details":     "must be a JSON object",
	}, ve.Fields)
	_, err = e.client.FinishRemoteStep(e.ctx, &taskerwire.Result{WorkerID: "w", StepID: 999999, Attempt: 1})
	require.ErrorIs(t, err, tasker.ErrNotFound)

	reg := tasker.NewRegistry()
	for cfg, want := range map[string]string{
		`{}`:               "handler_config.queue is required for handler remote: name the queue its remote workers poll, such as \"billing\"",
		`{"queue":"a b"}`:  "handler_config.queue a b is not a queue name: use 1 to 128 letters, digits, '_', '.', ':' or '-', starting with a letter or digit",
		`{"queue":["x"]}`:  "handler_config.queue [x] is not a queue name: use 1 to 128 letters, digits, '_', '.', ':' or '-', starting with a letter or digit",
		`{"queue":"-bad"}`: "handler_config.queue -bad is not a queue name: use 1 to 128 letters, digits, '_', '.', ':' or '-', starting with a letter or digit",
	} {
		var hc map[string]any
		require.NoError(t, json.Unmarshal([]byte(cfg), &hc))
		err := reg.RegisterTemplate(&tasker.TaskTemplate{Name: "r", Steps: []tasker.StepTemplate{{Name: "s", Handler: "remote", HandlerConfig: hc}}}, tasker.RegisterOptions{Replace: true})
		require.ErrorContains(t, err, want, cfg)
	}
}

// A step result reported for an in-process step is refused.
func TestRemoteFinishOfLocalStepRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, template("default", "local", "1.0.0", stepDef{name: "a"}))
	task := e.create("local", nil)
	s := e.steps(task.ID)["a"]
	_, err := e.client.FinishRemoteStep(e.ctx, &taskerwire.Result{WorkerID: "w", StepID: s.ID, Attempt: 1})
	require.ErrorIs(t, err, tasker.ErrInvalidState)
	require.ErrorContains(t, err, "step is not in a remote queue: it is run by in-process workers")
}

// A remote worker that shuts down gives its attempt back: the step is
// pending again, the attempt not counted; a second release is refused.
func TestRemoteRelease(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e, task, rs := newClaimedRemote(t, 0)
		released, unsub := e.client.Subscribe(tasker.EventStepInitializeRequested)
		defer unsub()
		step, err := e.client.ReleaseRemoteStep(e.ctx, "w1", rs.StepID, rs.Attempt)
		require.NoError(t, err)
		require.Equal(t, taskertype.StatePending, step.State)
		var ev *tasker.Event
		select {
		case ev = <-released: // published before ReleaseRemoteStep returns
		default:
			t.Fatal("no step.initialize_requested for the released step")
		}
		require.Equal(t, rs.StepID, ev.Step.ID)
		require.Equal(t, task.ID, ev.Task.ID)
		require.Equal(t, rs.Attempt, ev.Attempt, "the attempt given back")
		require.JSONEq(t, `{"reason": "released_on_shutdown", "worker": "w1", "attempt": 1}`, string(ev.Payload))
		require.Equal(t, 0, step.Attempts, "the released attempt does not count")
		require.Empty(t, step.LeaseOwner)
		_, err = e.client.ReleaseRemoteStep(e.ctx, "w1", rs.StepID, rs.Attempt)
		require.ErrorIs(t, err, tasker.ErrLeaseLost)
		require.Empty(t, released, "a refused release publishes nothing")

		again := e.claim("w2", 0, "billing")
		require.Len(t, again, 1)
		require.Equal(t, 1, again[0].Attempt, "claimed again as attempt 1")
		_, err = e.client.FinishRemoteStep(e.ctx, &taskerwire.Result{WorkerID: "w2", StepID: rs.StepID, Attempt: 1, Results: json.RawMessage(`{}`)})
		require.NoError(t, err)
		e.singlePass()
		require.Equal(t, taskertype.StateComplete, e.task(task.ID).State)
		e.checkAudit(task.ID)
	})
}

// A remote worker publishes custom events declared for its step; they are
// delivered after the result is recorded. An undeclared one is refused.
func TestRemoteCustomEvents(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		tmpl := &tasker.TaskTemplate{Name: "remote_events", Steps: []tasker.StepTemplate{
			{Name: "charge", Handler: "remote", HandlerConfig: map[string]any{"queue": "billing"},
				CustomEvents: []tasker.CustomEvent{{Name: "payment.charged", Description: "the card was charged"}}},
		}}
		e := newEnv(t, tmpl)
		events, unsub := e.client.Subscribe("payment.*")
		defer unsub()
		task := e.create("remote_events", nil)
		rs := e.claim("w1", 0, "billing")[0]
		_, err := e.client.FinishRemoteStep(e.ctx, &taskerwire.Result{WorkerID: "w1", StepID: rs.StepID, Attempt: 1, Results: json.RawMessage(`{}`),
			Events: []taskerwire.Event{{Name: "payment.refunded"}, {Name: "payment.charged", Payload: json.RawMessage(`{"amount`)}}})
		var ve *tasker.ValidationError
		require.True(t, errors.As(err, &ve), "%v", err)
		require.Equal(t, map[string]string{
			"events[0].name":    `custom event "payment.refunded" is not declared for step "charge" of default.remote_events@0.1.0: declare it under custom_events of the step, or register it with Registry.RegisterCustomEvent`,
			"events[1].payload": "must be JSON",
		}, ve.Fields)
		require.Empty(t, events, "nothing recorded, nothing published")

		_, err = e.client.FinishRemoteStep(e.ctx, &taskerwire.Result{WorkerID: "w1", StepID: rs.StepID, Attempt: 1, Results: json.RawMessage(`{}`),
			Events: []taskerwire.Event{{Name: "payment.charged", Payload: json.RawMessage(`{"amount": 42}`)}}})
		require.NoError(t, err)
		ev := <-events
		require.Equal(t, "payment.charged", ev.Name)
		require.JSONEq(t, `{"amount": 42}`, string(ev.Payload))
		require.Equal(t, "charge", ev.Step.Name)
		require.Equal(t, task.ID, ev.Task.ID)
		require.Equal(t, 1, ev.Attempt)
	})
}

// A remote result the database would refuse is a validation error naming
// the field (so the worker can report a failure instead), not a server
// error, on both databases alike (SQLite could store the number).
func TestRemoteUnstorableResult(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e, _, rs := newClaimedRemote(t, 0)
		_, err := e.client.FinishRemoteStep(e.ctx, &taskerwire.Result{WorkerID: "w1", StepID: rs.StepID, Attempt: 1, Results: json.RawMessage(`{"n": 1e1000000}`)})
		var ve *tasker.ValidationError
		require.True(t, errors.As(err, &ve), "%v", err)
		require.Contains(t, ve.Fields["results"], "holds the number 1e1000000, which cannot be stored")
		step, err := e.client.FinishRemoteStep(e.ctx, &taskerwire.Result{WorkerID: "w1", StepID: rs.StepID, Attempt: 1,
			Error: &taskerwire.Error{Message: "result refused", Kind: "permanent"}})
		require.NoError(t, err, "nothing was written: the attempt is still the worker's")
		require.True(t, step.Blocked)
	})
}

// Config.StepMiddleware wraps remote steps too: the chain runs when the
// worker's report arrives, sees the reported error as the Go error types
// (permanent, retry-after, class, details) or the reported results, and
// what it returns is recorded.
func TestStepMiddlewareWrapsRemoteSteps(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		type seen struct {
			step, config string
			attempt      int
			err          string
			permanent    bool
			retryAfter   time.Duration
			class        string
		}
		var calls []seen
		mw := tasker.StepMiddlewareFunc(func(ctx context.Context, s *tasker.StepContext, next func(context.Context) (any, error)) (any, error) {
			out, err := next(ctx)
			c := seen{step: s.Step.Name, config: fmt.Sprint(s.Config["currency"]), attempt: s.Attempt}
			if err != nil {
				c.err, c.permanent = err.Error(), tasker.IsPermanent(err)
				c.retryAfter, _ = tasker.RetryAfterDelay(err)
				if ce, ok := errors.AsType[tasker.ClassifiedError](err); ok {
					c.class = ce.ErrorClass()
				}
			}
			if s.Step.Queue != "" {
				calls = append(calls, c)
			}
			if raw, ok := out.(json.RawMessage); ok && err == nil {
				return map[string]any{"wrapped": raw}, nil
			}
			return out, err
		})
		e := newEnvWith(t, func(cfg *tasker.Config) { cfg.StepMiddleware = []tasker.StepMiddleware{mw} }, remoteTemplate())
		task := e.create("remote_flow", nil)
		e.singlePass()
		rs := e.claim("w1", 0, "billing")[0]
		step, err := e.client.FinishRemoteStep(e.ctx, &taskerwire.Result{WorkerID: "w1", StepID: rs.StepID, Attempt: 1,
			Error: &taskerwire.Error{Message: "gateway busy", RetryAfter: 10 * time.Second, Class: "GatewayBusy", Details: json.RawMessage(`{"g":1}`)}})
		require.NoError(t, err)
		require.Equal(t, taskertype.StateError, step.State)
		require.Equal(t, "GatewayBusy", step.LastError.Class, "the reported error is recorded as it came through the chain")
		require.JSONEq(t, `{"g":1}`, string(step.LastError.Details))
		require.Equal(t, e.clock.Now().Add(10*time.Second), step.NextAttemptAt)

		e.clock.Advance(10 * time.Second)
		rs = e.claim("w1", 0, "billing")[0]
		step, err = e.client.FinishRemoteStep(e.ctx, &taskerwire.Result{WorkerID: "w1", StepID: rs.StepID, Attempt: 2, Results: json.RawMessage(`{"charge_id":"ch_1"}`)})
		require.NoError(t, err)
		require.Equal(t, taskertype.StateComplete, step.State)
		require.JSONEq(t, `{"wrapped":{"charge_id":"ch_1"}}`, string(step.Results), "the chain's result is recorded")

		// A report for an attempt the worker no longer holds is refused without running the chain.
		_, err = e.client.FinishRemoteStep(e.ctx, &taskerwire.Result{WorkerID: "w1", StepID: rs.StepID, Attempt: 2, Results: json.RawMessage(`{}`)})
		require.ErrorIs(t, err, tasker.ErrLeaseLost)
		require.Equal(t, []seen{
			{step: "charge", config: "EUR", attempt: 1, err: "gateway busy", retryAfter: 10 * time.Second, class: "GatewayBusy"},
			{step: "charge", config: "EUR", attempt: 2},
		}, calls)
		_ = task
	})
}
