package taskerdashboard_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/taskerauth"
	"github.com/tasker-go/tasker/taskerdashboard"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskerhttp"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// env serves the API with the dashboard, authentication on, on a fresh
// database.
type env struct {
	t      *testing.T
	client *tasker.Client
	driver taskerdriver.Driver
	reg    *tasker.Registry
	srv    *httptest.Server
	hc     *http.Client // follows no redirect
}

func newEnv(t *testing.T, dash *taskerdashboard.Config) *env {
	t.Helper()
	return newEnvAuth(t, dash, taskerhttp.AuthenticatorOptions{})
}

// newEnvAuth is newEnv with the credentials of opts accepted too.
func newEnvAuth(t *testing.T, dash *taskerdashboard.Config, opts taskerhttp.AuthenticatorOptions) *env {
	t.Helper()
	reg := tasker.NewRegistry()
	reg.MustRegisterHandler("ok", tasker.StepHandlerFunc(func(context.Context, *tasker.StepContext) (any, error) { return map[string]any{"ok": true}, nil }))
	require.NoError(t, reg.RegisterTemplate(&tasker.TaskTemplate{Name: "hello", Steps: []tasker.StepTemplate{{Name: "greet", Handler: "ok"}}}, tasker.RegisterOptions{}))
	d := testdb.Open(t)
	c, err := tasker.NewClient(context.Background(), d, &tasker.Config{Registry: reg})
	require.NoError(t, err)
	srv := httptest.NewServer(taskerhttp.NewHandler(c, &taskerhttp.Options{Authenticator: taskerhttp.NewAuthenticatorWith(c, opts), Dashboard: dash}))
	t.Cleanup(srv.Close)
	hc := srv.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &env{t: t, client: c, driver: d, reg: reg, srv: srv, hc: hc}
}

func (e *env) token(name string, perms ...string) string {
	e.t.Helper()
	secret, _, err := e.client.CreateToken(context.Background(), tasker.TokenParams{Name: name, Permissions: perms})
	require.NoError(e.t, err)
	return secret
}

// do sends a request with the session cookie (when not empty) and returns
// the answer with its body read (and closed).
func (e *env) do(method, path, session string, form url.Values, header http.Header) (*answer, string) {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	require.NoError(e.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if session != "" {
		req.AddCookie(&http.Cookie{Name: taskerauth.SessionCookie, Value: session})
	}
	res, err := e.hc.Do(req)
	require.NoError(e.t, err)
	defer func() { _ = res.Body.Close() }()
	b, err := io.ReadAll(res.Body)
	require.NoError(e.t, err)
	return &answer{StatusCode: res.StatusCode, Header: res.Header, cookies: res.Cookies()}, string(b)
}

// answer is a response whose body was read.
type answer struct {
	StatusCode int
	Header     http.Header
	cookies    []*http.Cookie
}

func (a *answer) Cookies() []*http.Cookie { return a.cookies }

func sessionCookie(t *testing.T, res *answer) *http.Cookie {
	t.Helper()
	for _, c := range res.Cookies() {
		if c.Name == taskerauth.SessionCookie {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", taskerauth.SessionCookie, res.Header.Values("Set-Cookie"))
	return nil
}

// TestSignIn: signed out, every page sends to /sign-in (and back once
// signed in); a pasted credential is checked as the API checks it and kept
// in an HttpOnly, SameSite=Strict cookie that the API accepts; sign-out and
// revocation end the session.
func TestSignIn(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		e := newEnv(t, nil)
		secret := e.token("ada", "*")

		for _, page := range []string{"/", "/tasks", "/tasks/7", "/templates", "/templates/default/hello/0.1.0", "/dead-letters"} {
			res, _ := e.do("GET", page, "", nil, nil)
			require.Equal(t, http.StatusSeeOther, res.StatusCode, page)
			require.Equal(t, "/sign-in?next="+url.QueryEscape(page), res.Header.Get("Location"))
		}
		res, body := e.do("GET", "/sign-in?next=%2Ftasks%3Fstatus%3Derror", "", nil, nil)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Contains(t, body, `<input id="token" name="token" type="password"`)
		require.Contains(t, body, `value="/tasks?status=error"`)
		require.Contains(t, res.Header.Get("Content-Security-Policy"), "script-src 'self'")
		require.NotContains(t, res.Header.Get("Content-Security-Policy"), "unsafe-inline")

		res, body = e.do("POST", "/sign-in", "", url.Values{"token": {"tkr_wrong"}, "next": {"/tasks"}}, nil)
		require.Equal(t, http.StatusUnauthorized, res.StatusCode)
		require.Contains(t, body, "This token was not accepted")
		require.Empty(t, res.Cookies())

		res, _ = e.do("POST", "/sign-in", "", url.Values{"token": {secret}, "next": {"/tasks?status=error"}}, nil)
		require.Equal(t, http.StatusSeeOther, res.StatusCode)
		require.Equal(t, "/tasks?status=error", res.Header.Get("Location"))
		c := sessionCookie(t, res)
		require.Equal(t, secret, c.Value)
		require.True(t, c.HttpOnly)
		require.Equal(t, http.SameSiteStrictMode, c.SameSite)
		require.False(t, c.Secure, "plain HTTP (Secure over TLS)")
		require.Equal(t, "/", c.Path)

		res, body = e.do("GET", "/tasks", secret, nil, nil)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Contains(t, body, `<script type="module" src="/assets/app.js">`)
		require.Equal(t, "no-store", res.Header.Get("Cache-Control"))
		res, _ = e.do("GET", "/tasker/tasks", secret, nil, nil)
		require.Equal(t, http.StatusOK, res.StatusCode, "the API takes the session cookie")

		// next cannot lead to another site.
		for _, next := range []string{"//evil.example/x", "https://evil.example/", `/\evil.example`, "/sign-in?next=/x", "javascript:alert(1)"} {
			res, _ = e.do("POST", "/sign-in", "", url.Values{"token": {secret}, "next": {next}}, nil)
			require.Equal(t, "/", res.Header.Get("Location"), next)
		}

		// A form post from another site is refused before anything runs.
		res, _ = e.do("POST", "/sign-in", "", url.Values{"token": {secret}}, http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}})
		require.Equal(t, http.StatusForbidden, res.StatusCode)

		res, _ = e.do("POST", "/sign-out", secret, url.Values{}, nil)
		require.Equal(t, http.StatusSeeOther, res.StatusCode)
		require.Equal(t, "/sign-in", res.Header.Get("Location"))
		require.Equal(t, -1, sessionCookie(t, res).MaxAge)

		// A revoked token's session ends at once, and its cookie is cleared.
		require.NoError(t, e.client.RevokeToken(context.Background(), "ada"))
		res, _ = e.do("GET", "/tasks", secret, nil, nil)
		require.Equal(t, http.StatusSeeOther, res.StatusCode)
		require.Equal(t, -1, sessionCookie(t, res).MaxAge)
	})
}

// TestSession: a page learns who is signed in and, for every permission,
// whether they hold it.
func TestSession(t *testing.T) {
	e := newEnv(t, &taskerdashboard.Config{TraceURL: "https://traces.example/{trace_id}"})
	secret := e.token("viewer", "tasker.task:index", "tasker.workflow_step:*")
	res, _ := e.do("GET", "/_/session", "", nil, nil)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	res, body := e.do("GET", "/_/session", secret, nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	var s struct {
		Subject     string          `json:"subject"`
		SignIn      bool            `json:"sign_in"`
		Permissions map[string]bool `json:"permissions"`
		TraceURL    string          `json:"trace_url"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &s))
	require.Equal(t, "viewer", s.Subject)
	require.True(t, s.SignIn)
	require.True(t, s.Permissions["tasker.task:index"])
	require.True(t, s.Permissions["tasker.workflow_step:resolve"])
	require.False(t, s.Permissions["tasker.task:retry"])
	require.Len(t, s.Permissions, len(taskerauth.Permissions()))
	require.Equal(t, "https://traces.example/{trace_id}", s.TraceURL)
}

// TestAssets: the embedded files are served with their type and a strong
// ETag (304 when unchanged); nothing else is.
func TestAssets(t *testing.T) {
	e := newEnv(t, nil)
	for name, ct := range map[string]string{"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8", "favicon.svg": "image/svg+xml"} {
		res, body := e.do("GET", "/assets/"+name, "", nil, nil)
		require.Equal(t, http.StatusOK, res.StatusCode, name)
		require.Equal(t, ct, res.Header.Get("Content-Type"))
		require.NotEmpty(t, body)
		res, _ = e.do("GET", "/assets/"+name, "", nil, http.Header{"If-None-Match": {res.Header.Get("ETag")}})
		require.Equal(t, http.StatusNotModified, res.StatusCode)
	}
	for _, name := range []string{"index.html", "sign-in.html", "nope.js", "..%2Fdashboard.go"} {
		res, _ := e.do("GET", "/assets/"+name, "", nil, nil)
		require.Equal(t, http.StatusNotFound, res.StatusCode, name)
	}
	// The API keeps its own answers for unknown paths.
	res, body := e.do("GET", "/tasker/nope", "", nil, nil)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	require.Contains(t, body, `"code"`)
}

// TestLiveFeed: the feed sends each state change as a Server-Sent Event to
// a user who may list tasks, at most MaxLiveConnections feeds a user.
func TestLiveFeed(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		e := newEnv(t, &taskerdashboard.Config{MaxLiveConnections: 1})
		secret := e.token("ops", "tasker.task:*")
		noList := e.token("creator", "tasker.task:create")
		res, _ := e.do("GET", "/_/live", noList, nil, nil)
		require.Equal(t, http.StatusForbidden, res.StatusCode)

		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/_/live", nil)
		require.NoError(t, err)
		req.AddCookie(&http.Cookie{Name: taskerauth.SessionCookie, Value: secret})
		live, err := e.hc.Do(req)
		require.NoError(t, err)
		defer func() { _ = live.Body.Close() }()
		require.Equal(t, http.StatusOK, live.StatusCode)
		require.Equal(t, "text/event-stream", live.Header.Get("Content-Type"))
		lines := bufio.NewScanner(live.Body)
		require.True(t, lines.Scan())
		require.Equal(t, "retry: 2000", lines.Text())

		// A second feed of the same user is refused while the first runs.
		res, body := e.do("GET", "/_/live", secret, nil, nil)
		require.Equal(t, http.StatusTooManyRequests, res.StatusCode)
		require.Contains(t, body, "at most 1 live feeds per user")

		created, err := e.client.CreateTask(ctx, &tasker.TaskRequest{Name: "hello", Context: map[string]any{}})
		require.NoError(t, err)
		require.NoError(t, e.client.RunUntilIdle(ctx))
		seen := map[string]bool{}
		readChanges(t, lines, func(c liveChange) bool {
			require.Equal(t, created.Task.ID, c.TaskID)
			if c.StepID == 0 {
				seen[c.To] = true
				if c.To == "complete" {
					require.Equal(t, "task.completed", c.Event)
				}
			}
			return seen["complete"]
		})
		require.True(t, seen["complete"], "the task's completion is sent")

		// Another process on the same database (a client of its own: its
		// changes never reach this one's in-process feed) runs a task: the
		// feed sends its changes too, read from the database.
		other, err := tasker.NewClient(ctx, e.driver, &tasker.Config{Registry: e.reg})
		require.NoError(t, err)
		elsewhere, err := other.CreateTask(ctx, &tasker.TaskRequest{Name: "hello", Context: map[string]any{"n": 2}})
		require.NoError(t, err)
		require.NoError(t, other.RunUntilIdle(ctx))
		seen = map[string]bool{}
		readChanges(t, lines, func(c liveChange) bool {
			if c.TaskID == elsewhere.Task.ID && c.StepID == 0 {
				seen[c.To] = true
			}
			return seen["complete"]
		})
		require.True(t, seen["complete"], "another process's task completion is sent")
	})
}

// liveChange is a change the live feed sends (a data: line).
type liveChange struct {
	TaskID int64  `json:"task_id"`
	To     string `json:"to"`
	StepID int64  `json:"step_id"`
	Event  string `json:"event"`
}

// readChanges reads the live feed's changes, passing each to done, until
// done returns true or the feed ends.
func readChanges(t *testing.T, lines *bufio.Scanner, done func(c liveChange) bool) {
	t.Helper()
	for lines.Scan() {
		data, ok := strings.CutPrefix(lines.Text(), "data: ")
		if !ok {
			continue
		}
		var c liveChange
		require.NoError(t, json.Unmarshal([]byte(data), &c))
		if done(c) {
			return
		}
	}
}

// TestOpenWithoutAuthentication: without an Authenticator every page is
// served, and there is nothing to sign out of.
func TestOpenWithoutAuthentication(t *testing.T) {
	c, err := tasker.NewClient(context.Background(), testdb.Open(t), &tasker.Config{Registry: tasker.NewRegistry()})
	require.NoError(t, err)
	srv := httptest.NewServer(taskerhttp.NewHandler(c, nil))
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL + "/tasks")
	require.NoError(t, err)
	_ = res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, err = srv.Client().Get(srv.URL + "/_/session")
	require.NoError(t, err)
	var s struct {
		SignIn bool `json:"sign_in"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&s))
	_ = res.Body.Close()
	require.False(t, s.SignIn)

	disabled := httptest.NewServer(taskerhttp.NewHandler(c, &taskerhttp.Options{DisableDashboard: true}))
	defer disabled.Close()
	res, err = disabled.Client().Get(disabled.URL + "/tasks")
	require.NoError(t, err)
	_ = res.Body.Close()
	require.Equal(t, http.StatusNotFound, res.StatusCode)
}

// TestCountLimit: the task list's count stops at count_limit (what the
// tasks page asks for), saying so with total_capped; a bad one is a 400.
func TestCountLimit(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		e := newEnv(t, nil)
		secret := e.token("ops", "*")
		for range 3 {
			_, err := e.client.CreateTask(context.Background(), &tasker.TaskRequest{Name: "hello", Context: map[string]any{}})
			require.NoError(t, err)
		}
		var list struct {
			Pagination struct {
				Total       int  `json:"total"`
				TotalCapped bool `json:"total_capped"`
				HasMore     bool `json:"has_more"`
			} `json:"pagination"`
		}
		res, body := e.do("GET", "/tasker/tasks?limit=2&count_limit=2", secret, nil, nil)
		require.Equal(t, http.StatusOK, res.StatusCode, body)
		require.NoError(t, json.Unmarshal([]byte(body), &list))
		require.Equal(t, 2, list.Pagination.Total)
		require.True(t, list.Pagination.TotalCapped)
		require.True(t, list.Pagination.HasMore)
		res, body = e.do("GET", "/tasker/tasks?count_limit=3", secret, nil, nil)
		require.Equal(t, http.StatusOK, res.StatusCode)
		list.Pagination.TotalCapped = false
		require.NoError(t, json.Unmarshal([]byte(body), &list))
		require.Equal(t, 3, list.Pagination.Total)
		require.False(t, list.Pagination.TotalCapped)
		res, body = e.do("GET", "/tasker/tasks?count_limit=0", secret, nil, nil)
		require.Equal(t, http.StatusBadRequest, res.StatusCode)
		require.Contains(t, body, "count_limit")
	})
}

// TestTrustedProxy: behind an authenticating proxy, the user its header
// names is signed in on every page and in the API, with the permissions
// the configuration grants, and is the actor of what they do; the header
// from another address, or no header, signs nobody in.
func TestTrustedProxy(t *testing.T) {
	proxyFrom := func(cidr string) *taskerauth.TrustedProxy {
		trusted, err := taskerauth.ParsePrefixes([]string{cidr})
		require.NoError(t, err)
		p, err := taskerauth.NewTrustedProxy(taskerauth.TrustedProxyConfig{Header: "X-Forwarded-User", GroupsHeader: "X-Forwarded-Groups",
			Trusted: trusted, Permissions: []string{"tasker.task:index", "tasker.task:show"}, Roles: map[string][]string{"ops": {"tasker.task:create"}}})
		require.NoError(t, err)
		return p
	}
	as := func(user string, groups ...string) http.Header {
		h := http.Header{"X-Forwarded-User": {user}}
		if len(groups) > 0 {
			h.Set("X-Forwarded-Groups", strings.Join(groups, ","))
		}
		return h
	}
	e := newEnvAuth(t, nil, taskerhttp.AuthenticatorOptions{Proxy: proxyFrom("127.0.0.0/8")})

	res, body := e.do("GET", "/tasks", "", nil, as("ada"))
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, body, "<html")
	res, _ = e.do("GET", "/tasks", "", nil, nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode, "without the header nobody is signed in")
	require.True(t, strings.HasPrefix(res.Header.Get("Location"), "/sign-in"))

	res, body = e.do("GET", "/_/session", "", nil, as("ada", "ops"))
	require.Equal(t, http.StatusOK, res.StatusCode)
	var s struct {
		Subject     string          `json:"subject"`
		Method      string          `json:"method"`
		SignIn      bool            `json:"sign_in"`
		Permissions map[string]bool `json:"permissions"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &s))
	require.Equal(t, "ada", s.Subject)
	require.Equal(t, taskerauth.MethodProxy, s.Method)
	require.False(t, s.SignIn, "no sign-out for a proxy's user")
	require.True(t, s.Permissions["tasker.task:create"], "granted by the group ops")
	require.False(t, s.Permissions["tasker.task:cancel"])

	// The API: the same user, the same grants, recorded as the actor.
	create := http.Header{"Content-Type": {"application/json"}}
	for k, v := range as("ada", "ops") {
		create[k] = v
	}
	req, err := http.NewRequest("POST", e.srv.URL+"/tasker/tasks", strings.NewReader(`{"name":"hello"}`))
	require.NoError(t, err)
	req.Header = create
	created, err := e.hc.Do(req)
	require.NoError(t, err)
	var v struct {
		Task struct {
			Initiator string `json:"initiator"`
		} `json:"task"`
	}
	require.NoError(t, json.NewDecoder(created.Body).Decode(&v))
	_ = created.Body.Close()
	require.Equal(t, http.StatusCreated, created.StatusCode)
	require.Equal(t, "ada", v.Task.Initiator, "the proxy's user is the actor")
	res, _ = e.do("GET", "/tasker/tasks", "", nil, as("bob"))
	require.Equal(t, http.StatusOK, res.StatusCode)
	req, err = http.NewRequest("POST", e.srv.URL+"/tasker/tasks", strings.NewReader(`{"name":"hello"}`))
	require.NoError(t, err)
	req.Header = http.Header{"Content-Type": {"application/json"}, "X-Forwarded-User": {"bob"}}
	refused, err := e.hc.Do(req)
	require.NoError(t, err)
	_ = refused.Body.Close()
	require.Equal(t, http.StatusForbidden, refused.StatusCode, "bob is not in ops")

	// A server that trusts another address refuses the header.
	other := newEnvAuth(t, nil, taskerhttp.AuthenticatorOptions{Proxy: proxyFrom("10.0.0.0/8")})
	res, _ = other.do("GET", "/tasks", "", nil, as("ada"))
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	res, body = other.do("GET", "/tasker/tasks", "", nil, as("ada"))
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	require.Contains(t, body, "accepted only from the trusted proxy")
}
