package taskergraphql_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/testdb"
)

// wsMessage is a message of the graphql-transport-ws protocol.
type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// dial opens a graphql-transport-ws connection and sends connection_init
// with payload.
func (e *env) dial(ctx context.Context, t *testing.T, payload any) (*websocket.Conn, error) {
	t.Helper()
	url := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/tasker/graphql"
	c, res, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if res != nil && res.Body != nil {
		_ = res.Body.Close()
	}
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	p, _ := json.Marshal(payload)
	require.NoError(t, wsjson.Write(ctx, c, wsMessage{Type: "connection_init", Payload: p}))
	var ack wsMessage
	if err := wsjson.Read(ctx, c, &ack); err != nil {
		return nil, err
	}
	require.Equal(t, "connection_ack", ack.Type)
	return c, nil
}

// next reads the next "next" message's data, skipping pings.
func next(ctx context.Context, t *testing.T, c *websocket.Conn, v any) {
	t.Helper()
	for {
		var m wsMessage
		require.NoError(t, wsjson.Read(ctx, c, &m))
		switch m.Type {
		case "ping":
			require.NoError(t, wsjson.Write(ctx, c, wsMessage{Type: "pong"}))
			continue
		case "next":
			var body struct {
				Data   json.RawMessage `json:"data"`
				Errors []gqlError      `json:"errors"`
			}
			require.NoError(t, json.Unmarshal(m.Payload, &body))
			require.Empty(t, body.Errors, "%s", m.Payload)
			require.NoError(t, json.Unmarshal(body.Data, v))
			return
		default:
			t.Fatalf("unexpected message %s: %s", m.Type, m.Payload)
		}
	}
}

// TestSubscriptions: taskUpdated sends the task, then each change until it
// completes; events sends the engine's events; the WebSocket authenticates
// with connection_init's payload and refuses a bad credential.
func TestSubscriptions(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		e := newAuthEnv(t)
		token := e.newToken(t, "viewer", "tasker.task:show", "tasker.event:index", "tasker.task:create")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()

		_, err := e.dial(ctx, t, map[string]any{"authorization": "Bearer tkr_wrong"})
		require.Error(t, err, "a bad credential closes the connection")
		var ce websocket.CloseError
		require.ErrorAs(t, err, &ce)
		require.EqualValues(t, 4403, ce.Code)

		e.token = token
		var created taskView
		e.query(`mutation { createTask(input: {name: "dummy_task", context: {dummy: true}}) { taskId } }`, nil).noErrors(t).field(t, "createTask", &created)

		c, err := e.dial(ctx, t, map[string]any{"authorization": "Bearer " + token})
		require.NoError(t, err)
		sub, _ := json.Marshal(map[string]any{"query": `subscription($id: ID!) { taskUpdated(taskId: $id) { taskId status workflowSteps { name status } } }`,
			"variables": map[string]any{"id": created.TaskID}})
		require.NoError(t, wsjson.Write(ctx, c, wsMessage{ID: "1", Type: "subscribe", Payload: sub}))
		evs, _ := json.Marshal(map[string]any{"query": `subscription { events(filter: ["task.completed"]) { name taskId payload timestamp } }`})
		require.NoError(t, wsjson.Write(ctx, c, wsMessage{ID: "2", Type: "subscribe", Payload: evs}))

		var first struct{ TaskUpdated taskView }
		next(ctx, t, c, &first)
		require.Equal(t, "pending", first.TaskUpdated.Status)
		require.Len(t, first.TaskUpdated.WorkflowSteps, 4)

		go func() { _ = e.client.RunUntilIdle(ctx) }()
		var sawComplete, sawEvent bool
		for !sawComplete || !sawEvent {
			var m wsMessage
			require.NoError(t, wsjson.Read(ctx, c, &m))
			if m.Type == "ping" {
				continue
			}
			require.Equal(t, "next", m.Type, "%s", m.Payload)
			var body struct {
				Data struct {
					TaskUpdated *taskView
					Events      *struct {
						Name   string `json:"name"`
						TaskID string `json:"taskId"`
					}
				}
			}
			require.NoError(t, json.Unmarshal(m.Payload, &body))
			switch m.ID {
			case "1":
				require.Equal(t, created.TaskID, body.Data.TaskUpdated.TaskID)
				if body.Data.TaskUpdated.Status == "complete" {
					sawComplete = true
					for _, s := range body.Data.TaskUpdated.WorkflowSteps {
						require.Equal(t, "complete", s.Status)
					}
				}
			case "2":
				require.Equal(t, "task.completed", body.Data.Events.Name)
				require.Equal(t, created.TaskID, body.Data.Events.TaskID)
				sawEvent = true
			}
		}

		// A subscription needs its permission.
		e.token = e.newToken(t, "no-events", "tasker.task:show")
		c2, err := e.dial(ctx, t, map[string]any{"authorization": "Bearer " + e.token})
		require.NoError(t, err)
		require.NoError(t, wsjson.Write(ctx, c2, wsMessage{ID: "3", Type: "subscribe", Payload: evs}))
		var m wsMessage
		require.NoError(t, wsjson.Read(ctx, c2, &m))
		require.Contains(t, []string{"next", "error"}, m.Type)
		require.Contains(t, string(m.Payload), "FORBIDDEN", "%s", m.Payload)
		require.NotContains(t, string(m.Payload), `"name"`, "no event is sent")
	})
}
