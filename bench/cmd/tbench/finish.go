package main

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// finishQueries tell a throughput or burst measurement when every item of
// its run (task, workflow, job or diamond) is finished.
//
// The measurement polls often (-poll, 10 ms), on the same server as the
// engine it measures and on a machine of two cores, so each poll must cost
// next to nothing: counting the items (a scan of the whole table) took a
// third of the server's CPU during a Tasker backlog run of 3,000 tasks
// (perf, by backend: docs/benchmarks.md, issue 14), more as the table and
// its dead rows grew, and the slower engine paid for more polls. So a poll
// only asks, through an index, whether an unfinished or a failed item is
// left (pending), and the items are counted once, when none is unfinished.
type finishQueries struct {
	// pending returns (some item is unfinished, some item failed).
	pending string
	// count returns (finished items, failed items).
	count string
}

// anyOf is a condition true when a row of table has col equal to one of
// values, each found by a backward scan of an index whose leading columns
// are ordered (col first), so that PostgreSQL's plan reads at most one
// index entry that matches (and the dead ones before it) whatever its
// statistics say: the last row in that order, LIMIT 1, in a scalar
// subquery (an EXISTS drops its ORDER BY and LIMIT, and was planned as a
// scan of the table). Backward, because the engines take the oldest items
// first: the dead entries their moves leave behind gather at the front,
// which a forward scan crossed at every poll (a tenth of the server's CPU
// in a Tasker backlog run).
func anyOf(table, col, ordered string, values ...string) string {
	ors := make([]string, len(values))
	for i, v := range values {
		ors[i] = fmt.Sprintf("(SELECT 1 FROM %s WHERE %s = '%s' ORDER BY %s LIMIT 1) IS NOT NULL", table, col, v, desc(ordered))
	}
	return "(" + strings.Join(ors, " OR ") + ")"
}

// desc turns the column list "a, b" into "a DESC, b DESC".
func desc(cols string) string {
	parts := strings.Split(cols, ", ")
	for i, p := range parts {
		parts[i] = p + " DESC"
	}
	return strings.Join(parts, ", ")
}

// taskerFinish: tasks, through tasker_tasks_state (state, task_id).
var taskerFinish = finishQueries{
	pending: `SELECT ` + anyOf("tasker_tasks", "state", "state, task_id", "pending", "in_progress") + `, ` +
		anyOf("tasker_tasks", "state", "state, task_id", "error", "cancelled"),
	count: `SELECT count(*) FILTER (WHERE state = 'complete'), count(*) FILTER (WHERE state IN ('error', 'cancelled')) FROM tasker_tasks`,
}

// riverFailed: River jobs that failed, through river_job_prioritized_fetching_index
// (state, queue, priority, scheduled_at, id).
var riverFailed = anyOf("river_job", "state", "state, queue, priority, scheduled_at, id", "discarded", "cancelled", "retryable")

// riverJobsFinish: River jobs.
var riverJobsFinish = finishQueries{
	pending: `SELECT ` + anyOf("river_job", "state", "state, queue, priority, scheduled_at, id",
		"available", "pending", "running", "scheduled") + `, ` + riverFailed,
	count: `SELECT count(*) FILTER (WHERE state = 'completed'), count(*) FILTER (WHERE state IN ('discarded', 'cancelled', 'retryable')) FROM river_job`,
}

// riverDAGFinish: River diamonds, by the benchmark's own table of them (one
// narrow row a diamond, read until its first unfinished row).
var riverDAGFinish = finishQueries{
	pending: `SELECT EXISTS (SELECT 1 FROM ` + riverDiamondsTable + ` WHERE done_at IS NULL), ` + riverFailed,
	count: `SELECT (SELECT count(*) FROM ` + riverDiamondsTable + ` WHERE done_at IS NOT NULL),
		(SELECT count(*) FROM river_job WHERE state IN ('discarded', 'cancelled', 'retryable'))`,
}

// dbosFinish: DBOS workflows in table (dbos.workflow_status), through
// DBOS's partial index of the workflows in flight (status ENQUEUED or
// PENDING). A failed workflow is final: the count finds it.
func dbosFinish(table string) finishQueries {
	return finishQueries{
		pending: `SELECT EXISTS (SELECT 1 FROM ` + table + ` WHERE status IN ('ENQUEUED', 'PENDING')), false`,
		count: `SELECT count(*) FILTER (WHERE status = 'SUCCESS'),
			count(*) FILTER (WHERE status IN ('ERROR', 'CANCELLED', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED')) FROM ` + table,
	}
}

// pollUntil polls q.pending every `every` until no item is unfinished, then
// checks with q.count that want items finished and none failed, and
// returns the time from start to the poll that saw none unfinished. Every
// item must exist before the first poll.
func pollUntil(ctx context.Context, db *benchDB, every time.Duration, want int, q finishQueries, start time.Time) (time.Duration, error) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	counted := func() (int, int, error) {
		var done, failed int
		err := db.pool.QueryRow(context.WithoutCancel(ctx), q.count).Scan(&done, &failed)
		return done, failed, err
	}
	for {
		var unfinished, failed bool
		if err := db.pool.QueryRow(ctx, q.pending).Scan(&unfinished, &failed); err != nil {
			return 0, err
		}
		if failed || !unfinished {
			elapsed := time.Since(start)
			done, nfailed, err := counted()
			switch {
			case err != nil:
				return 0, err
			case nfailed > 0:
				return 0, fmt.Errorf("%d items failed", nfailed)
			case done < want:
				return 0, fmt.Errorf("%d of %d items finished, and none is left unfinished", done, want)
			}
			return elapsed, nil
		}
		select {
		case <-ctx.Done():
			done, _, _ := counted()
			return 0, fmt.Errorf("%d of %d items finished: %w", done, want, ctx.Err())
		case <-tick.C:
		}
	}
}
