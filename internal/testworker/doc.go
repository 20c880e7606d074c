// Command testworker is a worker process for the multi-process tests of the
// root package (multiprocess_test.go): it is not installed and not part of
// the public API.
//
// It connects to the PostgreSQL database named by TASKER_DATABASE_URL,
// registers the "mixed_dag" template and its handler "testworker_step"
// (internal/testworker/mixeddag, which the tests share), and
// runs an in-process worker (tasker.Client.Start) until SIGTERM or SIGINT,
// when it stops gracefully: running handlers get TESTWORKER_DRAIN to finish,
// then they are cancelled and their steps given back.
//
// Every run of the handler is recorded in the table testworker_runs, which
// the test creates (mixeddag.RunsTable):
//
//	CREATE TABLE testworker_runs (
//	    id         bigserial   PRIMARY KEY,
//	    step_id    bigint      NOT NULL,
//	    task_id    bigint      NOT NULL,
//	    step_name  text        NOT NULL,
//	    attempt    integer     NOT NULL,
//	    worker     text        NOT NULL,
//	    started_at timestamptz NOT NULL,
//	    ended_at   timestamptz,
//	    outcome    text        -- ok, fail, permanent, cancelled; NULL while running
//	);
//
// A row is inserted when a run starts and completed when it ends; a run
// whose process was killed keeps ended_at NULL. Times come from the
// database clock (clock_timestamp()).
//
// The handler's rules, which the test predicts:
//
//   - steps "branch_a" and "join" fail (retryable) on their first attempt;
//   - step "branch_c" fails permanently when the task context has
//     {"fail_c": true};
//   - otherwise a step succeeds, after sleeping TESTWORKER_SLEEP;
//   - a run whose context is cancelled before it ends (graceful stop) records
//     outcome "cancelled" and returns the context's error.
//
// Configuration (flags override the environment):
//
//	-id / TESTWORKER_ID                   worker id (lease owner), required
//	TASKER_DATABASE_URL                   database
//	TESTWORKER_SLEEP (100ms)              time each run takes
//	TESTWORKER_DRAIN (5s)                 drain timeout of the graceful stop
//	TESTWORKER_CONCURRENCY (8)            handlers at once
//	TESTWORKER_PASSES (1)                 worker passes at once (WorkerConfig.Passes)
//	TESTWORKER_LEASE (2s), TESTWORKER_RESCUE (500ms), TESTWORKER_POLL (200ms)
//
// It prints "READY <id>" on stdout once the worker runs and "STOPPED <id>"
// after a graceful stop, then exits 0.
//
// Imports: the standard library, the root package (a worker, as a user
// writes one), internal/testworker/mixeddag, taskerpgx and pgxpool.
package main
