package tasker_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/pgtest"
	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskerdriver/taskerpgx"
	"github.com/tasker-go/tasker/taskerdriver/taskersqlite"
	"github.com/tasker-go/tasker/taskerhttp"
	"github.com/tasker-go/tasker/taskertype"
)

// secretsTemplate has a secret in an http header, in an exec command's env
// and in the Authorization header of a call whose answer echoes the
// request's headers (issue 12, item 1).
const secretsTemplate = `
name: secrets
namespace_name: sec
step_templates:
  - name: call
    handler: http
    handler_config:
      url: "{{URL}}/ok"
      headers: {X-Api-Key: "${SECRET_TOKEN}"}
  - name: run
    handler: exec
    handler_config:
      command: ["sh", "-c", "printf %s \"$API_KEY\" > '{{FILE}}'; echo '{}'"]
      env: {API_KEY: "${API_KEY}"}
  - name: echo
    handler: http
    default_retryable: false
    handler_config:
      url: "{{URL}}/echo"
      headers: {Authorization: "Bearer ${SECRET_TOKEN}"}
`

// A ${VAR} of a template is expanded when the step runs, in the process that
// runs it: the step receives the value, and no REST answer, stored row,
// event or error holds it; the stored and served handler_config keeps the
// ${VAR} text.
func TestSecretsAreExpandedOnlyWhenTheStepRuns(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		ctx := t.Context()
		token := "tok-5ecret-" + strconv.FormatInt(int64(os.Getpid()), 10) + "-" + testdb.DriverOf(t)
		apiKey := "key-5ecret-" + strconv.FormatInt(int64(os.Getpid()), 10) + "-" + testdb.DriverOf(t)
		secrets := []string{token, apiKey}
		env := map[string]string{"SECRET_TOKEN": token, "API_KEY": apiKey}
		lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }

		var mu sync.Mutex
		var gotKey string
		upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/echo" {
				w.WriteHeader(http.StatusBadRequest)
				_ = r.Header.Write(w) // an upstream that echoes the request's headers
				return
			}
			mu.Lock()
			gotKey = r.Header.Get("X-Api-Key")
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"ok": true}`))
		}))
		defer upstream.Close()
		childFile := filepath.Join(t.TempDir(), "child-env")
		src := strings.NewReplacer("{{URL}}", upstream.URL, "{{FILE}}", childFile).Replace(secretsTemplate)

		drv, dump := openDumpable(t)
		reg := tasker.NewRegistry()
		_, err := reg.LoadYAML("secrets.yaml", []byte(src), tasker.LoadOptions{LookupEnv: lookup,
			Warn: func(e *tasker.TemplateError) { t.Errorf("unexpected warning: %v", e) }})
		require.NoError(t, err)
		var events []json.RawMessage
		c, err := tasker.NewClient(ctx, drv, &tasker.Config{
			Registry: reg, Logger: slog.New(slog.DiscardHandler),
			Worker: tasker.WorkerConfig{LookupEnv: lookup},
			Hooks: []tasker.Hook{tasker.HookFunc(func(ev *tasker.Event) {
				b, err := json.Marshal(ev)
				require.NoError(t, err)
				mu.Lock()
				events = append(events, b)
				mu.Unlock()
			})},
		})
		require.NoError(t, err)
		created, err := c.CreateTask(ctx, &tasker.TaskRequest{Namespace: "sec", Name: "secrets", Context: map[string]any{}})
		require.NoError(t, err)
		task := created.Task
		require.NoError(t, c.RunUntilIdle(ctx))

		// The steps really received the values.
		mu.Lock()
		require.Equal(t, token, gotKey, "the http step sent the expanded header")
		mu.Unlock()
		child, err := os.ReadFile(childFile)
		require.NoError(t, err)
		require.Equal(t, apiKey, string(child), "the exec child saw the expanded env")
		steps, err := c.ListSteps(ctx, task.ID)
		require.NoError(t, err)
		byName := map[string]*tasker.Step{}
		for _, s := range steps {
			byName[s.Name] = s
		}
		require.Equal(t, taskertype.StateComplete, byName["call"].State)
		require.Equal(t, taskertype.StateComplete, byName["run"].State)
		require.Equal(t, taskertype.StateError, byName["echo"].State)
		require.NotNil(t, byName["echo"].LastError)
		require.Contains(t, byName["echo"].LastError.Message, "[REDACTED]", "the echoed credential is redacted")
		require.JSONEq(t, `{"X-Api-Key": "${SECRET_TOKEN}"}`, jsonOf(t, byName["call"].HandlerConfig)["headers"], "the stored config keeps the reference")

		// No REST answer holds a secret.
		api := httptest.NewServer(taskerhttp.NewHandler(c, nil))
		defer api.Close()
		id := strconv.FormatInt(task.ID, 10)
		paths := []string{
			"/tasker/handlers/sec/secrets", "/tasker/handlers/sec", "/tasker/tasks", "/tasker/tasks/" + id,
			"/tasker/tasks/" + id + "/workflow_steps", "/tasker/tasks/" + id + "/diagram",
			"/tasker/tasks/" + id + "/transitions", "/tasker/events",
		}
		for _, s := range steps {
			paths = append(paths, "/tasker/tasks/"+id+"/workflow_steps/"+strconv.FormatInt(s.ID, 10))
		}
		for _, p := range paths {
			body := get(t, api.URL+p)
			for _, secret := range secrets {
				require.NotContains(t, body, secret, "GET %s", p)
			}
		}
		require.Contains(t, get(t, api.URL+"/tasker/handlers/sec/secrets"), "${SECRET_TOKEN}")
		require.Contains(t, get(t, api.URL+"/tasker/tasks/"+id+"/workflow_steps/"+strconv.FormatInt(byName["run"].ID, 10)), "${API_KEY}")

		// No stored row holds a secret.
		rows := dump(ctx)
		require.Contains(t, rows, "${SECRET_TOKEN}", "the dump reads the step rows")
		for _, secret := range secrets {
			require.NotContains(t, rows, secret)
		}

		// No event holds a secret.
		mu.Lock()
		defer mu.Unlock()
		require.NotEmpty(t, events)
		for _, ev := range events {
			for _, secret := range secrets {
				require.NotContains(t, string(ev), secret)
			}
		}
	})
}

// runOneStep creates a task of the template name of the one step st, its
// worker's environment read with lookup, and runs one pass: it returns the
// env, the task's id and the step after the pass.
func runOneStep(t *testing.T, name string, st tasker.StepTemplate, lookup func(string) (string, bool)) (*env, int64, *tasker.Step) {
	t.Helper()
	e := newEnvWith(t, func(c *tasker.Config) { c.Worker.LookupEnv = lookup },
		&tasker.TaskTemplate{Name: name, Steps: []tasker.StepTemplate{st}})
	task := e.create(name, map[string]any{})
	e.singlePass()
	return e, task.ID, e.steps(task.ID)[st.Name]
}

// An unset variable fails the step permanently, naming the variable.
func TestSecretsUnsetVariableFailsTheStep(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e, taskID, s := runOneStep(t, "unset", tasker.StepTemplate{
			Name: "run", Handler: "exec", HandlerConfig: map[string]any{"command": "true", "env": map[string]any{"K": "${SECRETS_TEST_UNSET_VAR}"}},
		}, func(string) (string, bool) { return "", false })
		require.Equal(t, taskertype.StateError, s.State)
		require.Contains(t, s.LastError.Message, "environment variable SECRETS_TEST_UNSET_VAR is not set")
		require.Equal(t, taskertype.StateError, e.task(taskID).State, "permanent: no retry")
	})
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url) //nolint:noctx // a test
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: %s", url, b)
	return string(b)
}

func jsonOf(t *testing.T, raw json.RawMessage) map[string]string {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &m))
	out := map[string]string{}
	for k, v := range m {
		out[k] = string(v)
	}
	return out
}

// openDumpable opens a fresh database of the test's driver and a function
// that returns the text of every row of every table.
func openDumpable(t *testing.T) (taskerdriver.Driver, func(context.Context) string) {
	t.Helper()
	if testdb.DriverOf(t) == "postgres" {
		url := pgtest.URL(t)
		d, err := taskerpgx.Open(t.Context(), url)
		require.NoError(t, err)
		t.Cleanup(func() { _ = d.Close() })
		return d, func(ctx context.Context) string {
			conn, err := pgx.Connect(ctx, url)
			require.NoError(t, err)
			defer func() { _ = conn.Close(context.Background()) }()
			rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
			require.NoError(t, err)
			tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
			require.NoError(t, err)
			require.NotEmpty(t, tables)
			var sb strings.Builder
			for _, tbl := range tables {
				var text string
				require.NoError(t, conn.QueryRow(ctx, `SELECT coalesce(string_agg(row_to_json(t)::text, E'\n'), '') FROM `+pgx.Identifier{tbl}.Sanitize()+` t`).Scan(&text))
				sb.WriteString(text)
			}
			return sb.String()
		}
	}
	path := filepath.Join(t.TempDir(), "tasker.db")
	d, err := taskersqlite.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	return d, func(ctx context.Context) string {
		db, err := sql.Open("sqlite", "file:"+path)
		require.NoError(t, err)
		defer func() { _ = db.Close() }()
		var tables []string
		rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table'`)
		require.NoError(t, err)
		for rows.Next() {
			var n string
			require.NoError(t, rows.Scan(&n))
			tables = append(tables, n)
		}
		require.NoError(t, rows.Err())
		require.NoError(t, rows.Close())
		require.NotEmpty(t, tables)
		var sb strings.Builder
		for _, tbl := range tables {
			rows, err := db.QueryContext(ctx, `SELECT * FROM "`+tbl+`"`)
			require.NoError(t, err)
			cols, err := rows.Columns()
			require.NoError(t, err)
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				require.NoError(t, rows.Scan(ptrs...))
				for _, v := range vals {
					if b, ok := v.([]byte); ok {
						v = string(b)
					}
					fmt.Fprintf(&sb, "%v\t", v)
				}
				sb.WriteByte('\n')
			}
			require.NoError(t, rows.Err())
			require.NoError(t, rows.Close())
		}
		return sb.String()
	}
}

// The handlers' configuration checks judge the expanded values when the
// loading process has the variables, and leave them to the run otherwise.
func TestSecretsConfigCheckedWithTheLoadingEnvironment(t *testing.T) {
	t.Parallel()
	src := []byte("name: t\nstep_templates:\n  - name: a\n    handler: http\n    handler_config:\n      url: \"${BASE}/x\"\n")
	bad := func(k string) (string, bool) { return map[string]string{"BASE": "ftp://files"}[k], k == "BASE" }
	_, err := tasker.NewRegistry().LoadYAML("t.yaml", src, tasker.LoadOptions{LookupEnv: bad})
	require.ErrorContains(t, err, `handler_config.url "${BASE}/x"`, "the check shows the reference, not the value")
	require.NotContains(t, err.Error(), "ftp://files")

	var warned int
	tmpl, err := tasker.NewRegistry().LoadYAML("t.yaml", src, tasker.LoadOptions{
		LookupEnv: func(string) (string, bool) { return "", false },
		Warn:      func(*tasker.TemplateError) { warned++ },
	})
	require.NoError(t, err)
	require.Equal(t, 1, warned)
	require.Equal(t, "${BASE}/x", tmpl.Steps[0].HandlerConfig["url"])
}

// A value that a handler quotes in a failure (here a URL from the
// environment, in a connection error) is stored as its ${VAR} reference.
func TestSecretsRedactedFromFailures(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		base := "http://" + ln.Addr().String() + "/tenant-5ecret-path"
		require.NoError(t, ln.Close()) // connections are refused
		_, _, s := runOneStep(t, "refused", tasker.StepTemplate{
			Name: "call", Handler: "http", HandlerConfig: map[string]any{"url": "${BASE_URL}/orders"},
		}, func(k string) (string, bool) { return base, k == "BASE_URL" })
		require.Equal(t, taskertype.StateError, s.State)
		require.Contains(t, s.LastError.Message, "${BASE_URL}/orders")
		require.NotContains(t, s.LastError.Message, "tenant-5ecret-path")
		require.NotContains(t, string(s.LastError.Details), "tenant-5ecret-path")
		require.Contains(t, string(s.LastError.Details), "${BASE_URL}")
		require.Equal(t, "*tasker.HTTPError", s.LastError.Class, "the class is the handler's")
	})
}
