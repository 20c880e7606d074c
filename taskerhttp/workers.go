package taskerhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskerwire"
)

// The remote worker routes: remote workers in any language claim steps of
// remote queues (long polling), heartbeat and report results. They need the
// shared token of Options.WorkerToken as "Authorization: Bearer <token>"
// (checked by server.authorize).

var claimFields = []string{"worker_id", "queues", "limit", "lease_seconds", "wait_seconds"}

func decodeClaim(body []byte) (*taskerwire.ClaimRequest, error) {
	d, err := decodeFields(body, "", claimFields...)
	if err != nil {
		return nil, err
	}
	req := &taskerwire.ClaimRequest{WorkerID: d.str("worker_id")}
	req.Queues, _ = d.strings("queues")
	if n := d.intPtr("limit"); n != nil {
		req.Limit = *n
		if *n == 0 {
			d.problem("limit", "must be between 1 and 100")
		}
	}
	req.Lease = d.seconds("lease_seconds")
	req.Wait = d.seconds("wait_seconds")
	if err := d.err(); err != nil {
		return nil, err
	}
	return req, nil
}

func (s *server) claimSteps(w http.ResponseWriter, r *http.Request) error {
	req, err := readDecoded(s, w, r, decodeClaim)
	if err != nil {
		return err
	}
	// The route's deadline leaves room for the longest wait; this claim
	// gets its own wait on top of the request timeout.
	ctx, cancelWait := context.WithTimeout(r.Context(), s.opts.RequestTimeout+max(req.Wait, 0))
	defer cancelWait()
	if s.opts.Stopping != nil {
		// A server that shuts down answers waiting claims at once.
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		go func() {
			select {
			case <-s.opts.Stopping:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	steps, err := s.c.ClaimRemoteSteps(ctx, req)
	if err != nil {
		return bodyFieldNames(err)
	}
	steps = nonNil(steps)
	writeJSON(w, http.StatusOK, taskerwire.ClaimResponse{Steps: steps})
	return nil
}

var heartbeatFields = []string{"worker_id", "step_ids", "lease_seconds"}

func (s *server) heartbeat(w http.ResponseWriter, r *http.Request) error {
	d, err := s.readFields(w, r, heartbeatFields...)
	if err != nil {
		return err
	}
	worker := d.str("worker_id")
	ids := d.ids("step_ids")
	lease := d.seconds("lease_seconds")
	if err := d.err(); err != nil {
		return err
	}
	kept, err := s.c.HeartbeatRemoteSteps(r.Context(), worker, ids, lease)
	if err != nil {
		return bodyFieldNames(err)
	}
	held := make(map[int64]bool, len(kept))
	for _, id := range kept {
		held[id] = true
	}
	lost := []int64{}
	for _, id := range ids {
		if !held[id] {
			lost = append(lost, id)
		}
	}
	writeJSON(w, http.StatusOK, taskerwire.HeartbeatResponse{StepIDs: kept, Lost: lost})
	return nil
}

var resultFields = []string{"worker_id", "attempt", "results", "error", "events", "annotations"}
var remoteErrorFields = []string{"message", "kind", "retry_after_seconds", "class", "detail", "details"}

// decodeResult decodes the body of a result (its StepID is left to the
// caller: the path's).
func decodeResult(body []byte) (*taskerwire.Result, error) {
	d, err := decodeFields(body, "", resultFields...)
	if err != nil {
		return nil, err
	}
	res := &taskerwire.Result{WorkerID: d.str("worker_id")}
	if n := d.intPtr("attempt"); n != nil {
		res.Attempt = *n
	}
	_, hasResults := d.m["results"]
	switch {
	case d.has("error") && hasResults:
		d.problem("error", "give either results (success) or error (failure), not both")
	case d.has("error"):
		if raw := d.object("error"); raw != nil {
			err := d.nested(raw, "error", remoteErrorFields, "allowed error fields: "+strings.Join(remoteErrorFields, ", "), func(ed *fieldDecoder) {
				res.Error = &taskerwire.Error{
					Message: ed.str("message"), Kind: ed.str("kind"), Class: ed.str("class"), Detail: ed.str("detail"),
					RetryAfter: ed.seconds("retry_after_seconds"), Details: ed.object("details"),
				}
			})
			if err != nil {
				return nil, err
			}
		}
	default:
		res.Results = d.raw("results") // absent or null: a null result
	}
	err = d.array("events", `must be an array of {"name": ..., "payload": ...}`, func(where string, raw json.RawMessage) error {
		return d.nested(raw, where, []string{"name", "payload"}, "an event has name and payload", func(ed *fieldDecoder) {
			res.Events = append(res.Events, taskerwire.Event{Name: ed.str("name"), Payload: ed.raw("payload")})
		})
	})
	if err != nil {
		return nil, err
	}
	err = d.array("annotations", `must be an array of {"annotation_type": ..., "annotation": {...}}`, func(where string, raw json.RawMessage) error {
		return d.nested(raw, where, annotationFields, "an annotation has annotation_type and annotation", func(ad *fieldDecoder) {
			res.Annotations = append(res.Annotations, taskerwire.Annotation{Type: ad.str("annotation_type"), Annotation: ad.raw("annotation")})
		})
	})
	if err != nil {
		return nil, err
	}
	if err := d.err(); err != nil {
		return nil, err
	}
	return res, nil
}

func (s *server) stepResult(w http.ResponseWriter, r *http.Request) error {
	id, res, err := readIDDecoded(s, w, r, "step_id", decodeResult)
	if err != nil {
		return err
	}
	res.StepID = id
	step, err := s.c.FinishRemoteStep(r.Context(), res)
	if err != nil {
		return bodyFieldNames(leaseLost(err))
	}
	writeJSON(w, http.StatusOK, map[string]any{"step": newStepView(step, nil)})
	return nil
}

var releaseFields = []string{"worker_id", "attempt"}

func (s *server) releaseStep(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "step_id")
	if err != nil {
		return err
	}
	d, err := s.readFields(w, r, releaseFields...)
	if err != nil {
		return err
	}
	worker := d.str("worker_id")
	attempt := 0
	if n := d.intPtr("attempt"); n != nil {
		attempt = *n
	}
	if err := d.err(); err != nil {
		return err
	}
	step, err := s.c.ReleaseRemoteStep(r.Context(), worker, id, attempt)
	if err != nil {
		return leaseLost(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"step": newStepView(step, nil)})
	return nil
}

// leaseLost answers tasker.ErrLeaseLost with 409 lease_lost and returns
// any other error as it is.
func leaseLost(err error) error {
	if errors.Is(err, tasker.ErrLeaseLost) {
		return &apiError{Status: http.StatusConflict, Code: taskerwire.CodeLeaseLost, Message: err.Error()}
	}
	return err
}

// bodyFields maps the Go API's field names of remote worker requests to the
// names of the JSON bodies.
var bodyFields = map[string]string{"lease": "lease_seconds", "wait": "wait_seconds", "error.retry_after": "error.retry_after_seconds"}

// bodyFieldNames renames the fields of a validation error to the body's
// field names.
func bodyFieldNames(err error) error {
	var ve *tasker.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	fields := make(map[string]string, len(ve.Fields))
	for k, v := range ve.Fields {
		if n, ok := bodyFields[k]; ok {
			k = n
		}
		fields[k] = v
	}
	return &tasker.ValidationError{Message: ve.Message, Fields: fields}
}

// seconds decodes a non-negative number of seconds (fractions allowed).
func (d *fieldDecoder) seconds(name string) time.Duration {
	if !d.has(name) {
		return 0
	}
	var f float64
	if err := json.Unmarshal(d.m[name], &f); err != nil || f < 0 || math.IsInf(f, 0) || f > 1e9 {
		d.problem(name, "must be a non-negative number of seconds")
		return 0
	}
	return time.Duration(f * float64(time.Second))
}

// ids decodes an array of positive integer ids.
func (d *fieldDecoder) ids(name string) []int64 {
	if !d.has(name) {
		return nil
	}
	var out []int64
	dec := json.NewDecoder(bytes.NewReader(d.m[name]))
	if err := dec.Decode(&out); err != nil {
		d.problem(name, "must be an array of step ids")
		return nil
	}
	for _, id := range out {
		if id <= 0 {
			d.problem(name, "must be an array of step ids")
			return nil
		}
	}
	return out
}

// maxWorkerWindow is the longest since_minutes: the maintenance leader
// forgets workers not seen for tasker.WorkerRetention.
const maxWorkerWindow = int(tasker.WorkerRetention / time.Minute)

// listWorkers answers the workers seen in the last since_minutes (default
// 5), the most recently seen first.
func (s *server) listWorkers(w http.ResponseWriter, r *http.Request) error {
	minutes := int(tasker.DefaultHealthWorkerWindow / time.Minute)
	if v := r.URL.Query().Get("since_minutes"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxWorkerWindow {
			return badParam("since_minutes", "must be an integer from 1 to %d (workers not seen for a day are forgotten), not %q", maxWorkerWindow, v)
		}
		minutes = n
	}
	since := time.Now().UTC().Add(-time.Duration(minutes) * time.Minute)
	workers, err := s.c.Workers(r.Context(), since)
	if err != nil {
		return err
	}
	workers = nonNil(workers)
	writeJSON(w, http.StatusOK, map[string]any{"workers": workers, "since": since, "since_minutes": minutes})
	return nil
}
