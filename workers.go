package tasker

import (
	"context"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// WorkerInfo is a worker as it last reported itself to the registry of
// workers seen (see Client.Workers).
type WorkerInfo = taskertype.Worker

// WorkerKind says where a worker runs: WorkerInProcess or WorkerRemote.
type WorkerKind = taskertype.WorkerKind

// The kinds of workers.
const (
	WorkerInProcess = taskertype.WorkerInProcess
	WorkerRemote    = taskertype.WorkerRemote
)

// WorkerRetention is how long the maintenance leader keeps the row of a
// worker that stopped reporting itself.
const WorkerRetention = 24 * time.Hour

// DefaultHealthWorkerWindow is how far back Health looks for workers.
const DefaultHealthWorkerWindow = 5 * time.Minute

// remoteSeenInterval is the least time between two records of one remote
// worker by one client: remote workers call the claim route many times a
// second, the registry needs one write per interval.
const remoteSeenInterval = 10 * time.Second

// Workers lists the workers (in-process and remote) that reported
// themselves at or after since, the most recently seen first. An
// in-process worker reports itself when it starts and then once per
// heartbeat interval (a third of its lease, 10s by default); a remote
// worker when it claims or heartbeats, at most once per 10s per API
// server. Rows of workers not seen for WorkerRetention are deleted by
// the maintenance leader.
func (c *Client) Workers(ctx context.Context, since time.Time) ([]*WorkerInfo, error) {
	return c.exec.WorkerList(ctx, &taskerdriver.WorkerListParams{Since: since})
}

// describeWorker describes this process's in-process worker: what it
// runs is what its registry holds now (templates and handlers may be
// registered after Start).
func (c *Client) describeWorker() taskerdriver.WorkerSeenParams {
	host, _ := os.Hostname()
	handlers := c.cfg.Worker.Handlers
	if len(handlers) == 0 {
		handlers = c.registry.HandlerNames()
	}
	return taskerdriver.WorkerSeenParams{
		Host: host, PID: os.Getpid(), Version: moduleVersion(),
		Handlers: slices.Clone(handlers), Namespaces: c.registry.Namespaces(),
	}
}

// moduleVersion is the version of this module in the running binary
// ("(devel)" when built from its own checkout, "" when unknown).
var moduleVersion = sync.OnceValue(func() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	const path = "github.com/tasker-go/tasker"
	if bi.Main.Path == path {
		return bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == path {
			return d.Version
		}
	}
	return ""
})

// remoteSighting remembers when this client last recorded each remote
// worker, so that a busy remote worker costs one write per interval.
type remoteSighting struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// due reports whether worker should be recorded at now, and if so
// notes it. Entries older than the interval are dropped as it goes, so
// the map holds only the workers of the last interval.
func (r *remoteSighting) due(worker string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		r.last = map[string]time.Time{}
	}
	if t, ok := r.last[worker]; ok && now.Sub(t) < remoteSeenInterval && !now.Before(t) {
		return false
	}
	if len(r.last) > 1000 {
		for id, t := range r.last {
			if now.Sub(t) >= remoteSeenInterval {
				delete(r.last, id)
			}
		}
	}
	r.last[worker] = now
	return true
}

// remoteSeen records a remote worker that claims from queues, or
// heartbeats (queues nil: its stored queues are kept), when due. A failure
// is logged, never returned: the registry must not fail the worker's call.
func (c *Client) remoteSeen(ctx context.Context, worker string, queues []string) {
	now := c.cfg.Now()
	if !c.remoteSeenAt.due(worker, now) {
		return
	}
	p := &taskerdriver.WorkerSeenParams{ID: worker, Kind: taskertype.WorkerRemote, Queues: queues, KeepQueues: queues == nil, Now: now}
	if err := c.exec.WorkerSeen(ctx, p); err != nil {
		c.logger.WarnContext(ctx, "tasker: cannot record a remote worker in the registry of workers", "worker", worker, "error", err)
	}
}
