package taskerhttp_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerhttp"
)

// raw sends a request without the OpenAPI check of do (preflights have no
// OpenAPI route), with exactly the headers given.
func (e *env) raw(method, path, body string, headers ...string) *response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	require.NoError(e.t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		if strings.EqualFold(headers[i], "Host") {
			req.Host = headers[i+1]
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	return e.send(req)
}

// failedTask creates a fragile task and runs it until its step pay failed;
// it returns the task and the paths that retry it and resolve that step.
func failedTask(t *testing.T, e *env) (task map[string]any, retry, resolve string) {
	t.Helper()
	task = e.createTask(`{"name": "fragile"}`)
	e.runUntilIdle()
	return task, "/tasker/tasks/" + itoa(idOf(task, "task_id")) + "/retry", stepPath(t, task, "pay") + "/resolve"
}

// TestCrossSiteFormPostRefused: a web page in the operator's browser cannot
// resolve a step or retry a task (the form posts of issue 12 answered 200).
func TestCrossSiteFormPostRefused(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		task, retry, resolve := failedTask(t, e)
		form := "application/x-www-form-urlencoded"
		for _, path := range []string{resolve, retry} {
			// A modern browser says where the request comes from.
			res := e.do("POST", path, "", "Content-Type", form, "Sec-Fetch-Site", "cross-site", "Origin", "http://evil.example").want(t, http.StatusForbidden)
			require.Equal(t, "cross_origin_refused", res.errorCode(t))
			e.do("POST", path, "", "Content-Type", form, "Sec-Fetch-Site", "same-site", "Origin", "http://sub.evil.example").want(t, http.StatusForbidden)
			// An older one sends Origin only.
			e.do("POST", path, "", "Content-Type", form, "Origin", "http://evil.example").want(t, http.StatusForbidden)
			// Even a JSON fetch of another origin (which a preflight would guard).
			e.do("POST", path, "{}", "Sec-Fetch-Site", "cross-site", "Origin", "http://evil.example").want(t, http.StatusForbidden)
		}
		require.Equal(t, "error", e.do("GET", "/tasker/tasks/"+itoa(idOf(task, "task_id")), nil).json(t)["task"].(map[string]any)["status"], "nothing changed")

		// A cross-site read is not a change: the browser keeps the answer from
		// the page (no CORS header), the server need not refuse it.
		e.do("GET", "/tasker/tasks", nil, "Sec-Fetch-Site", "cross-site", "Origin", "http://evil.example").want(t, http.StatusOK)
		// The same origin (a page the server would serve) and tools pass.
		e.do("POST", retry, nil, "Sec-Fetch-Site", "same-origin").want(t, http.StatusOK)
	})
}

// TestBodilessPostNeedsJSONContentType: every POST, PUT and PATCH says
// application/json, with a body or without (no HTML form can).
func TestBodilessPostNeedsJSONContentType(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		task, retry, resolve := failedTask(t, e)
		for _, path := range []string{resolve, retry} {
			for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"} {
				res := e.do("POST", path, nil, "Content-Type", ct).want(t, http.StatusUnsupportedMediaType, "%s with %q", path, ct)
				require.Equal(t, "unsupported_media_type", res.errorCode(t))
			}
		}
		e.do("PATCH", "/tasker/tasks/"+itoa(idOf(task, "task_id")), nil, "Content-Type", "").want(t, http.StatusUnsupportedMediaType)
		e.do("POST", retry, nil, "Content-Type", "application/json; charset=utf-8").want(t, http.StatusOK)
		_, _, resolveOther := failedTask(t, e)
		e.do("POST", resolveOther, nil, "Content-Type", "application/json").want(t, http.StatusOK)
		// DELETE is bodiless by design.
		e.do("DELETE", "/tasker/tasks/"+itoa(idOf(task, "task_id")), nil).want(t, http.StatusOK)
	})
}

// TestHostAllowList: a Host that is not a name of the server is 421 (DNS
// rebinding: a page's own name resolved to 127.0.0.1).
func TestHostAllowList(t *testing.T) {
	e := newEnvOpts(t, &taskerhttp.Options{AllowedHosts: []string{"tasker.example.com", "*.corp.example", "10.1.2.3:8443"}})
	for _, host := range []string{"evil.example", "evil.example:80", "tasker.example.com.evil.example", "corp.example", "10.1.2.3:9999", "10.1.2.3"} {
		res := e.raw("GET", "/tasker/tasks", "", "Host", host)
		require.Equal(t, http.StatusMisdirectedRequest, res.Status, host)
		require.Equal(t, "host_not_allowed", res.errorCode(t))
		require.Contains(t, string(res.Body), "--allowed-hosts")
		e.raw("POST", "/tasker/tasks", `{"name": "dummy_task", "context": {"dummy": true}}`, "Host", host, "Content-Type", "application/json").want(t, http.StatusMisdirectedRequest)
	}
	for _, host := range []string{"localhost", "LOCALHOST:8080", "app.localhost", "127.0.0.1", "127.0.0.2:1", "[::1]:8080",
		strings.TrimPrefix(e.srv.URL, "http://"), "tasker.example.com", "Tasker.Example.Com:443", "a.corp.example", "b.a.corp.example:1", "10.1.2.3:8443"} {
		e.raw("GET", "/tasker/tasks", "", "Host", host).want(t, http.StatusOK, host)
	}
	// The health probes are checked too: a rebinding page learns nothing.
	e.raw("GET", "/tasker/health/live", "", "Host", "evil.example").want(t, http.StatusMisdirectedRequest)

	anyHost := newEnvOpts(t, &taskerhttp.Options{AllowedHosts: []string{"*"}})
	anyHost.raw("GET", "/tasker/tasks", "", "Host", "evil.example").want(t, http.StatusOK)
}

// TestCORS: off by default (preflights refused, not 405); an allowed
// origin's preflight is answered and its requests carry the CORS headers
// and pass the cross-origin check; another origin gets neither.
func TestCORS(t *testing.T) {
	preflight := func(e *env, origin string) *response {
		return e.raw("OPTIONS", "/tasker/tasks", "", "Origin", origin, "Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "authorization, content-type")
	}
	off := newEnv(t)
	res := preflight(off, "https://console.example.com").want(t, http.StatusForbidden)
	require.Equal(t, "cors_origin_not_allowed", res.errorCode(t))
	require.Empty(t, res.Header.Get("Access-Control-Allow-Origin"))

	const console = "https://console.example.com"
	e := newEnvOpts(t, &taskerhttp.Options{CORSOrigins: []string{console}})
	res = preflight(e, console).want(t, http.StatusNoContent)
	require.Equal(t, console, res.Header.Get("Access-Control-Allow-Origin"))
	require.Contains(t, res.Header.Get("Access-Control-Allow-Methods"), "POST")
	require.Contains(t, res.Header.Get("Access-Control-Allow-Headers"), "Authorization")
	require.Contains(t, res.Header.Get("Access-Control-Allow-Headers"), "Content-Type")
	require.Contains(t, res.Header.Values("Vary"), "Origin")

	res = preflight(e, "https://evil.example").want(t, http.StatusForbidden)
	require.Empty(t, res.Header.Get("Access-Control-Allow-Origin"))
	preflight(e, "http://console.example.com").want(t, http.StatusForbidden, "the scheme is part of the origin")

	res = e.do("POST", "/tasker/tasks", `{"name": "dummy_task", "context": {"dummy": true}}`, "Origin", console, "Sec-Fetch-Site", "cross-site").want(t, http.StatusCreated)
	require.Equal(t, console, res.Header.Get("Access-Control-Allow-Origin"))
	require.Contains(t, res.Header.Get("Access-Control-Expose-Headers"), "X-Request-Id")
	res = e.do("POST", "/tasker/tasks", `{"name": "dummy_task", "context": {"dummy": true}}`, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site").want(t, http.StatusForbidden)
	require.Empty(t, res.Header.Get("Access-Control-Allow-Origin"))
	res = e.do("GET", "/tasker/tasks", nil, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site").want(t, http.StatusOK)
	require.Empty(t, res.Header.Get("Access-Control-Allow-Origin"), "the page may not read the answer")

	require.True(t, taskerhttp.ValidOrigin(console))
	require.True(t, taskerhttp.ValidOrigin("http://localhost:5173"))
	require.False(t, taskerhttp.ValidOrigin("console.example.com"))
	require.False(t, taskerhttp.ValidOrigin("https://console.example.com/app"))
}
