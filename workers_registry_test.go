package tasker_test

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskerwire"
)

// A remote worker is recorded when its claim or heartbeat succeeds, at most
// once per 10 s by one client; a heartbeat keeps the queues its claims gave.
func TestRemoteWorkersAreRecordedOncePerInterval(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t)
		t0 := e.clock.Now()
		seen := func() *tasker.WorkerInfo {
			t.Helper()
			ws, err := e.client.Workers(e.ctx, t0.Add(-time.Hour))
			require.NoError(t, err)
			require.Len(t, ws, 1)
			return ws[0]
		}
		claim := func(queues ...string) {
			t.Helper()
			_, err := e.client.ClaimRemoteSteps(e.ctx, &taskerwire.ClaimRequest{WorkerID: "py-1", Queues: queues})
			require.NoError(t, err)
		}
		claim("ml", "etl")
		w := seen()
		require.Equal(t, tasker.WorkerRemote, w.Kind)
		require.Equal(t, []string{"ml", "etl"}, w.Queues)
		require.Equal(t, t0, w.StartedAt)
		require.Equal(t, t0, w.LastSeenAt)

		e.clock.Advance(9 * time.Second)
		claim("ml")
		require.Equal(t, t0, seen().LastSeenAt, "not recorded again within 10s")
		require.Equal(t, []string{"ml", "etl"}, seen().Queues)

		t1 := e.clock.Advance(time.Second)
		claim("ml")
		w = seen()
		require.Equal(t, t1, w.LastSeenAt)
		require.Equal(t, []string{"ml"}, w.Queues)
		require.Equal(t, t0, w.StartedAt, "a remote worker keeps its first sight as start")

		// A heartbeat (of a step it does not hold: an answer, not an error)
		// records the worker and keeps its queues.
		t2 := e.clock.Advance(10 * time.Second)
		kept, err := e.client.HeartbeatRemoteSteps(e.ctx, "py-1", []int64{12345}, 0)
		require.NoError(t, err)
		require.Empty(t, kept)
		w = seen()
		require.Equal(t, t2, w.LastSeenAt)
		require.Equal(t, []string{"ml"}, w.Queues)

		// An invalid claim records nothing.
		_, err = e.client.ClaimRemoteSteps(e.ctx, &taskerwire.ClaimRequest{WorkerID: "py 2", Queues: []string{"ml"}})
		require.Error(t, err)
		ws, err := e.client.Workers(e.ctx, t0.Add(-time.Hour))
		require.NoError(t, err)
		require.Len(t, ws, 1)
	})
}

// Health fails on the step threshold alone: half of the tasks (not more)
// are in error, but three of the four steps are.
func TestHealthStepErrorThreshold(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t,
			template("default", "one", "1.0.0", stepDef{name: "ok"}),
			template("default", "three", "1.0.0", stepDef{name: "x", limit: 1}, stepDef{name: "y", limit: 1}, stepDef{name: "z", limit: 1}))
		for _, s := range []string{"x", "y", "z"} {
			e.h.permanent[s] = true
		}
		e.create("one", nil)
		e.create("three", nil)
		e.singlePass()
		h, err := e.client.Health(e.ctx)
		require.NoError(t, err)
		require.False(t, h.Healthy)
		require.Equal(t, []string{"75.0% of steps are in error (above 50%)"}, h.Reasons)
		require.Equal(t, tasker.HealthStateCounts{Total: 2, Complete: 1, Error: 1}, h.Metrics.Tasks)
		require.Equal(t, tasker.HealthStateCounts{Total: 4, Complete: 1, Error: 3}, h.Metrics.Steps)
		require.Equal(t, 3, h.Metrics.Retries.ExhaustedRetries)
		require.Zero(t, h.Workers.Total)
	})
}

// A worker that starts records its process: host, pid and the engine's
// module version from the binary's build information, "(devel)" in this
// module's own test binary. (A test binary of another module, such as
// tests/taskerhttp's, carries no build information of its dependencies, so
// the health answers pinned there show no version.)
func TestInProcessWorkerRecordsItsProcess(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t)
		require.NoError(t, e.client.Start(e.ctx))
		require.NoError(t, e.client.Stop(e.ctx))
		ws, err := e.client.Workers(e.ctx, e.clock.Now().Add(-time.Hour))
		require.NoError(t, err)
		require.Len(t, ws, 1)
		w := ws[0]
		require.Equal(t, tasker.WorkerInProcess, w.Kind)
		host, err := os.Hostname()
		require.NoError(t, err)
		require.Equal(t, host, w.Host)
		require.Equal(t, os.Getpid(), w.PID)
		require.Equal(t, "(devel)", w.Version)
	})
}
