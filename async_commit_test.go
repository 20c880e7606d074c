package tasker_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskertype"
)

// TestAsyncCommitWorker runs diamonds, one with a retried step, through a
// worker whose passes commit asynchronously (WorkerConfig.AsyncCommit: on
// PostgreSQL, synchronous_commit off for its passes; ignored on SQLite):
// the same outcome, states and audit trail as with durable commits.
func TestAsyncCommitWorker(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		e := newEnvWith(t, func(cfg *tasker.Config) { cfg.Worker.AsyncCommit = true },
			template("", "diamond", "", stepDef{name: "a"}, stepDef{name: "b", deps: []string{"a"}},
				stepDef{name: "c", deps: []string{"a"}, limit: 2}, stepDef{name: "d", deps: []string{"b", "c"}}))
		e.h.fails["c"] = 1
		task := e.create("diamond", nil)
		require.Equal(t, taskertype.StateComplete, e.quiesce(task.ID).State)
		e.expect(task.ID, map[string]stepWant{"a": complete(1), "b": complete(1), "c": complete(2), "d": complete(1)})
		e.checkAudit(task.ID)
	})
}
