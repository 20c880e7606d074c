package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/dburl"
	"github.com/tasker-go/tasker/taskerlog"
	"github.com/tasker-go/tasker/taskermetrics"
	"github.com/tasker-go/tasker/taskerotel"
	"github.com/tasker-go/tasker/taskersub"
	_ "github.com/tasker-go/tasker/taskersub/taskernats" // the binary sends to NATS subscriptions
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRoot(os.Stdout, os.Stderr).ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(exitCode(err))
	}
}

// exitError carries a specific exit status.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

// settings are the resolved global options.
type settings struct {
	database    string
	templates   []string
	env         string
	configFile  string
	logLevel    string
	logFormat   string
	concurrency int
	passes      int
	lease       time.Duration
	poll        time.Duration
	stepTimeout time.Duration
	retention   time.Duration
	asyncCommit bool
	subsFile    string
	server      string // --server: the task and handlers commands use this REST API
	token       string // --token: the credential sent to --server
}

type app struct {
	out, errOut io.Writer
	s           settings
	flags       *pflag.FlagSet
	// cmd is the command running (set before its RunE).
	cmd *cobra.Command
	// runsSteps is set by the commands that run steps (serve, worker).
	runsSteps bool
	// metrics, when set (serve; worker with --metrics-addr), instruments
	// the client: a.client adds its hook and middleware and attaches it.
	metrics *taskermetrics.Metrics
	// log is the process's logger (--log-format, --log-level), built once
	// by resolve so that every record goes through one handler.
	log *slog.Logger
	// tracing is the OTEL_* configured tracing of serve and worker (nil:
	// none).
	tracing *taskerotel.Traces
}

func newRoot(out, errOut io.Writer) *cobra.Command {
	a := &app{out: out, errOut: errOut}
	root := &cobra.Command{
		Use:           "tasker",
		Short:         "Tasker for Go: resilient multi-step workflows",
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			a.flags = cmd.Flags()
			a.cmd = cmd
			if err := a.resolve(); err != nil {
				return err
			}
			if f := cmd.Flags().Lookup("output"); f != nil {
				if err := checkOutput(f.Value.String()); err != nil {
					return err
				}
			}
			return a.resolveLogger()
		},
	}
	root.SetOut(out)
	root.SetErr(errOut)
	pf := root.PersistentFlags()
	pf.StringVar(&a.s.database, "database", dburl.Default, "database URL: sqlite://FILE (relative), sqlite:///ABS/PATH or postgres://USER@HOST:PORT/DB [$TASKER_DATABASE_URL]")
	pf.StringSliceVar(&a.s.templates, "templates", nil, "directories (or files) of YAML task templates loaded at start: comma-separated or repeated [$TASKER_TEMPLATES]")
	pf.StringVar(&a.s.env, "env", "", "environment whose template overrides apply [$TASKER_ENV]")
	pf.StringVar(&a.s.configFile, "config", "", "YAML config file: every setting of the flags, such as database, templates, worker.concurrency, auth.* (README.md, Config file) [$TASKER_CONFIG]")
	pf.StringVar(&a.s.logLevel, "log-level", "info", "log level: debug, info, warn, error [$TASKER_LOG_LEVEL]")
	pf.StringVar(&a.s.logFormat, "log-format", "text", "log format on stderr: text (key=value) or json (one object a line, for production) [$TASKER_LOG_FORMAT]")
	pf.IntVar(&a.s.concurrency, "concurrency", 16, "maximum steps run at once by this process's worker")
	pf.DurationVar(&a.s.lease, "lease", 30*time.Second, "step lease; a step whose worker died is re-run after it expires")
	pf.DurationVar(&a.s.poll, "poll-interval", time.Second, "longest a worker sleeps without a wake-up")
	pf.DurationVar(&a.s.stepTimeout, "step-timeout", 5*time.Minute, "default timeout of one step attempt")
	pf.DurationVar(&a.s.retention, "retention", 0, "delete tasks finished (complete, cancelled, resolved) longer ago than this; 0 keeps them")
	pf.IntVar(&a.s.passes, "passes", 1, "worker passes run at once (record results, claim steps); 2 keeps the database busier for a single worker process (docs/design.md, The worker loop)")
	pf.BoolVar(&a.s.asyncCommit, "async-commit", false, "PostgreSQL: the worker's passes commit without waiting for the disk; a crash of the database server can lose the last ones and run their steps again (docs/design.md)")
	pf.StringVar(&a.s.subsFile, "subscriptions", "", "YAML file of event subscriptions (log, webhook, nats; a list or a map keyed by name: docs/events.md) [$TASKER_SUBSCRIPTIONS]")
	root.AddCommand(a.taskCmd(), a.stepCmd(), a.workerCmd(), a.migrateCmd(), a.templateCmd(), a.serveCmd(), a.handlersCmd(), a.eventsCmd(), a.tokenCmd(), a.workersCmd(), a.analyticsCmd(), a.initCmd(), a.generateCmd(), a.scheduleCmd())
	root.SetVersionTemplate("tasker {{.Version}}\n")
	// The commands that read or change what is in a database refuse one
	// that does not exist instead of creating it (a mistyped --database, a
	// wrong working directory); migrate, worker, serve, task create,
	// template push and token create make it.
	for _, path := range existingDatabaseCommands {
		if c, _, err := root.Find(strings.Fields(path)); err == nil && c.Name() == path[strings.LastIndex(path, " ")+1:] {
			needExistingDatabase(c)
		}
	}
	rejectUnknownSubcommands(root)
	return root
}

// existingDatabaseCommands are the commands that need a database that
// exists (see needExistingDatabase).
var existingDatabaseCommands = []string{
	"task get", "task list", "task cancel", "task retry", "workers",
	"events dead-letters", "events replay", "analytics performance", "analytics bottlenecks",
	"token list", "token revoke", "task transitions",
	"step get", "step resolve", "step cancel", "step retry-limit",
}

// resolve applies environment variables and the config file to every flag
// the user did not set.
func (a *app) resolve() error {
	setFromEnv := func(name, env string) {
		if a.flags.Changed(name) {
			return
		}
		if v, ok := os.LookupEnv(env); ok && v != "" {
			_ = a.flags.Set(name, v)
		}
	}
	setFromEnv("config", "TASKER_CONFIG")
	setFromEnv("database", "TASKER_DATABASE_URL")
	setFromEnv("templates", "TASKER_TEMPLATES")
	setFromEnv("env", "TASKER_ENV")
	setFromEnv("log-level", "TASKER_LOG_LEVEL")
	setFromEnv("log-format", "TASKER_LOG_FORMAT")
	setFromEnv("subscriptions", "TASKER_SUBSCRIPTIONS")
	setFromEnv("server", "TASKER_SERVER") // only the task, token and handlers commands have --server
	setFromEnv("addr", "TASKER_ADDR")     // only serve has --addr
	setFromEnv("worker-token", "TASKER_WORKER_TOKEN")
	setFromEnv("auth-jwt-secret", "TASKER_AUTH_JWT_SECRET") // only serve has the --auth-* and --tls-* flags
	setFromEnv("auth-jwks-url", "TASKER_AUTH_JWKS_URL")
	setFromEnv("auth-issuer", "TASKER_AUTH_ISSUER")
	setFromEnv("auth-audience", "TASKER_AUTH_AUDIENCE")
	setFromEnv("auth-public", "TASKER_AUTH_PUBLIC")
	setFromEnv("auth-proxy-header", "TASKER_AUTH_PROXY_HEADER")
	setFromEnv("auth-proxy-groups-header", "TASKER_AUTH_PROXY_GROUPS_HEADER")
	setFromEnv("auth-proxy-trusted", "TASKER_AUTH_PROXY_TRUSTED")
	setFromEnv("auth-proxy-permissions", "TASKER_AUTH_PROXY_PERMISSIONS")
	setFromEnv("tls-cert", "TASKER_TLS_CERT")
	setFromEnv("tls-key", "TASKER_TLS_KEY")
	setFromEnv("token", "TASKER_TOKEN") // the credential of --server mode
	if err := a.rolesFromEnv(); err != nil {
		return err
	}
	// Only serve has --allowed-hosts, --cors-origins and --request-timeout.
	setFromEnv("allowed-hosts", "TASKER_ALLOWED_HOSTS")
	setFromEnv("cors-origins", "TASKER_CORS_ORIGINS")
	setFromEnv("request-timeout", "TASKER_REQUEST_TIMEOUT")
	setFromEnv("metrics-addr", "TASKER_METRICS_ADDR") // only worker has --metrics-addr
	// Only serve has the --graphql-* and dashboard flags.
	setFromEnv("graphql-max-depth", "TASKER_GRAPHQL_MAX_DEPTH")
	setFromEnv("graphql-max-complexity", "TASKER_GRAPHQL_MAX_COMPLEXITY")
	setFromEnv("graphql-no-introspection", "TASKER_GRAPHQL_NO_INTROSPECTION")
	setFromEnv("dashboard-trace-url", "TASKER_DASHBOARD_TRACE_URL")
	setFromEnv("no-dashboard", "TASKER_NO_DASHBOARD")
	if a.s.configFile == "" {
		return nil
	}
	return a.applyConfigFile()
}

// rolesFromEnv applies $TASKER_AUTH_ROLES (NAME=PERM[,PERM...] values
// separated by ';') to serve's --auth-role when the flag is not given.
func (a *app) rolesFromEnv() error {
	v, ok := os.LookupEnv("TASKER_AUTH_ROLES")
	if !ok || strings.TrimSpace(v) == "" || a.flags.Lookup("auth-role") == nil || a.flags.Changed("auth-role") {
		return nil
	}
	for part := range strings.SplitSeq(v, ";") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		if err := a.flags.Set("auth-role", part); err != nil {
			return fmt.Errorf("$TASKER_AUTH_ROLES: %w", err)
		}
	}
	return nil
}

// resolveLogger checks --log-level and --log-format (after the environment
// and the config file applied) and builds the process's logger.
func (a *app) resolveLogger() error {
	level, err := taskerlog.ParseLevel(a.s.logLevel)
	if err != nil {
		return fmt.Errorf("--log-level [$TASKER_LOG_LEVEL, config log_level]: %w", err)
	}
	format, err := taskerlog.ParseFormat(a.s.logFormat)
	if err != nil {
		return fmt.Errorf("--log-format [$TASKER_LOG_FORMAT, config log_format]: %w", err)
	}
	a.log = taskerlog.New(a.errOut, format, level)
	return nil
}

// logger is the process's logger: records carry trace_id and span_id when
// a span is active, task_id, step and attempt inside a step's run, and
// request_id in a REST request (package taskerlog).
func (a *app) logger() *slog.Logger {
	if a.log == nil { // before resolve (not reached by the commands)
		a.log = taskerlog.New(a.errOut, taskerlog.FormatText, slog.LevelInfo)
	}
	return a.log
}

// loadOptions are the options of loading --templates. A handler_config
// ${VAR} that this process does not have is a warning where steps run
// (serve, worker: the step will fail until it is set) and a debug message
// elsewhere (task commands, which run no step).
func (a *app) loadOptions() tasker.LoadOptions {
	level := slog.LevelDebug
	if a.runsSteps {
		level = slog.LevelWarn
	}
	return tasker.LoadOptions{Env: a.s.env, Warn: func(e *tasker.TemplateError) {
		a.logger().Log(context.Background(), level, "template: "+e.Error())
	}}
}

// client opens the database, loads the templates and returns a client.
// withClient runs fn with a client on the database and closes the client
// after.
func (a *app) withClient(ctx context.Context, fn func(*tasker.Client) error) error {
	c, closeFn, err := a.client(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	return fn(c)
}

// Waiting for the database at start (worker, serve): the first retry
// after startWaitFirst, each next one after twice as long, up to
// startWaitMax; an attempt that gets no answer within startAttemptTimeout
// (a frozen server, a black hole) counts as unavailable.
var (
	startWaitFirst      = time.Second
	startWaitMax        = 30 * time.Second
	startAttemptTimeout = 15 * time.Second
)

// clientWaiting is client for the long-running commands (worker, serve): a
// database that cannot be reached yet (tasker.ErrUnavailable: refused,
// down, starting, not answering) is waited for, retrying with backoff and
// logging why each time, until it answers or ctx ends (SIGINT, SIGTERM).
// Any other error (a bad URL, a broken template) ends the command at once.
func (a *app) clientWaiting(ctx context.Context, command string) (*tasker.Client, func(), error) {
	delay := startWaitFirst
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, startAttemptTimeout)
		c, closeFn, err := a.client(actx)
		if err != nil && actx.Err() != nil && ctx.Err() == nil {
			err = fmt.Errorf("%w: no answer within %s: %w", tasker.ErrUnavailable, startAttemptTimeout, err)
		}
		cancel()
		if err == nil || !errors.Is(err, tasker.ErrUnavailable) || ctx.Err() != nil {
			return c, closeFn, err
		}
		a.logger().Warn("tasker "+command+": the database is unavailable; waiting for it",
			"database", redactURL(a.s.database), "attempt", attempt, "retry_in", delay, "error", err)
		select {
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("stopped while waiting for the database %s: %w", redactURL(a.s.database), err)
		case <-time.After(delay):
		}
		delay = min(2*delay, startWaitMax)
	}
}

func (a *app) client(ctx context.Context) (*tasker.Client, func(), error) {
	if err := a.checkDatabaseFile(); err != nil {
		return nil, nil, err
	}
	// The templates first: a broken one leaves no new database behind.
	reg := tasker.NewRegistry()
	if err := a.loadTemplates(reg); err != nil {
		return nil, nil, err
	}
	drv, err := dburl.Open(ctx, a.s.database)
	if err != nil {
		return nil, nil, err
	}
	if err := a.checkDatabaseTables(ctx, drv); err != nil {
		_ = drv.Close()
		return nil, nil, err
	}
	var subs []taskersub.Subscription
	if a.s.subsFile != "" {
		if subs, err = taskersub.Load(a.s.subsFile); err != nil {
			_ = drv.Close()
			return nil, nil, err
		}
	}
	cfg := &tasker.Config{
		Registry: reg, Logger: a.logger(),
		Worker: tasker.WorkerConfig{Concurrency: a.s.concurrency, LeaseDuration: a.s.lease, PollInterval: a.s.poll,
			StepTimeout: a.s.stepTimeout, Retention: a.s.retention, AsyncCommit: a.s.asyncCommit, Passes: a.s.passes},
		Subscriptions: subs, TracerProvider: a.tracing.TracerProvider(),
	}
	if a.metrics != nil {
		a.metrics.Instrument(cfg)
	}
	c, err := tasker.NewClient(ctx, drv, cfg)
	if err != nil {
		_ = drv.Close()
		return nil, nil, err
	}
	if a.metrics != nil {
		if err := a.metrics.Attach(c); err != nil {
			_ = drv.Close()
			return nil, nil, err
		}
	}
	return c, func() { _ = drv.Close() }, nil
}

func (a *app) migrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply the database migrations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			drv, err := dburl.Open(cmd.Context(), a.s.database)
			if err != nil {
				return err
			}
			defer func() { _ = drv.Close() }()
			if err := drv.Migrate(cmd.Context()); err != nil {
				return err
			}
			v, err := drv.MigrationVersion(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "database %s is at migration version %d\n", dburl.Redact(a.s.database), v)
			return nil
		},
	}
}

func (a *app) workerCmd() *cobra.Command {
	var (
		drain       time.Duration
		metricsAddr string
	)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run a worker that claims and runs steps until interrupted",
		Long: `Opens the database, loads the templates and runs steps until SIGINT or
SIGTERM. A database that cannot be reached yet is waited for: the worker
logs why and retries (after 1s, 2s, 4s ... up to 30s) instead of exiting.

With --metrics-addr the worker serves its Prometheus metrics at
GET /tasker/metrics on that address (docs/observability.md). That listener
has no authentication: bind it to a private address (loopback, or the
network only the Prometheus server reaches).

Traces: OTEL_TRACES_EXPORTER=otlp|console|none (default none) with the
standard OTEL_EXPORTER_OTLP_*, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
and OTEL_TRACES_SAMPLER variables (docs/observability.md).`,
		Example: `  tasker worker --templates examples --database postgres://tasker@db:5432/tasker
  tasker worker --metrics-addr 10.0.0.5:9090`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			a.runsSteps = true
			stopTraces, err := a.startTraces(ctx, "worker")
			if err != nil {
				return err
			}
			defer stopTraces()
			var ln net.Listener
			if metricsAddr != "" {
				if ln, err = net.Listen("tcp", metricsAddr); err != nil {
					return fmt.Errorf("--metrics-addr %s (or $TASKER_METRICS_ADDR): %w", metricsAddr, err)
				}
				defer func() { _ = ln.Close() }()
				a.metrics = taskermetrics.New(nil)
			}
			c, closeFn, err := a.clientWaiting(ctx, "worker")
			if err != nil {
				return err
			}
			defer closeFn()
			if err := c.Start(ctx); err != nil {
				return err
			}
			if ln != nil {
				stop := serveMetrics(ln, a.metrics, a.logger())
				defer stop()
				fmt.Fprintf(a.out, "tasker worker metrics on http://%s/tasker/metrics (unauthenticated)\n", ln.Addr())
			}
			fmt.Fprintf(a.out, "tasker worker running on %s (%d templates, concurrency %d); Ctrl-C to stop\n",
				dburl.Redact(a.s.database), len(c.Registry().Templates("")), a.s.concurrency)
			<-ctx.Done()
			fmt.Fprintf(a.out, "stopping: finishing running steps for up to %s\n", drain)
			stopCtx, cancel := context.WithTimeout(context.Background(), drain)
			defer cancel()
			return c.Stop(stopCtx)
		},
	}
	cmd.Flags().DurationVar(&drain, "drain-timeout", 30*time.Second, "how long running steps may finish on shutdown before they are released")
	cmd.Flags().StringVar(&metricsAddr, "metrics-addr", "", "serve the Prometheus metrics at GET /tasker/metrics on HOST:PORT, without authentication: bind a private address; empty (the default): off [$TASKER_METRICS_ADDR]")
	return cmd
}

// serveMetrics serves m at GET /tasker/metrics on ln (the worker's
// --metrics-addr) until the returned function stops it.
func serveMetrics(ln net.Listener, m *taskermetrics.Metrics, logger *slog.Logger) func() {
	mux := http.NewServeMux()
	mux.Handle("GET /tasker/metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: serveReadHeaderTimeout, ReadTimeout: serveReadTimeout,
		WriteTimeout: serveWriteTimeout, IdleTimeout: serveIdleTimeout, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	go func() { _ = srv.Serve(ln) }()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
}
