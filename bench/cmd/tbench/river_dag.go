package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// River has no DAG of its own: the diamond A → B, C → D is built by
// chaining, the way a River user would. Each step is a job; a step's worker
// completes its job (river.JobCompleteTx) and inserts the steps it readies
// in one transaction: A inserts B and C; B and C each decrement the
// diamond's count of unfinished parents of D, and the one that brings it to
// zero inserts D; D records when the diamond finished. A diamond's creation
// is its row and job A, in one transaction. So every state change is
// committed, as with Tasker and DBOS, though River keeps no audit trail of
// it.

// riverDiamondsTable holds one row a diamond: D's parents still running,
// and when D finished (in D's transaction).
const riverDiamondsTable = "tbench_river_diamonds"

const riverDiamondsDDL = `CREATE TABLE IF NOT EXISTS ` + riverDiamondsTable + ` (
	id bigint PRIMARY KEY, remaining int NOT NULL, done_at timestamptz)`

// diamondStepArgs is one step of one diamond.
type diamondStepArgs struct {
	Diamond int64  `json:"diamond"`
	Step    string `json:"step"`
}

// Kind implements river.JobArgs.
func (diamondStepArgs) Kind() string { return "tbench_diamond_step" }

// diamondStepWorker works a step and chains the next ones.
type diamondStepWorker struct {
	river.WorkerDefaults[diamondStepArgs]
	pool *pgxpool.Pool
	// done is called with a diamond's id once D's transaction committed.
	done func(id int64)
}

// Work implements river.Worker.
func (w *diamondStepWorker) Work(ctx context.Context, job *river.Job[diamondStepArgs]) error {
	id := job.Args.Diamond
	tx, err := w.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var next []river.InsertManyParams
	switch job.Args.Step {
	case "a":
		next = []river.InsertManyParams{{Args: diamondStepArgs{id, "b"}}, {Args: diamondStepArgs{id, "c"}}}
	case "b", "c":
		var remaining int
		if err := tx.QueryRow(ctx, `UPDATE `+riverDiamondsTable+` SET remaining = remaining - 1 WHERE id = $1 RETURNING remaining`,
			id).Scan(&remaining); err != nil {
			return err
		}
		if remaining == 0 {
			next = []river.InsertManyParams{{Args: diamondStepArgs{id, "d"}}}
		}
	case "d":
		if _, err := tx.Exec(ctx, `UPDATE `+riverDiamondsTable+` SET done_at = clock_timestamp() WHERE id = $1`, id); err != nil {
			return err
		}
	default:
		return fmt.Errorf("diamond %d: unknown step %q", id, job.Args.Step)
	}
	if len(next) > 0 {
		if _, err := river.ClientFromContext[pgx.Tx](ctx).InsertManyTx(ctx, tx, next); err != nil {
			return err
		}
	}
	if _, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	if job.Args.Step == "d" && w.done != nil {
		w.done(id)
	}
	return nil
}

// chainStepArgs is one step of a chain A → B.
type chainStepArgs struct {
	Chain int64  `json:"chain"`
	Step  string `json:"step"`
}

// Kind implements river.JobArgs.
func (chainStepArgs) Kind() string { return "tbench_chain_step" }

// chainStepWorker works the chain A → B: A's worker inserts B and completes
// A in one transaction; the stamps are when A's work began (its handler,
// a no-op, has returned: what follows is the chaining) and when B's began.
type chainStepWorker struct {
	river.WorkerDefaults[chainStepArgs]
	pool *pgxpool.Pool
	mu   sync.Mutex
	aEnd map[int64]time.Time
	// done is called with a chain's id and the A → B delay once B ran.
	done func(id int64, dep time.Duration)
}

// Work implements river.Worker.
func (w *chainStepWorker) Work(ctx context.Context, job *river.Job[chainStepArgs]) error {
	now := time.Now()
	id := job.Args.Chain
	if job.Args.Step == "b" {
		w.mu.Lock()
		dep := now.Sub(w.aEnd[id])
		delete(w.aEnd, id)
		w.mu.Unlock()
		if w.done != nil {
			w.done(id, dep)
		}
		return nil
	}
	w.mu.Lock()
	w.aEnd[id] = now
	w.mu.Unlock()
	return pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		if _, err := river.ClientFromContext[pgx.Tx](ctx).InsertTx(ctx, tx, chainStepArgs{id, "b"}, nil); err != nil {
			return err
		}
		_, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job)
		return err
	})
}

// withRiverDAG starts a River client in this process (one queue,
// MaxWorkers -workers, the fetch timings of the flags, a pool as the river
// mode's) that works diamond steps, runs f with it and a function that
// creates diamond id, and stops it. done is called as each diamond
// finishes.
func withRiverDAG(ctx context.Context, o *options, db *benchDB, done func(id int64),
	f func(create func(ctx context.Context, id int64) error) error,
) error {
	return withRiverChains(ctx, o, db, done, nil, func(create, _ func(context.Context, int64) error) error { return f(create) })
}

// withRiverChains is withRiverDAG that also works chains A → B: chainDone
// is called as each finishes, and f gets a function that creates chain id.
func withRiverChains(ctx context.Context, o *options, db *benchDB, done func(id int64), chainDone func(id int64, dep time.Duration),
	f func(create, createChain func(ctx context.Context, id int64) error) error,
) error {
	if _, err := db.pool.Exec(ctx, riverDiamondsDDL+`; TRUNCATE `+riverDiamondsTable); err != nil {
		return err
	}
	pool, err := riverPool(ctx, db.url)
	if err != nil {
		return err
	}
	defer pool.Close()
	client, err := newRiverWorkerClient(pool, o, workerLogger(), func(workers *river.Workers) {
		river.AddWorker(workers, &diamondStepWorker{pool: pool, done: done})
		river.AddWorker(workers, &chainStepWorker{pool: pool, aEnd: map[int64]time.Time{}, done: chainDone})
	})
	if err != nil {
		return err
	}
	if err := client.Start(ctx); err != nil {
		return err
	}
	create := func(ctx context.Context, id int64) error {
		return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO `+riverDiamondsTable+` (id, remaining) VALUES ($1, 2)`, id); err != nil {
				return err
			}
			_, err := client.InsertTx(ctx, tx, diamondStepArgs{id, "a"}, nil)
			return err
		})
	}
	createChain := func(ctx context.Context, id int64) error {
		_, err := client.Insert(ctx, chainStepArgs{id, "a"}, nil)
		return err
	}
	err = f(create, createChain)
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return errors.Join(err, client.Stop(stopCtx))
}

// measureRiverDiamond: River diamonds (by chaining) end to end, one at a
// time: from the creation's transaction until D's committed.
func measureRiverDiamond(ctx context.Context, o *options, db *benchDB, rep int, res *results) error {
	finished := make(chan int64, 1)
	// One diamond runs at a time and is awaited before the next is
	// created, so the slot is free when D finishes; were the loop gone (an
	// error), the send must not block the worker.
	done := func(id int64) {
		select {
		case finished <- id:
		default:
		}
	}
	return withRiverDAG(ctx, o, db, done, func(create func(context.Context, int64) error) error {
		e2e := make([]time.Duration, 0, o.n)
		for i := range o.warmup + o.n {
			id := int64(i + 1)
			start := time.Now()
			if err := create(ctx, id); err != nil {
				return err
			}
			if err := awaitDiamond(ctx, finished, id); err != nil {
				return err
			}
			if i >= o.warmup {
				e2e = append(e2e, time.Since(start))
			}
		}
		res.addLatency(rep, diamondRiver, e2e)
		return nil
	})
}

// measureRiverChain: River's dependent-step start latency: for chains A →
// B by chaining, run one at a time, B's work start minus A's.
func measureRiverChain(ctx context.Context, o *options, db *benchDB, rep int, res *results) error {
	type ran struct {
		id  int64
		dep time.Duration
	}
	finished := make(chan ran, 1)
	done := func(id int64, dep time.Duration) { // as measureRiverDiamond's
		select {
		case finished <- ran{id, dep}:
		default:
		}
	}
	return withRiverChains(ctx, o, db, nil, done,
		func(_, createChain func(context.Context, int64) error) error {
			dep := make([]time.Duration, 0, o.n)
			for i := range o.warmup + o.n {
				id := int64(i + 1)
				if err := createChain(ctx, id); err != nil {
					return err
				}
				select {
				case r := <-finished:
					if r.id != id {
						return fmt.Errorf("river chain %d finished while waiting for %d", r.id, id)
					}
					if i >= o.warmup {
						dep = append(dep, r.dep)
					}
				case <-time.After(time.Minute):
					return fmt.Errorf("river chain %d: not finished after a minute", id)
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			res.addLatency(rep, chainRiver, dep)
			return nil
		})
}

// measureRiverCreate: -n sequential creations of a River diamond (its
// counter row and job A in one transaction), no worker running, as
// Tasker's create mode.
func measureRiverCreate(ctx context.Context, o *options, db *benchDB, rep int, res *results) error {
	if _, err := db.pool.Exec(ctx, riverDiamondsDDL+`; TRUNCATE `+riverDiamondsTable); err != nil {
		return err
	}
	client, err := river.NewClient(riverpgxv5.New(db.pool), &river.Config{Logger: workerLogger()})
	if err != nil {
		return err
	}
	lat := make([]time.Duration, 0, o.n)
	for i := range o.warmup + o.n {
		start := time.Now()
		err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO `+riverDiamondsTable+` (id, remaining) VALUES ($1, 2)`, i+1); err != nil {
				return err
			}
			_, err := client.InsertTx(ctx, tx, diamondStepArgs{int64(i + 1), "a"}, nil)
			return err
		})
		if err != nil {
			return err
		}
		if i >= o.warmup {
			lat = append(lat, time.Since(start))
		}
	}
	res.addLatency(rep, createRiver, lat)
	return nil
}

// awaitDiamond waits for diamond id to finish (a minute at most).
func awaitDiamond(ctx context.Context, finished <-chan int64, id int64) error {
	timeout := time.NewTimer(time.Minute)
	defer timeout.Stop()
	select {
	case got := <-finished:
		if got != id {
			return fmt.Errorf("river diamond %d finished while waiting for %d", got, id)
		}
		return nil
	case <-timeout.C:
		return fmt.Errorf("river diamond %d: not finished after a minute", id)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// measureRiverBurst: the burst against the River client, each diamond
// created as above.
func measureRiverBurst(ctx context.Context, o *options, db *benchDB, rep int, res *results) error {
	return withRiverDAG(ctx, o, db, nil, func(create func(context.Context, int64) error) error {
		return measureBurst(ctx, o, db, rep, res, burstPeer{
			name: burstRiver,
			submit: func(ctx context.Context, i int) (string, error) {
				return strconv.Itoa(i + 1), create(ctx, int64(i+1))
			},
			finish:    riverDAGFinish,
			doneQuery: `SELECT id::text, done_at FROM ` + riverDiamondsTable + ` WHERE done_at IS NOT NULL`,
		})
	})
}

// measureRiverDAGThroughput: a backlog of -tasks River diamonds (by
// chaining: each diamond's row and job A, inserted with no worker running),
// drained by procs River worker processes; steps/s, 4 a diamond, as
// Tasker's throughput mode.
func measureRiverDAGThroughput(ctx context.Context, o *options, db *benchDB, procs, rep int, res *results) error {
	if _, err := db.pool.Exec(ctx, riverDiamondsDDL+`; TRUNCATE `+riverDiamondsTable); err != nil {
		return err
	}
	client, err := river.NewClient(riverpgxv5.New(db.pool), &river.Config{Logger: workerLogger()})
	if err != nil {
		return err
	}
	created := time.Now()
	for inserted := 0; inserted < o.tasks; {
		batch := min(1000, o.tasks-inserted)
		if _, err := db.pool.Exec(ctx, `INSERT INTO `+riverDiamondsTable+` (id, remaining) SELECT g, 2 FROM generate_series($1::bigint, $2::bigint) g`,
			inserted+1, inserted+batch); err != nil {
			return err
		}
		params := make([]river.InsertManyParams, batch)
		for i := range params {
			params[i] = river.InsertManyParams{Args: diamondStepArgs{int64(inserted + i + 1), "a"}}
		}
		if _, err := client.InsertManyFast(ctx, params); err != nil {
			return fmt.Errorf("insert jobs: %w", err)
		}
		inserted += batch
	}
	fmt.Printf("rep %d  (backlog: %d River diamonds created in %v)\n", rep, o.tasks, time.Since(created).Round(time.Millisecond))
	elapsed, err := drain(ctx, o, db, "river", procs, o.tasks, riverDAGFinish)
	if err != nil {
		return err
	}
	steps := float64(4 * o.tasks)
	fmt.Printf("rep %d  %-34s %d steps in %v: %.0f steps/s\n", rep, riverDAGMetric(procs), 4*o.tasks, elapsed.Round(time.Millisecond), steps/elapsed.Seconds())
	res.add(riverDAGMetric(procs), "steps/s", steps/elapsed.Seconds())
	return nil
}
