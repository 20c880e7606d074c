package taskerpgx

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tasker-go/tasker/internal/driverkit"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// A pass that settles (StepFinishAndClaimParams.Settle) commits in its one
// round trip: after the results, the claim, the lock and the counts, the
// pipeline carries the steps-ready notification (settleNotifySQL), the
// move of the tasks whose steps are all done (settledDoneSQL, when the
// offer carries StepFinishAndClaimParams.Done), the check that no other
// task of the pass is to be decided (unsettledSQL) and COMMIT. (A creation
// that settles, TaskCreateParams.Settle, sends its notification,
// newTaskNotifySQL, and COMMIT after its insert and claim.)
// PostgreSQL runs a pipeline in order and stops it at the first error, so
// a failed check leaves COMMIT unrun: the transaction is rolled back and
// the pass is written again without the offer, its tasks decided by the
// caller (a second round trip, as every pass had before).
//
// Once sent, the pipeline runs to its COMMIT unless the server stops it:
// an error the client meets reading a result before COMMIT's (a row it
// cannot decode) leaves the outcome unknown to it, as a connection lost
// while COMMIT is answered does, and is reported as the call's error.

// unsettledGuard ends the message of the error that unsettledSQL raises
// through a failed cast (the error, class 22, is what stops the pipeline).
const unsettledGuard = "is to be decided: the pass does not settle"

// unsettledSQL fails when a task of $1 is not final and is in error, or
// has no step in progress and none ready to run at $2 (the tasks whose
// outcome statemachine.Decide may change, or that are owed an event of a
// running task): the condition of StepFinishAndClaimParams.Settle. A task
// settledDoneSQL completed is final. It reads the tasks by key and their
// steps through (task_id, name).
const unsettledSQL = `SELECT ('tasker: task ' || t.task_id || ' ` + unsettledGuard + `')::int FROM tasker_tasks t
	WHERE t.task_id = ANY($1) AND t.state NOT IN ('complete','cancelled','resolved_manually') AND (t.state = 'error' OR NOT EXISTS (
		SELECT 1 FROM tasker_workflow_steps s WHERE s.task_id = t.task_id AND (s.state = 'in_progress'
			OR s.state IN ('pending','error') AND s.pending_parents = 0 AND NOT s.blocked AND s.next_attempt_at <= $2)))`

// settledDoneSQL moves the tasks of $1 in state $2 whose steps are all
// done (complete or resolved manually) to $3 (final: $6) at $5, and writes
// their transitions (metadata: the reason $4 and the step counts, as the
// recorder's finalize writes them); it returns the moved tasks' ids and
// sends the task-changed notification ($7) when it moved one. The tasks
// are locked already (lockTasksSQL). Each is read by its key alone (LIMIT
// 1, its state tested outside: with the state in its condition, a generic
// plan made on stale statistics read every task in that state through the
// state index), its steps through (task_id, name), and its steps are
// counted only once they are all done (pass is materialized first). The
// test for a step not done is a subquery per task (OFFSET 0 keeps the
// planner from turning it into an anti-join): as a join, planned while the
// table was small (a session keeps its generic plan), it read every step
// of every task, with a hash.
const settledDoneSQL = `WITH pass AS MATERIALIZED (
		SELECT t.task_id FROM unnest($1::bigint[]) AS ids(id)
		CROSS JOIN LATERAL (SELECT task_id, state FROM tasker_tasks WHERE task_id = ids.id LIMIT 1) t
		WHERE t.state = $2 AND NOT EXISTS (SELECT 1 FROM tasker_workflow_steps s
			WHERE s.task_id = t.task_id AND s.state NOT IN ('complete','resolved_manually') OFFSET 0)),
	done AS (
		SELECT p.task_id, c.total, c.blocked FROM pass p
		CROSS JOIN LATERAL (SELECT count(*) AS total, count(*) FILTER (WHERE s.blocked) AS blocked
			FROM tasker_workflow_steps s WHERE s.task_id = p.task_id) c
		WHERE c.total > 0),
	m AS (
		UPDATE tasker_tasks t SET state = $3, transition_seq = t.transition_seq + 1,
			updated_at = $5, completed_at = CASE WHEN $6::boolean THEN $5::timestamptz END
		FROM done WHERE t.task_id = ANY($1) AND t.task_id = done.task_id
		RETURNING t.task_id, t.transition_seq, done.total, done.blocked),
	tr AS (
		INSERT INTO tasker_task_transitions (task_id, from_state, to_state, metadata, sort_key, created_at)
		SELECT task_id, $2, $3, jsonb_build_object('reason', $4::text, 'total_steps', total, 'done_steps', total,
			'blocked_steps', blocked), transition_seq * 10, $5 FROM m)
	SELECT task_id, pg_notify($7, '') FROM m ORDER BY task_id`

// settleNotifySQL sends the steps-ready notification ($1) when a child of
// the completed steps $2 is ready and unclaimed, as the driver owes it
// (executor.ready) when it writes the pass in two round trips; it returns
// a row when it sent it. Each child is read by its key alone (LIMIT 1,
// its state tested outside): with the state in its condition, a plan made
// on stale statistics walked every ready step instead, thousands of rows
// when the children were all claimed (TestPassPlansAreLinear). (A result
// whose lease was lost counts too: if another worker completed the step
// and its children wait unclaimed, they are announced once more.)
const settleNotifySQL = `SELECT pg_notify($1, '') FROM (
	SELECT 1 FROM tasker_workflow_step_edges e
	CROSS JOIN LATERAL (SELECT state, pending_parents, blocked FROM tasker_workflow_steps WHERE workflow_step_id = e.to_step_id LIMIT 1) s
	WHERE e.from_step_id = ANY($2) AND s.state = 'pending' AND s.pending_parents = 0 AND NOT s.blocked LIMIT 1) r`

// newTaskNotifySQL is settleNotifySQL for a creation that settles: a step
// of the task this session's insert numbered last is ready and unclaimed
// (its claim, newTaskClaimSQL, ran before it).
const newTaskNotifySQL = `SELECT pg_notify($1, '') FROM (
	SELECT 1 FROM tasker_workflow_steps WHERE task_id = (SELECT currval(pg_get_serial_sequence('tasker_tasks', 'task_id')))
		AND state = 'pending' AND pending_parents = 0 AND NOT blocked LIMIT 1) r`

// unsettled reports whether err is unsettledSQL's.
func unsettled(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && strings.Contains(pe.Message, unsettledGuard)
}

// settling is a pass's offer to settle, taken: what it sends and learns.
type settling struct {
	pt        *pipeTx
	own       *pgconn.PgConn
	notified  bool                         // the steps-ready notification was sent (committed when committed)
	decision  *taskerdriver.SettleDecision // the move settledDoneSQL was sent to apply (nil: none)
	moved     []int64                      // the tasks it moved (and so notified), in id order
	committed bool                         // COMMIT answered COMMIT
}

// fresh reports whether x's transaction pt may settle: a transaction of
// the driver's own that has sent, and owes, nothing yet.
func (x *executor) fresh(pt *pipeTx) bool {
	return !x.borrowed && len(x.topics) == 0 && !x.readied.Owed() && pt.fresh()
}

// canSettle reports whether x may take p's offer: a fresh transaction and
// results that are all completions.
func (x *executor) canSettle(pt *pipeTx, p *taskerdriver.StepFinishAndClaimParams) bool {
	if !p.Settle || len(p.Progress) == 0 || !x.fresh(pt) {
		return false
	}
	for _, f := range p.Finish {
		if f.State != taskertype.StateComplete {
			return false
		}
	}
	return true
}

// notifyIf queues sql, a steps-ready notification that returns a row when
// it was sent. This process's subscribers are woken by the driver, not by
// the echo of its own notification (listener.notifying).
func (s *settling) notifyIf(x *executor, sql string, args ...any) {
	s.own = s.pt.conn.Conn().PgConn()
	x.d.listener.notifying(s.own, []string{taskerdriver.TopicStepsReady})
	s.pt.Follow(func(rows pgx.Rows) error {
		s.notified = rows.Next()
		rows.Close()
		return rows.Err()
	}, sql, args...)
}

// check queues the pass's notification, the move of its tasks whose steps
// are all done (p.Done) and the check (ids: its tasks, sorted), to follow
// its counts.
func (s *settling) check(x *executor, p *taskerdriver.StepFinishAndClaimParams, ids []int64) {
	completed := make([]int64, len(p.Finish))
	for i, f := range p.Finish {
		completed[i] = f.StepID
	}
	s.notifyIf(x, settleNotifySQL, taskerdriver.TopicStepsReady, completed)
	now := p.Finish[0].Now.UTC()
	if d := p.Done; d != nil {
		s.decision = d
		x.d.listener.notifying(s.own, []string{taskerdriver.TopicTaskChanged})
		s.pt.Follow(func(rows pgx.Rows) error {
			var err error
			s.moved, err = scanAll(rows, func(r pgx.Row) (int64, error) {
				var id int64
				var note any
				return id, r.Scan(&id, &note)
			})
			return err
		}, settledDoneSQL, ids, string(d.From), string(d.To), d.Reason, settledAt(now), d.To.Final(), taskerdriver.TopicTaskChanged)
	}
	s.pt.Follow(discardRows, unsettledSQL, ids, now)
}

// settledAt is the time of a settled pass's task moves, as stored: pgx
// sends microseconds, truncated.
func settledAt(now time.Time) time.Time { return now.UTC().Truncate(time.Microsecond) }

// movedTasks returns the tasks s moved as they are after the move, from
// their locked rows.
func (s *settling) movedTasks(locked []*taskertype.Task, now time.Time) []*taskertype.Task {
	if len(s.moved) == 0 {
		return nil
	}
	out := make([]*taskertype.Task, 0, len(s.moved))
	for _, t := range locked {
		if slices.Contains(s.moved, t.ID) {
			out = append(out, driverkit.MovedTask(t, s.decision.To, settledAt(now)))
		}
	}
	return out
}

// commit queues COMMIT, to follow the rest.
func (s *settling) commit() {
	s.pt.commitFollows = &s.committed
	s.pt.Follow(func(rows pgx.Rows) error {
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if tag := rows.CommandTag().String(); tag != "COMMIT" {
			return errors.Join(pgx.ErrTxCommitRollback, errors.New("postgres: COMMIT answered "+tag))
		}
		s.committed = true
		return nil
	}, "COMMIT")
}

// done ends the offer once the pipeline is read: a committed transaction
// is over (its connection released, this process's subscribers woken); an
// uncommitted one is rolled back and begun again, so that the pass can be
// written without the offer.
func (s *settling) done(ctx context.Context, x *executor) error {
	if s.own != nil && (!s.committed || !s.notified) {
		x.d.listener.notCommitted(s.own, []string{taskerdriver.TopicStepsReady})
	}
	if s.decision != nil && (!s.committed || len(s.moved) == 0) {
		x.d.listener.notCommitted(s.own, []string{taskerdriver.TopicTaskChanged})
	}
	x.readied = nil // the notification was the pipeline's
	if s.committed {
		s.pt.settled()
		if s.notified {
			x.d.listener.notify(taskerdriver.TopicStepsReady)
		}
		if len(s.moved) > 0 {
			x.d.listener.notify(taskerdriver.TopicTaskChanged)
		}
		return nil
	}
	s.moved = nil
	return s.pt.restart(ctx)
}
