package recorder_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/recorder"
	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// written is what a pass wrote and published, without ids and times.
type written struct {
	Transitions []string // the task's, from>to metadata
	State       taskertype.State
	Completed   bool
	Events      []string // name (task state)
}

// A pass the driver settles (on PostgreSQL: no outbox, so the recorder
// offers it) writes and publishes what the same pass written in two round
// trips (an outbox, so no offer) does, whatever the pass decides: the
// task keeps running (a's completion), completes (the last step's), or
// was cancelled meanwhile. The driver's move of a task whose steps are all
// done is statemachine.Decide's, with the metadata finalize writes. A
// pass that cannot settle (its last runnable step completes beside a
// blocked one: the task is stuck) is written once, by the recorder.
func TestSettledPassWritesWhatFinalizeWrites(t *testing.T) {
	testdb.EachDriver(t, func(t *testing.T) {
		d := testdb.Open(t)
		require.NoError(t, d.Migrate(t.Context()))
		ex := d.Executor()
		now := testdb.Base
		outbox := func([]*taskertype.Event) []*taskerdriver.OutboxInsertParams { return nil }
		for _, scenario := range []string{"running", "last step", "cancelled", "stuck"} {
			var got [2]written
			var committed [2]bool
			for i, cfg := range []recorder.Config{{}, {Outbox: outbox}} {
				rec := recorder.New(cfg)
				w, c := runScenario(t, ex, rec, scenario, fmt.Sprint(scenario, i), now)
				got[i], committed[i] = w, c
			}
			require.Equal(t, got[1], got[0], "%s: settled and unsettled passes write the same", scenario)
			require.False(t, committed[1], "%s: an outbox: no offer", scenario)
			require.Equal(t, testdb.DriverOf(t) == "postgres" && scenario != "stuck", committed[0], "%s: the pass settled (PostgreSQL only)", scenario)
		}
	})
}

// runScenario creates a task a → b (for "stuck": two roots a and b), runs
// a (and, past "running", b; for "stuck", a fails for good first) and
// reports what the last pass wrote and whether it settled.
func runScenario(t *testing.T, ex taskerdriver.Executor, rec *recorder.Recorder, scenario, hash string, now time.Time) (written, bool) {
	t.Helper()
	ctx := t.Context()
	b := taskerdriver.StepCreateParams{Name: "b", Handler: "h", RetryLimit: 1, Parents: []int{0}}
	if scenario == "stuck" {
		b.Parents = nil
	}
	created, err := ex.TaskCreate(ctx, &taskerdriver.TaskCreateParams{Namespace: "default", Name: "chain", Version: "1",
		Context: json.RawMessage(`{}`), Tags: []string{}, IdentityHash: hash, RequestedAt: now, Now: now,
		Steps: []taskerdriver.StepCreateParams{{Name: "a", Handler: "h", RetryLimit: 1}, b}})
	require.NoError(t, err)
	id := created.Task.ID
	claim := func() []*taskerdriver.ClaimedStep {
		cs, err := ex.StepClaim(ctx, &taskerdriver.StepClaimParams{Now: now, Limit: 1, Owner: "w", LeaseExpiresAt: now.Add(time.Hour), TaskIDs: []int64{id}})
		require.NoError(t, err)
		require.Len(t, cs, 1)
		return cs
	}
	record := func(c *taskerdriver.ClaimedStep, res recorder.Result) (*recorder.Batch, bool) {
		task, err := ex.TaskGet(ctx, id)
		require.NoError(t, err)
		var b recorder.Batch
		var settled bool
		err = recorder.InTx(ctx, ex, func(tx taskerdriver.ExecutorTx) error {
			_, err := rec.Record(ctx, tx, now, []recorder.Attempt{{Step: c.Step, Task: task, Owner: "w", Started: now, Ended: now, Result: res}}, &b)
			if err != nil {
				return err
			}
			// A settled transaction is over: a read in it fails.
			_, err = tx.TaskGet(ctx, id)
			settled = err != nil
			return nil
		})
		require.NoError(t, err)
		return &b, settled
	}
	a := claim()[0]
	switch scenario {
	case "running":
		b, settled := record(a, recorder.Result{})
		return writtenBy(t, ex, id, b), settled
	case "stuck":
		last := claim()[0]
		_, _ = record(a, recorder.Result{Err: errors.New("no"), Permanent: true})
		b, settled := record(last, recorder.Result{})
		return writtenBy(t, ex, id, b), settled
	}
	_, _ = record(a, recorder.Result{})
	last := claim()[0]
	if scenario == "cancelled" {
		_, err := ex.TaskSetStateMany(ctx, []*taskerdriver.TaskSetStateParams{{ID: id, From: []taskertype.State{taskertype.StateInProgress},
			To: taskertype.StateCancelled, Now: now}})
		require.NoError(t, err)
	}
	batch, settled := record(last, recorder.Result{})
	return writtenBy(t, ex, id, batch), settled
}

func writtenBy(t *testing.T, ex taskerdriver.Executor, id int64, b *recorder.Batch) written {
	t.Helper()
	ctx := context.WithoutCancel(t.Context())
	task, err := ex.TaskGet(ctx, id)
	require.NoError(t, err)
	w := written{State: task.State, Completed: !task.CompletedAt.IsZero()}
	tr, err := ex.TransitionList(ctx, &taskerdriver.TransitionListParams{TaskID: id})
	require.NoError(t, err)
	for _, x := range tr {
		var meta map[string]any
		require.NoError(t, json.Unmarshal(x.Metadata, &meta))
		w.Transitions = append(w.Transitions, fmt.Sprintf("%s>%s %v", x.FromState, x.ToState, meta))
	}
	for _, e := range b.Events {
		w.Events = append(w.Events, fmt.Sprintf("%s (%s)", e.Name, e.Task.State))
	}
	return w
}
