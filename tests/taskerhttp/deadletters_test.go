package taskerhttp_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskerhttp"
)

// deadLetterList is the answer of GET /tasker/dead_letters.
type deadLetterList struct {
	DeadLetters []tasker.OutboxMessage `json:"dead_letters"`
	Count       int                    `json:"count"`
}

// listDead answers GET /tasker/dead_letters?query.
func (e *env) listDead(t *testing.T, query string) deadLetterList {
	t.Helper()
	var list deadLetterList
	res := e.do("GET", "/tasker/dead_letters?"+query, nil).want(t, http.StatusOK)
	require.NoError(t, json.Unmarshal(res.Body, &list))
	return list
}

// deadLetters writes n messages of subscription sub and gives up on each
// (one failed attempt, dead), as the delivery of a subscription does.
func deadLetters(t *testing.T, d taskerdriver.Driver, sub string, n int) {
	t.Helper()
	x, now := d.Executor(), time.Now().UTC()
	for i := range n {
		require.NoError(t, x.OutboxInsert(t.Context(), []*taskerdriver.OutboxInsertParams{{Subscription: sub, EventName: "task.completed",
			Payload: json.RawMessage(fmt.Sprintf(`{"name": "task.completed", "task_id": %d}`, i+1)), Now: now}}))
	}
	msgs, err := x.OutboxClaim(t.Context(), &taskerdriver.OutboxClaimParams{Now: now, Limit: n, Owner: "test", LeaseExpiresAt: now.Add(time.Minute), Subscriptions: []string{sub}})
	require.NoError(t, err)
	require.Len(t, msgs, n)
	for _, m := range msgs {
		require.NoError(t, x.OutboxFinish(t.Context(), &taskerdriver.OutboxFinishParams{ID: m.ID, Owner: "test", Dead: true, Error: "webhook answered 500", Now: now}))
	}
}

// GET /tasker/dead_letters lists them (by subscription, bounded), POST
// /tasker/dead_letters/replay sends the named ones or all again; bad
// bodies and parameters are 400s naming the field.
func TestDeadLetterRoutes(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		d := openTestDriver(t)
		e := newEnvOn(t, d, func(*tasker.Client) *taskerhttp.Options { return nil }) // migrates d
		deadLetters(t, d, "billing", 3)
		deadLetters(t, d, "audit", 1)

		list := e.listDead(t, "")
		require.Equal(t, 4, list.Count)
		require.Len(t, list.DeadLetters, 4)
		list = e.listDead(t, "subscription=billing&limit=2")
		require.Equal(t, 2, list.Count)
		for _, m := range list.DeadLetters {
			require.Equal(t, "billing", m.Subscription)
			require.Equal(t, "dead", m.State)
			require.Equal(t, 1, m.Attempts)
			require.Equal(t, "webhook answered 500", m.LastError)
			require.Contains(t, string(m.Payload), `"name":"task.completed"`, "the payload as written")
		}
		for q, field := range map[string]string{"limit=0": "limit", "limit=1001": "limit", "limit=x": "limit", "subscription=a%00": "subscription", "subscription=%ff": "subscription"} {
			res := e.do("GET", "/tasker/dead_letters?"+q, nil)
			require.Equal(t, http.StatusBadRequest, res.Status, "%s: %s", q, res.Body)
			require.Contains(t, res.json(t)["error"].(map[string]any)["fields"], field, q)
		}

		audit := e.listDead(t, "subscription=audit").DeadLetters
		require.Len(t, audit, 1)
		id := audit[0].ID
		for body, field := range map[string]string{`{}`: "ids", `{"ids": []}`: "ids", `{"ids": "1"}`: "ids", `{"all": false}`: "all",
			`{"all": true, "ids": [1]}`: "all", `{"other": 1}`: "other"} {
			res := e.do("POST", "/tasker/dead_letters/replay", body)
			require.Equal(t, http.StatusBadRequest, res.Status, "%s: %s", body, res.Body)
			require.Contains(t, res.json(t)["error"].(map[string]any)["fields"], field, body)
		}
		res := e.do("POST", "/tasker/dead_letters/replay", fmt.Sprintf(`{"ids": [%d]}`, id)).want(t, http.StatusOK)
		require.JSONEq(t, `{"replayed": 1}`, string(res.Body))
		require.Zero(t, e.listDead(t, "subscription=audit").Count, "the replayed one is pending again")
		res = e.do("POST", "/tasker/dead_letters/replay", `{"all": true}`).want(t, http.StatusOK)
		require.JSONEq(t, `{"replayed": 3}`, string(res.Body))
		list = e.listDead(t, "")
		require.Zero(t, list.Count)
		require.NotNil(t, list.DeadLetters, "an empty list is []")
	})
}
