package tasker_test

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
)

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
