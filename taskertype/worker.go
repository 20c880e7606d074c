package taskertype

import "time"

// WorkerKind says where a worker runs.
type WorkerKind string

// The kinds of workers.
const (
	// WorkerInProcess is a worker loop inside a tasker process (tasker
	// serve, tasker worker, or a Go program's Client.Start).
	WorkerInProcess WorkerKind = "in_process"
	// WorkerRemote is a process outside that claims the steps of remote
	// queues over the REST API.
	WorkerRemote WorkerKind = "remote"
)

// Worker is a worker as it last reported itself: every worker records
// that it is alive at most once per heartbeat interval, and the
// maintenance leader deletes the rows of workers not seen for a long time.
type Worker struct {
	// ID is the worker's lease owner id (WorkerConfig.ID, or the
	// worker_id of a remote worker).
	ID   string     `json:"worker_id"`
	Kind WorkerKind `json:"kind"`
	// Host, PID and Version describe an in-process worker's process
	// (empty for a remote worker, which does not report them).
	Host    string `json:"host,omitempty"`
	PID     int    `json:"pid,omitempty"`
	Version string `json:"version,omitempty"`
	// Handlers are the handler names the worker runs (for an in-process
	// worker without a restriction, every handler registered in it), and
	// Namespaces the namespaces of the templates registered in it.
	Handlers   []string `json:"handlers"`
	Namespaces []string `json:"namespaces"`
	// Queues are the remote queues a remote worker claims from.
	Queues []string `json:"queues"`
	// StartedAt is when the worker first reported itself; LastSeenAt when
	// it last did.
	StartedAt  time.Time `json:"started_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
}
