package taskerdrivertest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// workers exercises the registry of workers seen: upsert, listing by last
// sight, the kept start of a remote worker, and pruning.
func (s *suite) workers(t *testing.T) {
	s.run(t, "WorkerRegistry", func(t *testing.T, b *bundle) {
		list, err := b.ex.WorkerList(b.ctx, &taskerdriver.WorkerListParams{})
		require.NoError(t, err)
		require.Empty(t, list, "a new database has no worker")

		local := &taskerdriver.WorkerSeenParams{ID: "host-1-abc", Kind: taskertype.WorkerInProcess, Host: "host", PID: 1234,
			Version: "v1.2.3", Handlers: []string{"charge", "ship"}, Namespaces: []string{"billing"},
			StartedAt: base, Now: base.Add(time.Second)}
		require.NoError(t, b.ex.WorkerSeen(b.ctx, local))
		remote := &taskerdriver.WorkerSeenParams{ID: "py-7", Kind: taskertype.WorkerRemote, Queues: []string{"ml", "etl"},
			Now: base.Add(2 * time.Second)}
		require.NoError(t, b.ex.WorkerSeen(b.ctx, remote))

		list, err = b.ex.WorkerList(b.ctx, &taskerdriver.WorkerListParams{Since: base})
		require.NoError(t, err)
		require.Equal(t, []*taskertype.Worker{
			{ID: "py-7", Kind: taskertype.WorkerRemote, Handlers: []string{}, Namespaces: []string{}, Queues: []string{"ml", "etl"},
				StartedAt: base.Add(2 * time.Second), LastSeenAt: base.Add(2 * time.Second)},
			{ID: "host-1-abc", Kind: taskertype.WorkerInProcess, Host: "host", PID: 1234, Version: "v1.2.3",
				Handlers: []string{"charge", "ship"}, Namespaces: []string{"billing"}, Queues: []string{},
				StartedAt: base, LastSeenAt: base.Add(time.Second)},
		}, list, "most recently seen first; a remote worker's start is its first sight")

		// A later report updates the row; a remote worker keeps its first
		// start, a restarted in-process worker gets its new one. A report
		// older than the stored one (a slow server) never moves
		// last_seen_at back.
		remote.Now, remote.Queues = base.Add(time.Minute), []string{"ml"}
		require.NoError(t, b.ex.WorkerSeen(b.ctx, remote))
		local.StartedAt, local.Now, local.PID, local.Handlers = base.Add(30*time.Second), base.Add(40*time.Second), 99, nil
		require.NoError(t, b.ex.WorkerSeen(b.ctx, local))
		stale := *remote
		stale.Now, stale.Queues, stale.KeepQueues = base.Add(10*time.Second), nil, true
		require.NoError(t, b.ex.WorkerSeen(b.ctx, &stale))
		require.NoError(t, b.ex.WorkerSeen(b.ctx, &taskerdriver.WorkerSeenParams{ID: "hb-only", Kind: taskertype.WorkerRemote,
			KeepQueues: true, Now: base}))

		list, err = b.ex.WorkerList(b.ctx, &taskerdriver.WorkerListParams{Since: base.Add(35 * time.Second)})
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, "py-7", list[0].ID)
		require.Equal(t, base.Add(2*time.Second), list[0].StartedAt, "a remote worker keeps its first start")
		require.Equal(t, base.Add(time.Minute), list[0].LastSeenAt, "an older report does not move last_seen_at back")
		require.Equal(t, []string{"ml"}, list[0].Queues, "KeepQueues keeps the stored queues")
		require.Equal(t, base.Add(30*time.Second), list[1].StartedAt, "a restarted worker reports its new start")
		require.Equal(t, 99, list[1].PID)
		require.Equal(t, []string{}, list[1].Handlers)

		list, err = b.ex.WorkerList(b.ctx, &taskerdriver.WorkerListParams{Since: base.Add(45 * time.Second)})
		require.NoError(t, err)
		require.Len(t, list, 1, "Since is inclusive and filters by last sight")
		require.Equal(t, "py-7", list[0].ID)
		list, err = b.ex.WorkerList(b.ctx, &taskerdriver.WorkerListParams{Limit: 1})
		require.NoError(t, err)
		require.Len(t, list, 1)

		n, err := b.ex.WorkerDeleteStale(b.ctx, &taskerdriver.WorkerDeleteStaleParams{Before: base.Add(40 * time.Second)})
		require.NoError(t, err)
		require.Equal(t, 1, n, "hb-only (seen at base) goes; host-1-abc, seen at Before, stays: Before is exclusive")
		n, err = b.ex.WorkerDeleteStale(b.ctx, &taskerdriver.WorkerDeleteStaleParams{Before: base.Add(50 * time.Second)})
		require.NoError(t, err)
		require.Equal(t, 1, n)
		list, err = b.ex.WorkerList(b.ctx, &taskerdriver.WorkerListParams{})
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, "py-7", list[0].ID)
	})
}
