// Command tbench measures Tasker for Go on PostgreSQL against the targets of
// ARCHITECTURE.md §5, with DBOS Transact Go and River measured on the same
// server in the same run as peers.
//
// It creates a fresh database on the server named by -database (an
// administrative connection: a role that may create databases), migrates
// Tasker's and River's schemas into it, runs the selected measurements -reps
// times, prints one line per measurement and a summary table, and drops the
// database (unless -keep). The measurements:
//
//   - create: p50/p95/p99 of -n sequential creations of a 4-step diamond task
//     (A → B, C → D) through the Go API, with no worker running.
//   - river-create: the same for a River diamond by chaining (as
//     river-diamond): its counter row and job A inserted in one
//     transaction, no worker running. (DBOS has no creation apart from
//     starting a workflow.)
//   - diamond: p50/p95/p99 of -n diamond tasks end to end, one at a time, against
//     an in-process worker: from CreateTask until WaitTask returns it
//     complete. Also the join latency of D (D's start minus the later of B's
//     and C's ends), and the CPU time per diamond of this process and, when
//     the server runs on this machine and /proc shows its processes, of the
//     PostgreSQL server (cpu.go; the server's background processes, and any
//     other client's work, count too), and the write-ahead log the server
//     wrote per diamond (records and KB, from pg_stat_wal: the server's
//     whole log, so any other client's writes count too).
//   - dbos-diamond: the same diamond as one DBOS workflow of four durable
//     steps (B and C in parallel with dbos.Go), one at a time, against DBOS's
//     in-process executor, on the schema tbench_dbos; with the same CPU
//     and WAL figures as diamond.
//   - river-diamond: the same diamond built with River by chaining (River
//     has no DAG): each step a job whose worker completes it
//     (river.JobCompleteTx) and inserts the steps it readies in one
//     transaction, D inserted by whichever of B and C finishes last (a
//     counter row of the diamond), one at a time, from the creation's
//     transaction (the counter row and job A) until D's commits; an
//     in-process River client with -workers workers and the fetch timings
//     of the flags.
//   - chain: the dependent-step start latency: for -n tasks of a chain A → B,
//     the time from A's handler returning to B's handler starting.
//   - dbos-chain: the same for a DBOS workflow of two durable steps A → B:
//     B's start minus A's return (A's checkpoint between).
//   - river-chain: the same for River by chaining: A's worker inserts B and
//     completes A in one transaction; B's work start minus A's.
//   - burst: -burst diamonds submitted by -burst-goroutines goroutines to a
//     client with its in-process worker running; steps/s and per-diamond
//     latency (completion time minus submission).
//   - dbos-burst: the same with DBOS (RunWorkflow, in-process executor).
//   - river-burst: the same with River diamonds by chaining (as
//     river-diamond).
//   - throughput: sustained steps/s: a backlog of -tasks diamond tasks is
//     created, then k worker processes (k from -procs) are started (this
//     program re-executed with -worker tasker) and the time until every task
//     is complete is measured by polling the tasks table.
//   - river: the same with River: 4 × -tasks single no-op jobs inserted, then
//     k River worker processes (k from -river-procs) with the same worker
//     count; jobs/s, and Tasker's steps/s as a ratio of it.
//   - river-dag: the same with a backlog of -tasks River diamonds by
//     chaining (as river-diamond); steps/s, 4 a diamond.
//   - profile: diamonds one at a time, as diamond, with a pgx tracer on the
//     engine's pool: per diamond, the round trips (statements and pipelined
//     batches) by statement, their time, the commits, and the time with no
//     round trip in flight. -profile-pg-params sets server settings of those
//     sessions (log_min_duration_statement=0 puts each statement's server
//     time in the server's log).
//   - floor: the server's commit floor: a committed one-row insert (one round
//     trip) and BEGIN, insert, COMMIT (three), one at a time.
//
// See bench/README.md and docs/benchmarks.md.
//
// It is its own module (bench/go.mod), so that River and the peers it measures
// never reach the engine's users. Imports: the standard library, the root
// package, taskerpgx, pgx, River and DBOS.
package main
