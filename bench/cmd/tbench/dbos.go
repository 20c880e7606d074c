package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/dbos-inc/dbos-transact-golang/dbos"
	"github.com/jackc/pgx/v5"
)

// dbosSchema is the schema of DBOS's system database inside the benchmark
// database. It is dropped before and after every DBOS measurement (DBOS's
// own migrations create it at Launch), and with the database at the end.
const dbosSchema = "tbench_dbos"

// dbosNoop is DBOS's no-op step.
func dbosNoop(context.Context) (int, error) { return 0, nil }

// dbosDiamond is the 4-step diamond A → B, C → D as one DBOS workflow whose
// four steps are durable DBOS steps (each checkpointed in the system
// database): A and D with RunAsStep, B and C in parallel with dbos.Go (DBOS's
// own way to run steps concurrently in one workflow: each gets a
// deterministic step ID before its goroutine starts, so replay after a crash
// finds the checkpoint of each).
func dbosDiamond(ctx dbos.Context, _ int) (int, error) {
	if _, err := dbos.RunAsStep(ctx, dbosNoop, dbos.WithStepName("a")); err != nil {
		return 0, err
	}
	b, err := dbos.Go(ctx, dbosNoop, dbos.WithStepName("b"))
	if err != nil {
		return 0, err
	}
	c, err := dbos.Go(ctx, dbosNoop, dbos.WithStepName("c"))
	if err != nil {
		return 0, err
	}
	ob, oc := <-b, <-c
	if err := errors.Join(ob.Err, oc.Err); err != nil {
		return 0, err
	}
	return dbos.RunAsStep(ctx, dbosNoop, dbos.WithStepName("d"))
}

// dbosStamps are when step a of the chain being measured returned and when
// its step b started (chains run one at a time).
var dbosStamps struct {
	mu           sync.Mutex
	aEnd, bStart time.Time
}

func dbosStampA(context.Context) (int, error) {
	dbosStamps.mu.Lock()
	dbosStamps.aEnd = time.Now()
	dbosStamps.mu.Unlock()
	return 0, nil
}

func dbosStampB(context.Context) (int, error) {
	dbosStamps.mu.Lock()
	dbosStamps.bStart = time.Now()
	dbosStamps.mu.Unlock()
	return 0, nil
}

// dbosChain is the chain A → B as one DBOS workflow of two durable steps.
func dbosChain(ctx dbos.Context, _ int) (int, error) {
	if _, err := dbos.RunAsStep(ctx, dbosStampA, dbos.WithStepName("a")); err != nil {
		return 0, err
	}
	return dbos.RunAsStep(ctx, dbosStampB, dbos.WithStepName("b"))
}

// withDBOS launches a DBOS executor (in this process) on a fresh schema of
// the benchmark database, with dbosDiamond registered and DBOS's defaults
// otherwise (its own pool of 20 connections), runs f with it, then shuts it
// down and drops the schema.
func withDBOS(ctx context.Context, db *benchDB, f func(dctx dbos.Context) error) error {
	if err := dropDBOSSchema(ctx, db); err != nil {
		return err
	}
	dctx, err := dbos.NewContext(ctx, dbos.Config{
		AppName: "tbench", DatabaseURL: db.url, DatabaseSchema: dbosSchema, Logger: workerLogger(),
	})
	if err != nil {
		return fmt.Errorf("dbos: %w", err)
	}
	dbos.RegisterWorkflow(dctx, dbosDiamond, dbos.WithWorkflowName("diamond"))
	dbos.RegisterWorkflow(dctx, dbosChain, dbos.WithWorkflowName("chain"))
	if err := dbos.Launch(dctx); err != nil {
		return errors.Join(fmt.Errorf("dbos launch: %w", err), dbos.Shutdown(dctx, 10*time.Second))
	}
	err = f(dctx)
	return errors.Join(err, dbos.Shutdown(dctx, 10*time.Second), dropDBOSSchema(context.WithoutCancel(ctx), db))
}

func dropDBOSSchema(ctx context.Context, db *benchDB) error {
	_, err := db.pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{dbosSchema}.Sanitize()+" CASCADE")
	return err
}

// measureDBOSDiamond: DBOS diamonds end to end, one at a time: from
// RunWorkflow until the handle's GetResult returns.
func measureDBOSDiamond(ctx context.Context, o *options, db *benchDB, rep int, res *results) error {
	return withDBOS(ctx, db, func(dctx dbos.Context) error {
		e2e := make([]time.Duration, 0, o.n)
		var cpu *cpuMeter
		for i := range o.warmup + o.n {
			if i == o.warmup {
				cpu = startCPU(ctx, db)
			}
			start := time.Now()
			h, err := dbos.RunWorkflow(dctx, dbosDiamond, i)
			if err != nil {
				return err
			}
			if _, err := h.GetResult(); err != nil {
				return fmt.Errorf("workflow %s: %w", h.GetWorkflowID(), err)
			}
			if i >= o.warmup {
				e2e = append(e2e, time.Since(start))
			}
		}
		res.addLatency(rep, diamondDBOS, e2e)
		cpu.report(ctx, rep, res, "DBOS diamond", "diamond", o.n)
		return nil
	})
}

// measureDBOSChain: the dependent-step start latency of DBOS: for chains
// run one at a time, B's start minus A's return (A's checkpoint between).
func measureDBOSChain(ctx context.Context, o *options, db *benchDB, rep int, res *results) error {
	return withDBOS(ctx, db, func(dctx dbos.Context) error {
		dep := make([]time.Duration, 0, o.n)
		for i := range o.warmup + o.n {
			h, err := dbos.RunWorkflow(dctx, dbosChain, i)
			if err != nil {
				return err
			}
			if _, err := h.GetResult(); err != nil {
				return fmt.Errorf("workflow %s: %w", h.GetWorkflowID(), err)
			}
			if i >= o.warmup {
				dbosStamps.mu.Lock()
				dep = append(dep, dbosStamps.bStart.Sub(dbosStamps.aEnd))
				dbosStamps.mu.Unlock()
			}
		}
		res.addLatency(rep, chainDBOS, dep)
		return nil
	})
}

// measureDBOSBurst: the burst against DBOS's in-process executor, each
// diamond started with RunWorkflow (which records the workflow and runs it
// in a goroutine of this process).
func measureDBOSBurst(ctx context.Context, o *options, db *benchDB, rep int, res *results) error {
	table := pgx.Identifier{dbosSchema, "workflow_status"}.Sanitize()
	return withDBOS(ctx, db, func(dctx dbos.Context) error {
		return measureBurst(ctx, o, db, rep, res, burstPeer{
			name: burstDBOS,
			submit: func(_ context.Context, i int) (string, error) {
				id := fmt.Sprintf("burst-%d", i)
				_, err := dbos.RunWorkflow(dctx, dbosDiamond, i, dbos.WithWorkflowID(id))
				return id, err
			},
			finish:    dbosFinish(table),
			doneQuery: `SELECT workflow_uuid, to_timestamp(updated_at / 1000.0) FROM ` + table + ` WHERE status = 'SUCCESS'`,
		})
	})
}
