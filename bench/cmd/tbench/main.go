package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

const defaultDatabase = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// measurement measures one mode in repetition rep, adding to res.
type measurement func(ctx context.Context, o *options, db *benchDB, rep int, res *results) error

// measurements are the modes of -mode, in the order in which they run
// within a repetition.
var measurements = []struct {
	mode    string
	measure measurement
}{
	{"create", measureCreate},
	{"river-create", measureRiverCreate},
	{"diamond", measureDiamond},
	{"dbos-diamond", measureDBOSDiamond},
	{"river-diamond", measureRiverDiamond},
	{"chain", measureChain},
	{"dbos-chain", measureDBOSChain},
	{"river-chain", measureRiverChain},
	{"burst", measureTaskerBurst},
	{"dbos-burst", measureDBOSBurst},
	{"river-burst", measureRiverBurst},
	{"throughput", eachProcs(func(o *options) []int { return o.procs }, measureTaskerThroughput)},
	{"river", eachProcs(func(o *options) []int { return o.riverProcs }, measureRiverThroughput)},
	{"river-dag", eachProcs(func(o *options) []int { return o.riverProcs }, measureRiverDAGThroughput)},
	{"profile", measureProfile},
	{"floor", measureFloor},
}

// allModes are the names of the measurements, in their order.
var allModes = func() []string {
	names := make([]string, len(measurements))
	for i, m := range measurements {
		names[i] = m.mode
	}
	return names
}()

// options are the command-line flags.
type options struct {
	database    string
	modes       []string
	n           int
	warmup      int
	tasks       int
	workers     int
	burst       int
	burstGo     int
	procs       []int
	riverProcs  []int
	reps        int
	keep        bool
	pollEvery   time.Duration
	riverCool   time.Duration
	riverPoll   time.Duration
	worker      string
	workerDBURL string
	pgParams    string
	asyncCommit bool
	passes      int
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "tbench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if o.worker != "" {
		err = runWorker(ctx, o)
	} else {
		err = run(ctx, o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tbench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (*options, error) {
	fs := flag.NewFlagSet("tbench", flag.ContinueOnError)
	o := &options{}
	var modes, procs, riverProcs string
	fs.StringVar(&o.database, "database", defaultDatabase,
		"administrative postgres:// URL; a fresh database is created on that server and dropped at the end")
	fs.StringVar(&modes, "mode", "all", "comma-separated measurements: "+strings.Join(allModes, ", ")+", or all")
	fs.IntVar(&o.n, "n", 1000, "measured iterations of the latency modes (create, diamond, chain and their dbos- and river- peers)")
	fs.IntVar(&o.warmup, "warmup", 200, "unmeasured iterations before each latency mode")
	fs.IntVar(&o.tasks, "tasks", 2000, "backlog of the throughput modes: diamond tasks for Tasker (4 steps each), 4× as many jobs for River")
	fs.IntVar(&o.workers, "workers", 64, "worker concurrency of each worker process (Tasker Concurrency, River MaxWorkers) and of the in-process worker")
	fs.IntVar(&o.burst, "burst", 2000, "diamonds submitted at once by the burst modes (burst, dbos-burst, river-burst)")
	fs.IntVar(&o.burstGo, "burst-goroutines", 8, "goroutines submitting the diamonds of the burst modes")
	fs.StringVar(&procs, "procs", "1,2,4", "comma-separated numbers of Tasker worker processes for the throughput mode")
	fs.StringVar(&riverProcs, "river-procs", "1", "comma-separated numbers of River worker processes for the river and river-dag modes")
	fs.IntVar(&o.reps, "reps", 3, "repetitions of every selected measurement")
	fs.BoolVar(&o.keep, "keep", false, "keep the benchmark database instead of dropping it")
	fs.DurationVar(&o.pollEvery, "poll", 10*time.Millisecond, "how often the throughput modes count finished tasks or jobs")
	fs.DurationVar(&o.riverCool, "river-fetch-cooldown", time.Millisecond, "River QueueConfig.FetchCooldown (River's default: 100ms)")
	fs.DurationVar(&o.riverPoll, "river-fetch-poll", 50*time.Millisecond, "River QueueConfig.FetchPollInterval (River's default: 1s)")
	fs.IntVar(&o.passes, "passes", 1, "Tasker's worker passes run at once (WorkerConfig.Passes)")
	fs.BoolVar(&o.asyncCommit, "async-commit", false,
		"Tasker's workers commit their passes asynchronously (WorkerConfig.AsyncCommit: synchronous_commit off for them)")
	fs.StringVar(&o.pgParams, "profile-pg-params", "",
		"profile mode: server settings of the engine's sessions, as name=value,... (log_min_duration_statement=0 logs each statement's server time)")
	fs.StringVar(&o.worker, "worker", "", "internal: run as a worker subprocess (tasker or river) on the database -worker-db")
	fs.StringVar(&o.workerDBURL, "worker-db", "", "internal: database URL of a worker subprocess")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	var err error
	if o.procs, err = parseInts(procs); err != nil {
		return nil, fmt.Errorf("-procs: %w", err)
	}
	if o.riverProcs, err = parseInts(riverProcs); err != nil {
		return nil, fmt.Errorf("-river-procs: %w", err)
	}
	for m := range strings.SplitSeq(modes, ",") {
		m = strings.TrimSpace(m)
		switch {
		case m == "all":
			o.modes = allModes
		case slices.Contains(allModes, m):
			if !slices.Contains(o.modes, m) {
				o.modes = append(o.modes, m)
			}
		default:
			return nil, fmt.Errorf("-mode: unknown measurement %q (want %s or all)", m, strings.Join(allModes, ", "))
		}
	}
	if o.n < 1 || o.tasks < 1 || o.workers < 1 || o.reps < 1 || o.burst < 1 || o.burstGo < 1 || o.warmup < 0 {
		return nil, fmt.Errorf("-n, -tasks, -workers, -reps, -burst and -burst-goroutines must be positive, -warmup not negative")
	}
	return o, nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, v)
	}
	return out, nil
}

// run is the coordinator: it owns the benchmark database and runs the
// selected measurements.
func run(ctx context.Context, o *options) error {
	db, err := createDatabase(ctx, o.database)
	if err != nil {
		return err
	}
	defer func() {
		if o.keep {
			fmt.Printf("kept database %s\n", db.name)
			return
		}
		if err := db.drop(context.WithoutCancel(ctx)); err != nil {
			fmt.Fprintln(os.Stderr, "tbench: drop database:", err)
		}
	}()
	fmt.Printf("tbench: database %s, GOMAXPROCS=%d, %d CPUs, %s, workers=%d, n=%d, tasks=%d, reps=%d\n",
		db.name, runtime.GOMAXPROCS(0), runtime.NumCPU(), runtime.Version(), o.workers, o.n, o.tasks, o.reps)
	if v, err := db.serverInfo(ctx); err == nil {
		fmt.Println("tbench: server", v)
	}
	withRiver := slices.ContainsFunc(o.modes, func(m string) bool { return strings.HasPrefix(m, "river") })
	if err := db.migrate(ctx, withRiver); err != nil {
		return err
	}
	res := newResults()
	for rep := 1; rep <= o.reps; rep++ {
		fmt.Printf("rep %d  (load average before: %s)\n", rep, loadAverage())
		for _, m := range measurements {
			if !slices.Contains(o.modes, m.mode) {
				continue
			}
			if err := db.reset(ctx); err != nil {
				return err
			}
			if err := m.measure(ctx, o, db, rep, res); err != nil {
				return fmt.Errorf("rep %d, %s: %w", rep, m.mode, err)
			}
		}
	}
	fmt.Printf("tbench: load average at the end: %s\n", loadAverage())
	res.addRatios(o)
	res.print(os.Stdout)
	return nil
}

// loadAverage returns the 1, 5 and 15 minute load averages (Linux), to show
// whether other work shared the machine.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

// eachProcs is the measurement that runs measure once for each number of
// worker processes in procs(o), on a database reset before each.
func eachProcs(procs func(o *options) []int,
	measure func(ctx context.Context, o *options, db *benchDB, procs, rep int, res *results) error,
) measurement {
	return func(ctx context.Context, o *options, db *benchDB, rep int, res *results) error {
		for _, k := range procs(o) {
			if err := db.reset(ctx); err != nil {
				return err
			}
			if err := measure(ctx, o, db, k, rep, res); err != nil {
				return err
			}
		}
		return nil
	}
}

// runWorker is the body of a worker subprocess: build the worker, print
// "ready", start on the first line of stdin, stop when stdin closes.
func runWorker(ctx context.Context, o *options) error {
	logger := workerLogger()
	switch o.worker {
	case "tasker":
		return taskerWorkerProcess(ctx, o, logger)
	case "river":
		return riverWorkerProcess(ctx, o, logger)
	}
	return fmt.Errorf("-worker: unknown worker %q (want tasker or river)", o.worker)
}

// workerLogger logs warnings and errors of an engine to stderr.
func workerLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
