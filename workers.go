package tasker

import (
	"context"
	"fmt"
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
	return taskerdriver.WorkerSeenParams{
		Host: host, PID: os.Getpid(), Version: moduleVersion(),
		Handlers: slices.Clone(c.runnableHandlers()), Namespaces: c.registry.Namespaces(),
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

// HandlerWait says why a step waits: no worker seen recently runs its
// handler (or, for a remote step, polls its queue).
type HandlerWait struct {
	// Handler is the step's handler.
	Handler string `json:"handler"`
	// Queue is the remote queue of a remote step.
	Queue string `json:"queue,omitempty"`
	// Message says so, such as `no worker for handler "charge" in the
	// last 5 minutes`, and what to do.
	Message string `json:"message"`
}

// WorkerCoverage is what the workers seen recently run: the handlers of
// the in-process workers and the queues of the remote ones (see
// Client.WorkerCoverage).
type WorkerCoverage struct {
	// Window is how far back workers were looked for
	// (Config.HealthWorkerWindow).
	Window   time.Duration
	handlers map[string]bool
	queues   map[string]bool
}

// WorkerCoverage reads the registry of workers seen within
// Config.HealthWorkerWindow (5 minutes by default): what Waiting judges
// steps by.
func (c *Client) WorkerCoverage(ctx context.Context) (*WorkerCoverage, error) {
	window := c.cfg.HealthWorkerWindow
	if window <= 0 {
		window = DefaultHealthWorkerWindow
	}
	ws, err := c.Workers(ctx, c.cfg.Now().Add(-window))
	if err != nil {
		return nil, err
	}
	cov := &WorkerCoverage{Window: window, handlers: map[string]bool{}, queues: map[string]bool{}}
	for _, w := range ws {
		for _, h := range w.Handlers {
			cov.handlers[h] = true
		}
		for _, q := range w.Queues {
			cov.queues[q] = true
		}
	}
	return cov, nil
}

// Waiting reports why s waits for a worker: s is pending (or in error and
// to be retried) and no worker seen within the window runs its handler
// (for a remote step: polls its queue). Nil when s does not wait for one.
func (w *WorkerCoverage) Waiting(s *Step) *HandlerWait {
	waits := s.State == StatePending || (s.State == StateError && !s.Blocked)
	if w == nil || !waits {
		return nil
	}
	within := "in the last " + describeWindow(w.Window)
	if s.Queue != "" {
		if w.queues[s.Queue] {
			return nil
		}
		return &HandlerWait{Handler: s.Handler, Queue: s.Queue, Message: fmt.Sprintf(
			"no remote worker for queue %q %s: start a remote worker that polls it", s.Queue, within)}
	}
	if w.handlers[s.Handler] {
		return nil
	}
	return &HandlerWait{Handler: s.Handler, Message: fmt.Sprintf(
		"no worker for handler %q %s: start a worker that registers it", s.Handler, within)}
}

// describeWindow is d in words: "5 minutes", "1 minute", "90s".
func describeWindow(d time.Duration) string {
	switch {
	case d == time.Minute:
		return "minute"
	case d%time.Minute == 0:
		return fmt.Sprintf("%d minutes", d/time.Minute)
	}
	return d.String()
}
