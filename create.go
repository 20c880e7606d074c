package tasker

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/internal/ctxschema"
	"github.com/tasker-go/tasker/internal/jsonclean"
	"github.com/tasker-go/tasker/internal/orchestrator"
	"github.com/tasker-go/tasker/internal/retrypolicy"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// TaskRequest asks for a new task of a registered template.
type TaskRequest struct {
	// Name of the template (required).
	Name string `json:"name"`
	// Namespace of the template. Defaults to "default".
	Namespace string `json:"namespace,omitempty"`
	// Version of the template. Defaults to the highest registered version.
	Version string `json:"version,omitempty"`
	// Context is the task's input: a JSON object, given as json.RawMessage,
	// []byte, a map or any JSON-encodable struct. Validated against the
	// template's schema, whose defaults are applied.
	Context any `json:"context,omitempty"`
	// Initiator, SourceSystem and Reason describe who asked and why.
	// Each defaults to "unknown".
	Initiator    string   `json:"initiator,omitempty"`
	SourceSystem string   `json:"source_system,omitempty"`
	Reason       string   `json:"reason,omitempty"`
	Tags         []string `json:"tags,omitempty"`
	// RequestedAt defaults to now.
	RequestedAt time.Time `json:"requested_at,omitzero"`
	// IdempotencyKey makes a create safe to retry: a create under a key
	// that an earlier create gave within Config.IdempotencyWindow creates
	// nothing and returns the earlier create's task (Duplicate and Replayed
	// set), whatever the identity strategy. The same key with a different
	// request is an ErrIdempotencyKeyReused. At most 255 bytes; the REST API
	// takes it from the Idempotency-Key header.
	IdempotencyKey string `json:"-"`
}

// DefaultIdempotencyWindow is the default of Config.IdempotencyWindow.
const DefaultIdempotencyWindow = 24 * time.Hour

// MaxIdempotencyKeyLen is the longest TaskRequest.IdempotencyKey, in bytes.
const MaxIdempotencyKeyLen = 255

// ErrIdempotencyKeyReused is the error of a create whose IdempotencyKey an
// earlier create within the window gave with a different request (another
// template, context, initiator, source system, reason or tags).
var ErrIdempotencyKeyReused = errors.New("idempotency key reused with a different request")

// CreateResult is the outcome of CreateTask.
type CreateResult struct {
	Task  *Task
	Steps []*Step
	// Duplicate is true when the request matched an existing task under the
	// hash identity strategy, or an earlier create under its IdempotencyKey;
	// Task is that task and nothing was created.
	Duplicate bool
	// Replayed is true when the task was found by the request's
	// IdempotencyKey.
	Replayed bool
}

// CreateTask validates req against its template and creates the task, its
// steps and their dependencies in one transaction.
//
// The task stores the W3C trace context of ctx (with a TracerProvider, that
// of the tasker.task.create span, a child of ctx's span): every attempt of
// its steps joins that trace.
func (c *Client) CreateTask(ctx context.Context, req *TaskRequest) (*CreateResult, error) {
	return c.createTask(ctx, c.exec, req, true)
}

// CreateTaskTx creates the task inside the caller's own database transaction
// (a *sql.Tx on SQLite, a pgx.Tx on PostgreSQL): the task exists if and only
// if the caller commits. Workers in this process are woken at once; the
// task's steps become visible to them when the caller commits.
func (c *Client) CreateTaskTx(ctx context.Context, tx any, req *TaskRequest) (*CreateResult, error) {
	etx, err := c.driver.UnwrapTx(tx)
	if err != nil {
		return nil, err
	}
	return c.createTask(ctx, etx, req, false)
}

// createTask creates the task through ex; committed says whether ex commits
// by itself (so that events may be published now).
func (c *Client) createTask(ctx context.Context, ex taskerdriver.Executor, req *TaskRequest, committed bool) (res *CreateResult, err error) {
	ctx, span := c.trace.startCreate(ctx, req)
	defer func() { endCreate(span, res, err) }()
	if req == nil {
		return nil, &ValidationError{Message: "invalid task request", Fields: map[string]string{"name": "is required"}}
	}
	if strings.TrimSpace(req.Name) == "" {
		return nil, &ValidationError{Message: "invalid task request", Fields: map[string]string{"name": "is required: give the name of a registered task template"}}
	}
	tmpl, err := c.Template(ctx, req.Namespace, req.Name, req.Version)
	if err != nil {
		return nil, err
	}
	raw, err := contextJSON(req.Context)
	if err != nil {
		return nil, &ValidationError{Message: "invalid task context", Fields: map[string]string{"context": err.Error()}}
	}
	if fields := nulFields(map[string]any{"context": raw, "initiator": req.Initiator, "source_system": req.SourceSystem,
		"reason": req.Reason, "tags": req.Tags, "idempotency_key": req.IdempotencyKey}); fields != nil {
		return nil, &ValidationError{Message: "invalid task request", Fields: fields}
	}
	if len(req.IdempotencyKey) > MaxIdempotencyKeyLen {
		fields := map[string]string{"idempotency_key": fmt.Sprintf("is %d bytes long, more than %d: use a shorter key such as a UUID", len(req.IdempotencyKey), MaxIdempotencyKeyLen)}
		return nil, &ValidationError{Message: "invalid task request", Fields: fields}
	}
	validated, err := tmpl.schema.Validate(raw)
	if err != nil {
		var ve *ctxschema.ValidationError
		if errors.As(err, &ve) {
			fields := map[string]string{}
			for _, p := range ve.Problems {
				key := "context" + p.Path
				if prev, ok := fields[key]; ok {
					fields[key] = prev + "; " + p.Message
				} else {
					fields[key] = p.Message
				}
			}
			return nil, &ValidationError{Message: fmt.Sprintf("context does not match the schema of %s", tmpl.FullName()), Fields: fields}
		}
		return nil, &ValidationError{Message: "invalid task context", Fields: map[string]string{"context": err.Error()}}
	}
	now := c.cfg.Now().UTC()
	p := &taskerdriver.TaskCreateParams{
		Namespace: tmpl.Namespace, Name: tmpl.Name, Version: tmpl.Version, Context: validated,
		Initiator: cmpOr(req.Initiator, cmpOr(ActorFrom(ctx), "unknown")), SourceSystem: cmpOr(req.SourceSystem, "unknown"),
		Reason: cmpOr(req.Reason, "unknown"), Tags: req.Tags,
		RequestedAt: cmp.Or(req.RequestedAt, now).UTC(), Now: now,
	}
	if p.Tags == nil {
		p.Tags = []string{}
	}
	p.IdentityHash = c.identity(tmpl, req, p)
	p.TraceParent, p.TraceState = TraceContext(ctx)
	if a := ActorFrom(ctx); a != "" { // who created it, in its first transition
		p.Metadata, _ = json.Marshal(map[string]string{"initialized_by": "task_create", "actor": jsonclean.String(a)})
	}
	if req.IdempotencyKey != "" {
		p.IdempotencyKey, p.IdempotencySince = req.IdempotencyKey, now.Add(-c.cfg.IdempotencyWindow)
		p.IdempotencyHash = IdentityHashOf(p.Namespace, p.Name, p.Version, p.Initiator, p.SourceSystem, p.Reason,
			append(canonicalJSON(p.Context), canonicalJSON(mustJSON(p.Tags))...))
	}
	for i, s := range tmpl.Steps {
		sp := taskerdriver.StepCreateParams{
			Name: s.Name, Handler: s.Handler, RetryLimit: s.RetryLimit, Retryable: *s.Retryable, Skippable: s.Skippable,
			Policy: stepPolicy(&s).Encode(),
		}
		if s.HandlerConfig != nil {
			if sp.HandlerConfig, err = json.Marshal(s.HandlerConfig); err != nil {
				return nil, fmt.Errorf("encode handler_config of step %q: %w", s.Name, err)
			}
		}
		if s.Handler == RemoteHandler {
			if sp.Queue, err = remoteQueue(s.HandlerConfig); err != nil {
				return nil, fmt.Errorf("step %q: %w", s.Name, err)
			}
		}
		sp.Parents = append(sp.Parents, tmpl.graph.Parents(i)...)
		p.Steps = append(p.Steps, sp)
	}
	var dres *taskerdriver.TaskCreateResult
	create := func(ex taskerdriver.Executor) error {
		var err error
		if dres, err = ex.TaskCreate(ctx, p); err != nil {
			return err
		}
		if dres.Existing {
			return nil
		}
		return c.writeOutbox(ctx, ex, []*Event{{Name: taskertype.EventTaskInitializeRequested, Task: dres.Task, At: now}})
	}
	var (
		err2 error
		// after starts the steps this process's worker claimed in the
		// creating transaction (create-and-claim), once it has ended.
		after func(committed bool)
	)
	switch w := c.creatorWorker(tmpl); {
	case committed && w != nil:
		err2 = c.inTx(ctx, func(tx taskerdriver.ExecutorTx) error {
			var err error
			after, err = w.ClaimFor(ctx, tx, func(claim *taskerdriver.StepClaimParams) ([]*taskerdriver.ClaimedStep, error) {
				p.Claim = claim // the driver claims with the insert (TaskCreateParams.Claim)
				// Nothing follows in the transaction but the outbox rows of
				// durable subscriptions: without them the driver may commit
				// with the insert (TaskCreateParams.Settle).
				p.Settle = len(c.durable()) == 0
				if err := create(tx); err != nil {
					return nil, err
				}
				return dres.Claimed, nil
			})
			return err
		})
		if after != nil {
			// Once the transaction has ended, and on every return below:
			// the worker's reserved slots are freed even when the
			// creation found an existing task (which claimed nothing).
			defer after(err2 == nil)
		}
	case committed && len(c.durable()) > 0:
		err2 = c.inTx(ctx, func(tx taskerdriver.ExecutorTx) error { return create(tx) })
	default:
		err2 = create(ex)
	}
	if err2 != nil {
		return nil, err2
	}
	if dres.Replayed && dres.RequestHash != p.IdempotencyHash {
		return nil, fmt.Errorf("%w: key %q named task %d, created from another request; use a new key for a new request", ErrIdempotencyKeyReused, req.IdempotencyKey, dres.Task.ID)
	}
	if dres.Existing {
		return &CreateResult{Task: dres.Task, Duplicate: true, Replayed: dres.Replayed}, nil
	}
	if committed {
		c.publish([]*Event{{Name: taskertype.EventTaskInitializeRequested, Task: dres.Task, At: now}})
	}
	return &CreateResult{Task: dres.Task, Steps: dres.Steps}, nil
}

// creatorWorker returns the worker that claims a new task's first steps in
// the creating transaction: this client's, when it runs in the background
// and runs the handler of one of the template's root steps (not a remote
// one), so that a creation whose steps it would not claim costs no claim.
func (c *Client) creatorWorker(tmpl *TaskTemplate) *orchestrator.Worker {
	c.mu.Lock()
	w := c.worker // claims nothing unless it runs in the background (ClaimFor)
	c.mu.Unlock()
	if w == nil {
		return nil
	}
	runs := c.runnableHandlers()
	for i, s := range tmpl.Steps {
		if len(tmpl.graph.Parents(i)) == 0 && s.Handler != RemoteHandler && slices.Contains(runs, s.Handler) {
			return w
		}
	}
	return nil
}

func stepPolicy(s *StepTemplate) retrypolicy.StepPolicy {
	p := retrypolicy.StepPolicy{Timeout: s.Timeout}
	if s.Backoff != nil {
		p.Overrides = s.Backoff.overrides()
	}
	return p
}

// contextJSON encodes a request context as a JSON object.
func contextJSON(v any) (json.RawMessage, error) {
	var raw []byte
	switch x := v.(type) {
	case nil:
		return json.RawMessage(`{}`), nil
	case json.RawMessage:
		raw = x
	case []byte:
		raw = x
	case string:
		raw = []byte(x)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("cannot be encoded as JSON: %w", err)
		}
		raw = b
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return json.RawMessage(`{}`), nil
	}
	if !json.Valid(raw) {
		return nil, errors.New("is not valid JSON: give a JSON object such as {\"order_id\": 1}")
	}
	if raw[0] != '{' {
		return nil, errors.New("must be a JSON object, such as {\"order_id\": 1}")
	}
	return raw, nil
}

// identity computes the identity hash of a new task.
func (c *Client) identity(t *TaskTemplate, req *TaskRequest, p *taskerdriver.TaskCreateParams) string {
	if c.cfg.IdentityFunc != nil {
		return c.cfg.IdentityFunc(req)
	}
	strategy := t.IdentityStrategy
	if strategy == "" {
		strategy = c.cfg.IdentityStrategy
	}
	if strategy != IdentityHash {
		return uuid.NewString()
	}
	return IdentityHashOf(p.Namespace, p.Name, p.Version, p.Initiator, p.SourceSystem, p.Reason, p.Context)
}

// IdentityHashOf is the hash identity: the hex SHA-256 of the namespace,
// name, version, initiator, source system, reason and the canonical JSON of
// the context (object keys sorted, insignificant space removed).
func IdentityHashOf(namespace, name, version, initiator, sourceSystem, reason string, context json.RawMessage) string {
	h := sha256.New()
	for _, s := range []string{namespace, name, version, initiator, sourceSystem, reason} {
		_, _ = fmt.Fprintf(h, "%d:%s|", len(s), s)
	}
	h.Write(canonicalJSON(context))
	return hex.EncodeToString(h.Sum(nil))
}

func canonicalJSON(raw json.RawMessage) []byte {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return raw
	}
	b, err := json.Marshal(v) // maps marshal with sorted keys
	if err != nil {
		return raw
	}
	return b
}

// nulFields names the values that PostgreSQL cannot store (nil when all can
// be): text with a NUL character (U+0000) or bytes that are not UTF-8, JSON
// with those, with a lone UTF-16 surrogate escape or with a number beyond
// numeric's range (jsonclean.BadNumber). Both drivers are held to this rule. Values are strings,
// string slices or JSON.
func nulFields(values map[string]any) map[string]string {
	var fields map[string]string
	for name, v := range values {
		bad := false
		switch x := v.(type) {
		case string:
			bad = jsonclean.String(x) != x
		case []string:
			for _, s := range x {
				bad = bad || jsonclean.String(s) != s
			}
		case json.RawMessage:
			bad = !jsonclean.Storable(x)
			if n := jsonclean.BadNumber(x); !bad && n != "" {
				if fields == nil {
					fields = map[string]string{}
				}
				fields[name] = fmt.Sprintf("holds the number %s, which cannot be stored: numbers may have at most %d digits before the decimal point and %d after it (an exponent counts); send it as a string", n, jsonclean.MaxIntegerDigits, jsonclean.MaxFractionDigits)
				continue
			}
		}
		if bad {
			if fields == nil {
				fields = map[string]string{}
			}
			fields[name] = `holds a NUL character (U+0000, "\u0000" in JSON), bytes that are not UTF-8 or half of a UTF-16 surrogate pair ("\ud83d" alone), which cannot be stored: remove or fix it`
		}
	}
	return fields
}

// mustJSON encodes v, which cannot fail for the values given (strings).
func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
