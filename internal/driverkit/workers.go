package driverkit

import (
	"encoding/json"
	"fmt"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// WorkerColumns are the columns of tasker_workers, in the order
// ScannedWorker decodes them.
const WorkerColumns = `worker_id, kind, host, pid, version, handlers, namespaces, queues, started_at, last_seen_at`

// DefaultWorkerListLimit bounds WorkerList when the caller gives no limit.
const DefaultWorkerListLimit = 1000

// WorkerNames encodes the served names of p as JSON arrays (never null).
func WorkerNames(p *taskerdriver.WorkerSeenParams) (handlers, namespaces, queues []byte, err error) {
	enc := func(v []string) ([]byte, error) {
		if v == nil {
			v = []string{}
		}
		return json.Marshal(v)
	}
	if handlers, err = enc(p.Handlers); err != nil {
		return nil, nil, nil, err
	}
	if namespaces, err = enc(p.Namespaces); err != nil {
		return nil, nil, nil, err
	}
	queues, err = enc(p.Queues)
	return handlers, namespaces, queues, err
}

// ScannedWorker decodes the JSON array columns of a scanned worker row.
func ScannedWorker(w *taskertype.Worker, handlers, namespaces, queues []byte) error {
	for _, f := range []struct {
		raw []byte
		dst *[]string
	}{{handlers, &w.Handlers}, {namespaces, &w.Namespaces}, {queues, &w.Queues}} {
		*f.dst = []string{}
		if len(f.raw) == 0 {
			continue
		}
		if err := json.Unmarshal(f.raw, f.dst); err != nil {
			return fmt.Errorf("worker %s: %w", w.ID, err)
		}
	}
	return nil
}
