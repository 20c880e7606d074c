package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskerdriver/taskerpgx"
)

// The profile mode runs diamonds one at a time, as the diamond mode does,
// with a pgx tracer on the engine's pool that records every round trip
// (a statement, or a pipelined batch of them) with its start and end. Per
// diamond it reports where the end-to-end time went: waiting on round trips
// (split into commits and the rest), and the time with no round trip in
// flight (the engine's and the handlers' own work, and wake-ups). A round
// trip's time is the client's view: the server's work plus the loopback.

// trip is one round trip to the server.
type trip struct {
	start, end time.Time
	sql        string // the statement's first words; "batch(N)" for a batch of N
	commit     bool   // the trip commits (COMMIT, alone or ending a batch)
}

// tripTracer records the round trips of a pool while on.
type tripTracer struct {
	mu    sync.Mutex
	on    bool
	trips []trip
}

type tripStartKey struct{}

type batchState struct {
	start         time.Time
	n             int
	first         string // the first statement other than BEGIN
	begin, commit bool
}

func (t *tripTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	name := statementName(d.SQL)
	return context.WithValue(ctx, tripStartKey{}, trip{start: time.Now(), sql: name, commit: name == "COMMIT"})
}

func (t *tripTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryEndData) {
	if tr, ok := ctx.Value(tripStartKey{}).(trip); ok {
		tr.end = time.Now()
		t.add(tr)
	}
}

func (t *tripTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return context.WithValue(ctx, tripStartKey{}, &batchState{start: time.Now()})
}

func (t *tripTracer) TraceBatchQuery(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	if b, ok := ctx.Value(tripStartKey{}).(*batchState); ok {
		switch name := statementName(d.SQL); {
		case name == "BEGIN":
			b.begin = true
		case name == "COMMIT":
			b.commit = true
		case b.first == "":
			b.first = name
		}
		b.n++
	}
}

func (t *tripTracer) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchEndData) {
	if b, ok := ctx.Value(tripStartKey{}).(*batchState); ok {
		name := fmt.Sprintf("batch of %d (%s…)", b.n, b.first)
		if b.begin {
			name = "BEGIN + " + name
		}
		if b.commit {
			name += " + COMMIT"
		}
		t.add(trip{start: b.start, end: time.Now(), sql: name, commit: b.commit})
	}
}

func (t *tripTracer) add(tr trip) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.on {
		t.trips = append(t.trips, tr)
	}
}

// take returns the trips recorded since the last take and keeps recording
// when on.
func (t *tripTracer) take(on bool) []trip {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := t.trips
	t.trips, t.on = nil, on
	return out
}

// statementName is a short name of a statement: its first four words,
// in capitals for "COMMIT" and "BEGIN".
func statementName(s string) string {
	f := strings.Fields(s)
	name := strings.Join(f[:min(4, len(f))], " ")
	if strings.EqualFold(name, "commit") || strings.EqualFold(name, "begin") {
		return strings.ToUpper(name)
	}
	return name
}

// diamondProfile is where one diamond's time went.
type diamondProfile struct {
	e2e, inTrips, commits time.Duration
	trips, commitN        int
	timeline              []trip // the trips in order of start
}

// profileOf sums trips (which may overlap: the waiting caller and the
// worker use separate connections) over one diamond of e2e.
func profileOf(trips []trip, e2e time.Duration) diamondProfile {
	p := diamondProfile{e2e: e2e, trips: len(trips), timeline: trips}
	slices.SortFunc(trips, func(a, b trip) int { return a.start.Compare(b.start) })
	var busyEnd time.Time
	for _, tr := range trips {
		if tr.commit {
			p.commitN++
			p.commits += tr.end.Sub(tr.start)
		}
		start := tr.start
		if start.Before(busyEnd) {
			start = busyEnd
		}
		if tr.end.After(start) {
			p.inTrips += tr.end.Sub(start)
			busyEnd = tr.end
		}
	}
	return p
}

// measureProfile: diamonds one at a time with every round trip recorded.
func measureProfile(ctx context.Context, o *options, db *benchDB, rep int, res *results) error {
	tracer := &tripTracer{}
	cfg, err := pgxpool.ParseConfig(db.url)
	if err != nil {
		return err
	}
	cfg.MaxConns = 8
	cfg.ConnConfig.Tracer = tracer
	for kv := range strings.SplitSeq(o.pgParams, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			cfg.ConnConfig.RuntimeParams[k] = v
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	reg, err := newRegistry(nil)
	if err != nil {
		return err
	}
	drv := taskerpgx.New(pool)
	defer func() { _ = drv.Close() }() // its listener's connection, before the pool closes
	c, err := tasker.NewClient(ctx, drv, &tasker.Config{
		Registry: reg, Logger: slog.New(slog.DiscardHandler), SkipMigrate: true,
		Worker: tasker.WorkerConfig{Concurrency: o.workers, AsyncCommit: o.asyncCommit, Passes: o.passes},
	})
	if err != nil {
		return err
	}
	var profiles []diamondProfile
	bySQL := map[string][2]float64{} // count, total ms over the measured diamonds
	err = oneAtATime(ctx, o, c, tmplDiamond, func(measured bool) { tracer.take(measured) }, func(_ int64, e2e time.Duration) error {
		trips := tracer.take(false)
		profiles = append(profiles, profileOf(trips, e2e))
		for _, tr := range trips {
			v := bySQL[tr.sql]
			bySQL[tr.sql] = [2]float64{v[0] + 1, v[1] + ms(tr.end.Sub(tr.start))}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// The median diamond by end-to-end time, and the means over all.
	slices.SortFunc(profiles, func(a, b diamondProfile) int { return cmp.Compare(a.e2e, b.e2e) })
	med := profiles[len(profiles)/2]
	var mean diamondProfile
	for _, p := range profiles {
		mean.e2e += p.e2e
		mean.inTrips += p.inTrips
		mean.commits += p.commits
		mean.trips += p.trips
		mean.commitN += p.commitN
	}
	n := len(profiles)
	fmt.Printf("rep %d  profile of %d diamonds (median diamond: %.3f ms, %d round trips of which %d commits)\n", rep, n, ms(med.e2e), med.trips, med.commitN)
	fmt.Printf("rep %d    mean per diamond: %.3f ms = %.3f ms in round trips (%.3f ms in %.1f commits) + %.3f ms outside; %.1f round trips\n",
		rep, ms(mean.e2e)/float64(n), ms(mean.inTrips)/float64(n), ms(mean.commits)/float64(n), float64(mean.commitN)/float64(n),
		ms(mean.e2e-mean.inTrips)/float64(n), float64(mean.trips)/float64(n))
	names := make([]string, 0, len(bySQL))
	for k := range bySQL {
		names = append(names, k)
	}
	slices.SortFunc(names, func(a, b string) int { return cmp.Compare(bySQL[b][1], bySQL[a][1]) })
	for _, k := range names {
		v := bySQL[k]
		fmt.Printf("rep %d    %6.2f round trips/diamond  %6.3f ms/diamond  %6.3f ms each  %s\n", rep, v[0]/float64(n), v[1]/float64(n), v[1]/v[0], k)
	}
	// The median diamond's round trips in order, from its first: what runs
	// one after the other and what overlaps.
	fmt.Printf("rep %d    the median diamond's round trips (start–end ms from its first)\n", rep)
	for _, tr := range med.timeline {
		t0 := med.timeline[0].start
		fmt.Printf("rep %d      %7.3f–%7.3f  %s\n", rep, ms(tr.start.Sub(t0)), ms(tr.end.Sub(t0)), tr.sql)
	}
	res.add("Tasker profile: round trips per diamond", "", float64(mean.trips)/float64(n))
	res.add("Tasker profile: commits per diamond", "", float64(mean.commitN)/float64(n))
	res.add("Tasker profile: ms in round trips per diamond", "ms", ms(mean.inTrips)/float64(n))
	res.add("Tasker profile: ms in commits per diamond", "ms", ms(mean.commits)/float64(n))
	res.add("Tasker profile: ms outside round trips per diamond", "ms", ms(mean.e2e-mean.inTrips)/float64(n))
	return nil
}

// measureFloor: the commit floor of the server, a committed one-row insert
// (autocommit, one round trip) and the same in an explicit transaction
// (BEGIN, INSERT, COMMIT: three), one at a time on one connection.
func measureFloor(ctx context.Context, o *options, db *benchDB, rep int, res *results) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS tbench_floor (id bigserial PRIMARY KEY, v int NOT NULL)`); err != nil {
		return err
	}
	one := make([]time.Duration, 0, o.n)
	three := make([]time.Duration, 0, o.n)
	for i := range o.warmup + o.n {
		start := time.Now()
		if _, err := conn.Exec(ctx, `INSERT INTO tbench_floor (v) VALUES ($1)`, i); err != nil {
			return err
		}
		mid := time.Now()
		tx, err := conn.Begin(ctx)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO tbench_floor (v) VALUES ($1)`, i); err != nil {
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
		if i >= o.warmup {
			one = append(one, mid.Sub(start))
			three = append(three, time.Since(mid))
		}
	}
	res.addLatency(rep, "floor: committed 1-row insert", one)
	res.addLatency(rep, "floor: BEGIN, 1-row insert, COMMIT", three)
	return nil
}
