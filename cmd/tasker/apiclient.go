package main

// The CLI's REST client: with --server URL (or $TASKER_SERVER) the task
// and handlers commands call the REST API of `tasker serve` under /tasker
// instead of opening the database (see viaserver.go for the commands' side).
// The API's task and step JSON share most field names with tasker.Task and
// tasker.Step, so they decode into them directly.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tasker-go/tasker"
)

// apiClient is a client of the REST API of one server.
type apiClient struct {
	base  string // scheme://host[:port], no trailing slash
	hc    *http.Client
	token string // sent as "Authorization: Bearer <token>" when set
}

// remoteRequestTimeout bounds one API call (not a whole --wait).
const remoteRequestTimeout = 30 * time.Second

// remotePollInterval is how often --wait asks the server for the task.
const remotePollInterval = 200 * time.Millisecond

// newAPIClient parses a --server value: http(s)://HOST:PORT, optionally with a
// path prefix and a trailing /tasker, or HOST:PORT alone.
func newAPIClient(server string) (*apiClient, error) {
	s := strings.TrimSpace(server)
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("--server %q is not a server URL: give http://HOST:PORT", server)
	}
	u.RawQuery, u.Fragment = "", ""
	base := strings.TrimSuffix(strings.TrimSuffix(u.String(), "/"), "/tasker")
	return &apiClient{base: base, hc: &http.Client{Timeout: remoteRequestTimeout}}, nil
}

// apiError is an error response of the API:
// {"error": {"code", "message", "fields"}}.
type apiError struct {
	Status  int
	Code    string
	Message string
	Fields  map[string]string
}

func (e *apiError) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	if e.Message == "" {
		b.WriteString(http.StatusText(e.Status))
	}
	fmt.Fprintf(&b, " (HTTP %d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	b.WriteString(")")
	if e.Status == http.StatusUnauthorized {
		b.WriteString("\n  give the server a credential: --token or $TASKER_TOKEN (an API token from `tasker token create`, or a JWT)")
	}
	keys := slices.Sorted(maps.Keys(e.Fields))
	for _, k := range keys {
		// The message often lists the fields already; repeat only new ones.
		if !strings.Contains(e.Message, e.Fields[k]) || e.Fields[k] == "" {
			fmt.Fprintf(&b, "\n  %s: %s", k, e.Fields[k])
		}
	}
	return b.String()
}

// exitErr gives API errors the CLI's exit statuses: 2 for a conflict with
// the task's state (as the local retry does), 1 otherwise.
func exitErr(err error) error {
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusConflict {
		return &exitError{code: 2, err: err}
	}
	return err
}

// decodeAPIError reads an error body; any JSON shape or plain text works.
func decodeAPIError(status int, body []byte) *apiError {
	e := &apiError{Status: status}
	var env struct {
		Error struct {
			Code    string          `json:"code"`
			Message string          `json:"message"`
			Fields  json.RawMessage `json:"fields"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil && (env.Error.Message != "" || env.Error.Code != "") {
		e.Code, e.Message = env.Error.Code, env.Error.Message
		e.Fields = decodeFields(env.Error.Fields)
		return e
	}
	e.Message = strings.TrimSpace(firstLine(string(body)))
	return e
}

// decodeFields accepts {"field": "problem"}, {"field": ["problems"]} or
// [{"field", "message"}].
func decodeFields(raw json.RawMessage) map[string]string {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var m map[string]string
	if json.Unmarshal(raw, &m) == nil {
		return m
	}
	var ml map[string][]string
	if json.Unmarshal(raw, &ml) == nil {
		m = map[string]string{}
		for k, v := range ml {
			m[k] = strings.Join(v, "; ")
		}
		return m
	}
	var list []struct {
		Field   string `json:"field"`
		Name    string `json:"name"`
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &list) == nil {
		m = map[string]string{}
		for _, f := range list {
			m[cmpOr(f.Field, f.Name)] = f.Message
		}
		return m
	}
	return map[string]string{"fields": string(raw)}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// do calls method path (under the base URL) with an optional JSON body and
// decodes a 2xx JSON answer into out. It returns the status code.
func (r *apiClient) do(ctx context.Context, method, path string, query url.Values, body, out any) (int, error) {
	u := r.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json")
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	if body != nil || method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		// Every POST, PUT and PATCH says JSON, even without a body (the
		// server refuses others: no HTML form can send it).
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("cannot reach the tasker server at %s: %w", r.base, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, decodeAPIError(resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: the server's answer is not the expected JSON: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// member calls the API like do and returns the member key of its answer (a
// JSON object), decoded as a T: the zero T when the answer has no such key.
func member[T any](ctx context.Context, r *apiClient, method, path string, query url.Values, body any, key string) (T, error) {
	var v T
	var out map[string]json.RawMessage
	if _, err := r.do(ctx, method, path, query, body, &out); err != nil {
		return v, err
	}
	if raw, ok := out[key]; ok {
		if err := json.Unmarshal(raw, &v); err != nil {
			return v, fmt.Errorf("%s %s: the server's answer is not the expected JSON: %w", method, path, err)
		}
	}
	return v, nil
}

// deadLetters calls GET /tasker/dead_letters.
func (r *apiClient) deadLetters(ctx context.Context, subscription string, limit int) ([]*tasker.OutboxMessage, error) {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if subscription != "" {
		q.Set("subscription", subscription)
	}
	return member[[]*tasker.OutboxMessage](ctx, r, http.MethodGet, "/tasker/dead_letters", q, nil, "dead_letters")
}

// replayDeadLetters calls POST /tasker/dead_letters/replay: the ids, or
// all of them when none.
func (r *apiClient) replayDeadLetters(ctx context.Context, ids []int64) (int, error) {
	body := map[string]any{"all": true}
	if len(ids) > 0 {
		body = map[string]any{"ids": ids}
	}
	return member[int](ctx, r, http.MethodPost, "/tasker/dead_letters/replay", nil, body, "replayed")
}

// apiTask is a task as the API sends it: tasker.Task's fields plus
// full_name, complete and, from GET /tasker/tasks/{id}, workflow_steps.
type apiTask struct {
	tasker.Task
	FullNameField string         `json:"full_name"`
	CompleteField bool           `json:"complete"`
	Steps         []*tasker.Step `json:"workflow_steps"`
	// Annotations are in the answer of GET /tasker/tasks/{id} (without
	// their task_id: the task's).
	Annotations []*tasker.TaskAnnotation `json:"task_annotations"`
}

type taskEnvelope struct {
	Task *apiTask `json:"task"`
}

func (e *taskEnvelope) task(what string) (*apiTask, error) {
	if e.Task == nil {
		return nil, fmt.Errorf("%s: the server's answer has no task", what)
	}
	return e.Task, nil
}

func taskPath(id int64) string { return "/tasker/tasks/" + strconv.FormatInt(id, 10) }

// createRequest is the flat body of POST /tasker/tasks.
type createRequest struct {
	Name         string          `json:"name"`
	Namespace    string          `json:"namespace,omitempty"`
	Version      string          `json:"version,omitempty"`
	Context      json.RawMessage `json:"context,omitempty"`
	Initiator    string          `json:"initiator,omitempty"`
	SourceSystem string          `json:"source_system,omitempty"`
	Reason       string          `json:"reason,omitempty"`
	Tags         []string        `json:"tags,omitempty"`
}

// createTask returns the task and whether it already existed (200 instead
// of 201: a duplicate under the hash identity).
func (r *apiClient) createTask(ctx context.Context, req *createRequest) (*apiTask, bool, error) {
	var env taskEnvelope
	status, err := r.do(ctx, http.MethodPost, "/tasker/tasks", nil, req, &env)
	if err != nil {
		return nil, false, err
	}
	t, err := env.task("create")
	return t, status == http.StatusOK, err
}

func (r *apiClient) getTask(ctx context.Context, id int64) (*apiTask, error) {
	var env taskEnvelope
	if _, err := r.do(ctx, http.MethodGet, taskPath(id), nil, nil, &env); err != nil {
		return nil, err
	}
	return env.task("get")
}

// taskDependencies reads the dependency analysis of GET
// /tasker/tasks/{id}?include_dependencies=true.
func (r *apiClient) taskDependencies(ctx context.Context, id int64) (*tasker.TaskDependencyAnalysis, error) {
	var env struct {
		Task *struct {
			DependencyAnalysis *tasker.TaskDependencyAnalysis `json:"dependency_analysis"`
		} `json:"task"`
	}
	if _, err := r.do(ctx, http.MethodGet, taskPath(id), url.Values{"include_dependencies": {"true"}}, nil, &env); err != nil {
		return nil, err
	}
	if env.Task == nil || env.Task.DependencyAnalysis == nil {
		return nil, fmt.Errorf("task %d: the server's answer has no dependency_analysis (an older server?)", id)
	}
	return env.Task.DependencyAnalysis, nil
}

func (r *apiClient) taskTransitions(ctx context.Context, id int64) ([]*tasker.Transition, error) {
	return member[[]*tasker.Transition](ctx, r, http.MethodGet, taskPath(id)+"/transitions", nil, nil, "transitions")
}

func (r *apiClient) cancelTask(ctx context.Context, id int64, reason string) (*apiTask, error) {
	var q url.Values
	if reason != "" {
		q = url.Values{"reason": {reason}}
	}
	var env taskEnvelope
	if _, err := r.do(ctx, http.MethodDelete, taskPath(id), q, nil, &env); err != nil {
		return nil, err
	}
	return env.task("cancel")
}

func (r *apiClient) retryTask(ctx context.Context, id int64) (*apiTask, error) {
	var env taskEnvelope
	if _, err := r.do(ctx, http.MethodPost, taskPath(id)+"/retry", nil, nil, &env); err != nil {
		return nil, err
	}
	return env.task("retry")
}

type taskPage struct {
	Tasks      []*apiTask `json:"tasks"`
	Pagination struct {
		Total   int  `json:"total"`
		Limit   int  `json:"limit"`
		Offset  int  `json:"offset"`
		HasMore bool `json:"has_more"`
	} `json:"pagination"`
}

func (r *apiClient) listTasks(ctx context.Context, p *tasker.TaskListParams) (*taskPage, error) {
	q := url.Values{}
	if len(p.States) > 0 {
		s := make([]string, len(p.States))
		for i, st := range p.States {
			s[i] = string(st)
		}
		q.Set("status", strings.Join(s, ","))
	}
	if p.Namespace != "" {
		q.Set("namespace", p.Namespace)
	}
	if p.Name != "" {
		q.Set("name", p.Name)
	}
	if p.Version != "" {
		q.Set("version", p.Version)
	}
	if len(p.Tags) > 0 {
		q.Set("tags", strings.Join(p.Tags, ","))
	}
	if !p.OmitContext {
		q.Set("include", "context")
	}
	q.Set("limit", strconv.Itoa(p.Limit))
	q.Set("offset", strconv.Itoa(p.Offset))
	q.Set("sort_by", cmpOr(p.OrderBy, "task_id"))
	if p.Desc {
		q.Set("sort_order", "desc")
	} else {
		q.Set("sort_order", "asc")
	}
	var page taskPage
	if _, err := r.do(ctx, http.MethodGet, "/tasker/tasks", q, nil, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// namespaceList is GET /tasker/handlers; namespaceHandlers is
// GET /tasker/handlers/{ns}. The local mode prints the same shapes.
type namespaceList struct {
	Namespaces []namespaceCount `json:"namespaces"`
	Total      int              `json:"total_namespaces"`
}

type namespaceCount struct {
	Name         string `json:"name"`
	HandlerCount int    `json:"handler_count"`
}

type namespaceHandlers struct {
	Namespace string        `json:"namespace"`
	Handlers  []handlerInfo `json:"handlers"`
}

type handlerInfo struct {
	Name          string   `json:"name"`
	Namespace     string   `json:"namespace"`
	Versions      []string `json:"versions"`
	LatestVersion string   `json:"latest_version"`
}

func (r *apiClient) namespaces(ctx context.Context) (*namespaceList, error) {
	var out namespaceList
	_, err := r.do(ctx, http.MethodGet, "/tasker/handlers", nil, nil, &out)
	return &out, err
}

func (r *apiClient) handlers(ctx context.Context, ns string) (*namespaceHandlers, error) {
	var out namespaceHandlers
	_, err := r.do(ctx, http.MethodGet, "/tasker/handlers/"+url.PathEscape(ns), nil, nil, &out)
	return &out, err
}

// remoteTook is how long a task ran, from what the API tells: the task's
// own timestamps when present (to now while it runs, see taskDuration),
// else its request time to its last step.
func remoteTook(t *apiTask, now time.Time) time.Duration {
	if !t.CreatedAt.IsZero() || !t.CompletedAt.IsZero() || !t.State.Final() {
		return taskDuration(&t.Task, now)
	}
	var last time.Time
	for _, s := range t.Steps {
		for _, at := range []time.Time{s.ProcessedAt, s.LastAttemptedAt} {
			if at.After(last) {
				last = at
			}
		}
	}
	if last.IsZero() || t.RequestedAt.IsZero() || last.Before(t.RequestedAt) {
		return 0
	}
	return last.Sub(t.RequestedAt)
}

// ---- the commands' remote halves ----
