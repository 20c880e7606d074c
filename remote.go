package tasker

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"time"

	"github.com/tasker-go/tasker/internal/orchestrator"
	"github.com/tasker-go/tasker/internal/retrypolicy"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskerlog"
	"github.com/tasker-go/tasker/taskerwire"
)

// Remote workers run the steps of remote queues outside the engine's
// process, in any language: a step template says `handler: remote` with
// `handler_config: {queue: NAME}`, in-process workers never claim it, and a
// remote worker claims it (ClaimRemoteSteps, or POST /tasker/workers/claim),
// heartbeats while it works and reports the outcome (FinishRemoteStep). The
// lease, retry, rescue and finalization rules are those of in-process steps.

// RemoteHandler is the name of the built-in handler of remote steps.
const RemoteHandler = "remote"

// Limits of remote worker requests (see package taskerwire).
const (
	// MaxRemoteClaim is the most steps one claim returns.
	MaxRemoteClaim = taskerwire.MaxClaim
	// MaxRemoteWait is the longest a claim waits for a step.
	MaxRemoteWait = taskerwire.MaxWait
	// MinRemoteLease and MaxRemoteLease bound a remote lease.
	MinRemoteLease = taskerwire.MinLease
	MaxRemoteLease = taskerwire.MaxLease
	// DefaultRemoteLease is the lease of a claim that gives none.
	DefaultRemoteLease = taskerwire.DefaultLease
)

var (
	queueName    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`)
	remoteWorker = regexp.MustCompile(`^[\x21-\x7e]{1,200}$`)
)

// remoteHandler is the built-in "remote" handler: it only checks the
// configuration. Its steps carry a queue, so in-process workers never claim
// them; Handle runs only if such a step somehow reaches one.
type remoteHandler struct{}

// ValidateConfig implements ConfigValidator: queue is required; the other
// keys are passed to the remote worker as they are.
func (remoteHandler) ValidateConfig(config map[string]any) error {
	_, err := remoteQueue(config)
	return err
}

func remoteQueue(config map[string]any) (string, error) {
	v, ok := config["queue"]
	if !ok {
		return "", errors.New("handler_config.queue is required for handler remote: name the queue its remote workers poll, such as \"billing\"")
	}
	q, _ := v.(string)
	if !queueName.MatchString(q) {
		return "", fmt.Errorf("handler_config.queue %v is not a queue name: use 1 to 128 letters, digits, '_', '.', ':' or '-', starting with a letter or digit", v)
	}
	return q, nil
}

// UsesExactConfig implements ExactConfigUser.
func (remoteHandler) UsesExactConfig() bool { return true }

func (remoteHandler) Handle(_ context.Context, s *StepContext) (any, error) {
	return nil, PermanentError(fmt.Errorf("step %q is a remote step: it runs on remote workers polling its queue, not in-process", s.Step.Name))
}

// The remote-worker wire types moved to package taskerwire, which the
// server, the Go client (remoteworker) and the tasker command share.
type (
	// RemoteClaimRequest asks for steps of remote queues.
	//
	// Deprecated: use taskerwire.ClaimRequest.
	RemoteClaimRequest = taskerwire.ClaimRequest
	// RemoteStep is a claimed remote step.
	//
	// Deprecated: use taskerwire.Step.
	RemoteStep = taskerwire.Step
	// RemoteResult is a remote worker's report on one attempt.
	//
	// Deprecated: use taskerwire.Result.
	RemoteResult = taskerwire.Result
	// RemoteEvent is a custom event published by a remote worker.
	//
	// Deprecated: use taskerwire.Event.
	RemoteEvent = taskerwire.Event
	// RemoteError is a failed remote attempt.
	//
	// Deprecated: use taskerwire.Error.
	RemoteError = taskerwire.Error
)

const maxRemoteDetail = 64 << 10

// remote returns the client's remote-step service.
func (c *Client) remote() *orchestrator.Remote {
	c.remoteOnce.Do(func() {
		c.remoteSvc = orchestrator.NewRemote(orchestrator.RemoteConfig{
			Driver: c.driver, Recorder: c.rec, Now: c.cfg.Now, PollInterval: c.cfg.Worker.PollInterval, Publish: c.publish,
		})
	})
	return c.remoteSvc
}

// ClaimRemoteSteps leases ready steps of req.Queues to req.WorkerID,
// waiting up to req.Wait for one. An empty answer is not an error.
func (c *Client) ClaimRemoteSteps(ctx context.Context, req *taskerwire.ClaimRequest) ([]*taskerwire.Step, error) {
	if err := validateClaim(req); err != nil {
		return nil, err
	}
	claims, err := c.remote().Claim(ctx, orchestrator.RemoteClaim{
		WorkerID: req.WorkerID, Queues: req.Queues, Limit: cmp.Or(req.Limit, 1),
		Lease: cmp.Or(req.Lease, DefaultRemoteLease), Wait: req.Wait,
	})
	if err != nil {
		return nil, err
	}
	// Recorded after the claim, so that a database that is down costs the
	// worker one timeout, not two.
	c.remoteSeen(ctx, req.WorkerID, req.Queues)
	out := make([]*taskerwire.Step, len(claims))
	for i, cs := range claims {
		out[i] = c.remoteStep(cs)
	}
	return out, nil
}

func validateClaim(req *taskerwire.ClaimRequest) error {
	fields := map[string]string{}
	if req == nil {
		req = &taskerwire.ClaimRequest{}
	}
	if !remoteWorker.MatchString(req.WorkerID) {
		fields["worker_id"] = "is required: 1 to 200 printable ASCII characters without spaces, unique per worker process (such as host-pid)"
	}
	switch {
	case len(req.Queues) == 0:
		fields["queues"] = "is required: list the queues this worker serves, such as [\"billing\"]"
	case len(req.Queues) > 50:
		fields["queues"] = fmt.Sprintf("has %d queues: give at most 50", len(req.Queues))
	default:
		for i, q := range req.Queues {
			if !queueName.MatchString(q) {
				fields["queues["+strconv.Itoa(i)+"]"] = fmt.Sprintf("%q is not a queue name: use 1 to 128 letters, digits, '_', '.', ':' or '-'", q)
			}
		}
	}
	if req.Limit < 0 || req.Limit > MaxRemoteClaim {
		fields["limit"] = fmt.Sprintf("must be between 1 and %d", MaxRemoteClaim)
	}
	if req.Lease != 0 && (req.Lease < MinRemoteLease || req.Lease > MaxRemoteLease) {
		fields["lease"] = fmt.Sprintf("must be between %s and %s", MinRemoteLease, MaxRemoteLease)
	}
	if req.Wait < 0 || req.Wait > MaxRemoteWait {
		fields["wait"] = fmt.Sprintf("must be between 0 and %s", MaxRemoteWait)
	}
	if len(fields) > 0 {
		return &ValidationError{Message: "invalid remote claim", Fields: fields}
	}
	return nil
}

func (c *Client) remoteStep(cs *taskerdriver.ClaimedStep) *taskerwire.Step {
	s, t := cs.Step, cs.Task
	pol := retrypolicy.DecodeStepPolicy(s.Policy)
	timeout := cmp.Or(pol.Timeout, c.cfg.Worker.StepTimeout, 5*time.Minute)
	deps := cs.Dependencies
	if deps == nil {
		deps = map[string]json.RawMessage{}
	}
	for k, v := range deps {
		if len(v) == 0 {
			deps[k] = json.RawMessage("null")
		}
	}
	return &taskerwire.Step{
		TaskID: t.ID, StepID: s.ID, StepName: s.Name, Namespace: t.Namespace, TaskName: t.Name, Version: t.Version,
		Queue: s.Queue, Attempt: s.Attempts, RetryLimit: s.RetryLimit, LeaseExpiresAt: s.LeaseExpiresAt,
		TimeoutMS: timeout.Milliseconds(), IdempotencyKey: "task-" + strconv.FormatInt(t.ID, 10) + "/" + s.Name,
		Context: rawOr(t.Context, "{}"), Dependencies: deps,
		Config: rawOr(s.HandlerConfig, "{}"), Inputs: s.Inputs, TraceParent: t.TraceParent, TraceState: t.TraceState,
	}
}

// HeartbeatRemoteSteps extends the leases workerID holds on stepIDs by
// lease (DefaultRemoteLease when zero) and returns the ids it extended. A
// step missing from the answer is no longer the worker's (its lease expired
// and it was rescued, or its task was cancelled): stop working on it.
func (c *Client) HeartbeatRemoteSteps(ctx context.Context, workerID string, stepIDs []int64, lease time.Duration) ([]int64, error) {
	fields := map[string]string{}
	if !remoteWorker.MatchString(workerID) {
		fields["worker_id"] = "is required: the worker_id the steps were claimed with"
	}
	if len(stepIDs) == 0 || len(stepIDs) > 1000 {
		fields["step_ids"] = "must list 1 to 1000 step ids the worker holds"
	}
	if lease != 0 && (lease < MinRemoteLease || lease > MaxRemoteLease) {
		fields["lease"] = fmt.Sprintf("must be between %s and %s", MinRemoteLease, MaxRemoteLease)
	}
	if len(fields) > 0 {
		return nil, &ValidationError{Message: "invalid heartbeat", Fields: fields}
	}
	kept, err := c.remote().Heartbeat(ctx, workerID, stepIDs, cmp.Or(lease, DefaultRemoteLease))
	if err == nil {
		c.remoteSeen(ctx, workerID, nil)
	}
	return kept, err
}

// FinishRemoteStep records a remote worker's outcome of one attempt, with
// the same effects as an in-process result: children made ready, a retry
// scheduled (after Error.RetryAfter when given) or the step blocked, and the
// task finalized. A worker that no longer holds the attempt (its lease
// expired and the step was rescued or re-claimed, or the task was
// cancelled) gets an error matching ErrLeaseLost that says why, and nothing
// is written.
func (c *Client) FinishRemoteStep(ctx context.Context, r *taskerwire.Result) (*Step, error) {
	if r == nil {
		r = &taskerwire.Result{}
	}
	fields := attemptFields(r.WorkerID, r.StepID, r.Attempt)
	var res orchestrator.Result
	if e := r.Error; e != nil {
		if e.Message == "" {
			fields["error.message"] = "is required: say what went wrong"
		}
		switch e.Kind {
		case "", "retryable", "timeout":
		case "permanent":
			res.Permanent = true
		default:
			fields["error.kind"] = fmt.Sprintf("%q is unknown: use retryable, permanent or timeout", e.Kind)
		}
		if e.RetryAfter < 0 || (e.RetryAfter > 0 && res.Permanent) {
			fields["error.retry_after"] = "must be a positive delay on a retryable error"
		}
		if len(e.Details) > 0 && (!json.Valid(e.Details) || e.Details[0] != '{') {
			fields["error.details"] = "must be a JSON object"
		}
		detail := e.Detail
		if len(detail) > maxRemoteDetail {
			detail = detail[len(detail)-maxRemoteDetail:]
		}
		res.Err = errors.New(e.Message)
		res.Kind, res.RetryAfter, res.Class, res.Stack, res.Details = e.Kind, e.RetryAfter, cmp.Or(e.Class, "remote"), detail, e.Details
	} else {
		res.Results = rawOr(r.Results, "null")
		if !json.Valid(res.Results) {
			fields["results"] = "must be JSON"
		} else if bad := nulFields(map[string]any{"results": res.Results}); bad != nil {
			fields["results"] = bad["results"]
		}
	}
	if len(fields) == 0 && len(r.Events) > 0 {
		evs, err := c.remoteEvents(ctx, r, fields)
		if err != nil {
			return nil, err
		}
		res.Events = evs
	}
	annotations := remoteAnnotations(r.Annotations, fields)
	if len(fields) > 0 {
		return nil, &ValidationError{Message: "invalid remote result", Fields: fields}
	}
	if len(c.cfg.StepMiddleware) > 0 {
		res = c.wrapRemote(ctx, r, res)
	}
	step, err := c.remote().Finish(ctx, r.WorkerID, r.StepID, r.Attempt, res, annotations)
	if ae, ok := errors.AsType[*orchestrator.AnnotationError](err); ok && errors.Is(err, taskerdriver.ErrValueRejected) {
		return nil, &ValidationError{Message: "invalid remote result", Fields: map[string]string{
			"annotations[" + strconv.Itoa(ae.Index) + "].annotation": "the database refused it (" + ae.Err.Error() + "): send values it can store"}}
	}
	if errors.Is(err, taskerdriver.ErrValueRejected) {
		field := "results"
		if r.Error != nil {
			field = "error"
		}
		return nil, &ValidationError{Message: "invalid remote result", Fields: map[string]string{
			field: "the database refused it (" + err.Error() + "): send values it can store"}}
	}
	return c.remoteAnswer(step, err, r.StepID)
}

// ReleaseRemoteStep gives back a claimed attempt without a result, for a
// remote worker that shuts down before its handler finished: the step is
// pending again and the attempt does not count, as when an in-process worker
// stops. A worker that no longer holds the attempt gets an error matching
// ErrLeaseLost.
func (c *Client) ReleaseRemoteStep(ctx context.Context, workerID string, stepID int64, attempt int) (*Step, error) {
	fields := attemptFields(workerID, stepID, attempt)
	if len(fields) > 0 {
		return nil, &ValidationError{Message: "invalid release", Fields: fields}
	}
	step, err := c.remote().Release(ctx, workerID, stepID, attempt)
	return c.remoteAnswer(step, err, stepID)
}

// attemptFields checks the identity of a claimed attempt in a report and
// returns the field problems (empty when none).
func attemptFields(workerID string, stepID int64, attempt int) map[string]string {
	fields := map[string]string{}
	if !remoteWorker.MatchString(workerID) {
		fields["worker_id"] = "is required: the worker_id the step was claimed with"
	}
	if stepID <= 0 {
		fields["step_id"] = "is required: the step_id of the claimed step"
	}
	if attempt <= 0 {
		fields["attempt"] = "is required: the attempt number of the claim"
	}
	return fields
}

// remoteAnswer maps the errors of a remote report to the API's: an unknown
// step is ErrNotFound, an in-process step ErrInvalidState.
func (c *Client) remoteAnswer(step *Step, err error, stepID int64) (*Step, error) {
	switch {
	case errors.Is(err, taskerdriver.ErrNotFound):
		return nil, c.notFound(err, "step", stepID)
	case errors.Is(err, orchestrator.ErrNotRemote):
		return nil, fmt.Errorf("%w: %w", ErrInvalidState, err)
	}
	return step, err
}

// maxRemoteEvents bounds the custom events of one remote result.
const maxRemoteEvents = 100

// remoteEvents checks the custom events of a remote result against the
// step's declarations, adding field problems to fields.
func (c *Client) remoteEvents(ctx context.Context, r *taskerwire.Result, fields map[string]string) ([]*Event, error) {
	if len(r.Events) > maxRemoteEvents {
		fields["events"] = fmt.Sprintf("has %d events: publish at most %d per attempt", len(r.Events), maxRemoteEvents)
		return nil, nil
	}
	step, err := c.GetStep(ctx, r.StepID)
	if err != nil {
		return nil, err
	}
	task, err := c.GetTask(ctx, step.TaskID)
	if err != nil {
		return nil, err
	}
	out := make([]*Event, 0, len(r.Events))
	for i, ev := range r.Events {
		key := "events[" + strconv.Itoa(i) + "]"
		if err := ValidateCustomEventName(ev.Name); err != nil {
			fields[key+".name"] = err.Error()
			continue
		}
		if !c.registry.customEventDeclared(task.Namespace, task.Name, task.Version, step.Name, ev.Name) {
			fields[key+".name"] = fmt.Sprintf("custom event %q is not declared for step %q of %s: declare it under custom_events of the step, or register it with Registry.RegisterCustomEvent",
				ev.Name, step.Name, task.FullName())
			continue
		}
		payload := rawOr(ev.Payload, "null")
		if !json.Valid(payload) {
			fields[key+".payload"] = "must be JSON"
			continue
		}
		if bad := nulFields(map[string]any{"payload": payload}); bad != nil {
			fields[key+".payload"] = bad["payload"]
			continue
		}
		out = append(out, &Event{Name: ev.Name, Payload: payload})
	}
	return out, nil
}

// maxRemoteAnnotations bounds the annotations of one remote result.
const maxRemoteAnnotations = 100

// remoteAnnotations checks the annotations of a remote result as
// AnnotateTask does, adding field problems (annotations[i].annotation_type,
// annotations[i].annotation) to fields, and returns them for Finish.
func remoteAnnotations(list []taskerwire.Annotation, fields map[string]string) []*taskerdriver.AnnotationInsertParams {
	if len(list) > maxRemoteAnnotations {
		fields["annotations"] = fmt.Sprintf("has %d annotations: record at most %d per attempt", len(list), maxRemoteAnnotations)
		return nil
	}
	out := make([]*taskerdriver.AnnotationInsertParams, 0, len(list))
	for i, a := range list {
		// A missing annotation is JSON null, which is refused as not an
		// object (json.Marshal refuses an empty RawMessage otherwise).
		raw, bad := annotationJSON(a.Type, rawOr(a.Annotation, "null"))
		for k, v := range bad {
			fields["annotations["+strconv.Itoa(i)+"]."+k] = v
		}
		out = append(out, &taskerdriver.AnnotationInsertParams{Type: a.Type, Annotation: raw})
	}
	return out
}

// rawOr returns raw, or def when raw is empty.
func rawOr(raw json.RawMessage, def string) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage(def)
	}
	return raw
}

// wrapRemote runs Config.StepMiddleware around a remote worker's reported
// outcome, when it arrives: the handler ran in another process, so next
// returns what the worker reported (its results as json.RawMessage, or an
// error carrying its kind, class, details and requested delay, which
// IsPermanent, RetryAfterDelay, DetailedError, ClassifiedError and
// DetailTextError see). What the chain returns is recorded, as for an
// in-process step. A report for an attempt the worker no longer holds is
// passed through unwrapped: Finish refuses it.
func (c *Client) wrapRemote(ctx context.Context, r *taskerwire.Result, res orchestrator.Result) orchestrator.Result {
	s, err := c.exec.StepGet(ctx, r.StepID)
	if err != nil || s.State != StateInProgress || s.LeaseOwner != r.WorkerID || s.Attempts != r.Attempt {
		return res
	}
	task, err := c.exec.TaskGet(ctx, s.TaskID)
	if err != nil {
		return res
	}
	ctx = taskerlog.WithAttrs(ctx, slog.Int64(taskerlog.KeyTaskID, task.ID), slog.String(taskerlog.KeyStep, s.Name), slog.Int(taskerlog.KeyAttempt, r.Attempt))
	sc := &StepContext{
		Task: task, Step: s, Attempt: r.Attempt, registry: c.registry, now: c.cfg.Now,
		Logger:   c.logger.With("task_id", task.ID, "step_id", s.ID, "step", s.Name, "attempt", r.Attempt, "worker_id", r.WorkerID),
		annotate: c.annotator(ctx, task.ID),
	}
	if len(s.HandlerConfig) > 0 {
		_ = json.Unmarshal(s.HandlerConfig, &sc.Config)
	}
	var reported error
	base := &remoteStepError{res: res}
	if res.Err != nil {
		reported = base
		switch {
		case res.Permanent:
			reported = PermanentError(base)
		case res.RetryAfter > 0:
			reported = RetryAfter(base, res.RetryAfter)
		}
	}
	out, err := chainStep(ctx, c.cfg.StepMiddleware, sc, func(context.Context) (any, error) {
		if reported != nil {
			return nil, reported
		}
		return res.Results, nil
	})
	sc.mu.Lock()
	events := append(res.Events, sc.published...)
	sc.mu.Unlock()
	nr := resultOf(ctx, out, err, events)
	if err != nil && errors.Is(err, base) {
		nr.Kind = res.Kind // the worker's own kind (timeout), when its error came through
	}
	return nr
}

// remoteStepError is a remote worker's reported failure as a Go error, for
// the middleware chain (see wrapRemote).
type remoteStepError struct{ res orchestrator.Result }

func (e *remoteStepError) Error() string            { return e.res.Err.Error() }
func (e *remoteStepError) Details() json.RawMessage { return e.res.Details }
func (e *remoteStepError) DetailText() string       { return e.res.Stack }
func (e *remoteStepError) ErrorClass() string       { return e.res.Class }
