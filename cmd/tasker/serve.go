package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/tasker-go/tasker/internal/dburl"
	"github.com/tasker-go/tasker/taskerdashboard"
	"github.com/tasker-go/tasker/taskergraphql"
	"github.com/tasker-go/tasker/taskerhttp"
	"github.com/tasker-go/tasker/taskermetrics"
	"github.com/tasker-go/tasker/taskerwire"
)

// The HTTP server's timeouts. WriteTimeout bounds one response, so it must
// exceed the slowest request (a large task list on a busy database).
const (
	serveReadHeaderTimeout = 5 * time.Second
	serveReadTimeout       = 30 * time.Second
	serveWriteTimeout      = 60 * time.Second
	serveIdleTimeout       = 2 * time.Minute
	// minWorkerToken is the shortest accepted worker token.
	minWorkerToken = 16
)

func (a *app) serveCmd() *cobra.Command {
	var (
		addr             string
		maxBody          int64
		drain            time.Duration
		shutdownTimeout  time.Duration
		readinessTimeout time.Duration
		workerToken      string
		tlsCert, tlsKey  string
		auth             authFlags
		insecureNoAuth   bool
		allowedHosts     []string
		corsOrigins      []string
		requestTimeout   time.Duration
		gqlDepth         int
		gqlComplexity    int
		gqlNoIntrospect  bool
		traceURL         string
		noDashboard      bool
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the REST API under /tasker and run a worker until interrupted",
		Long: `Opens the database, loads the templates, starts a worker in this process and
serves the REST API (tasks, handlers, health, Prometheus metrics at
/tasker/metrics, and with --worker-token the remote worker routes) under
/tasker on --addr. One request log line per request goes to stderr (level info:
--log-level warn hides them; --log-format json writes JSON lines). On SIGINT or
SIGTERM it stops accepting requests, lets the running
ones finish for up to --shutdown-timeout, then lets running steps finish for
up to --drain-timeout before releasing them to other workers.

Traces: OTEL_TRACES_EXPORTER=otlp|console|none (default none) with the
standard OTEL_EXPORTER_OTLP_*, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
and OTEL_TRACES_SAMPLER variables (docs/observability.md).

Browsers: the Host header must be a loopback name, the address a request
came in on, or one of --allowed-hosts (else 421); a web page of another
origin cannot change anything (403) unless its origin is in --cors-origins;
every POST, PUT and PATCH needs Content-Type: application/json. Every
request ends within --request-timeout (503 unavailable with Retry-After
then, as when the database is down). A database that cannot be reached at
start is waited for, with backoff, instead of exiting.`,
		Example: `  tasker serve --templates examples --database sqlite://tasker.db
  tasker serve --addr 0.0.0.0:8080 --database postgres://tasker@db:5432/tasker
  tasker task list --server http://127.0.0.1:8080`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if maxBody <= 0 {
				return fmt.Errorf("--max-body %d must be positive", maxBody)
			}
			if workerToken != "" && len(workerToken) < minWorkerToken {
				return fmt.Errorf("--worker-token (or $TASKER_WORKER_TOKEN) has %d characters: use at least %d random ones, such as the output of `openssl rand -hex 16`",
					len(workerToken), minWorkerToken)
			}
			if (tlsCert == "") != (tlsKey == "") {
				return errors.New("--tls-cert and --tls-key go together: give both files (PEM), or neither to serve plain HTTP behind a TLS proxy")
			}
			if requestTimeout <= 0 {
				return fmt.Errorf("--request-timeout %s must be positive (such as 30s)", requestTimeout)
			}
			for _, o := range corsOrigins {
				if !taskerhttp.ValidOrigin(o) {
					return fmt.Errorf("--cors-origins (or $TASKER_CORS_ORIGINS): %q is not an origin: give scheme://host[:port], such as https://console.example.com, nothing after", o)
				}
			}
			var certs *certReloader
			if tlsCert != "" {
				var err error
				if certs, err = newCertReloader(tlsCert, tlsKey, func(err error) { a.logger().Warn("tasker serve: TLS certificate", "error", err) }); err != nil {
					return err
				}
			}
			jwt, err := auth.jwt(a.logger())
			if err != nil {
				return err
			}
			proxy, err := auth.proxy()
			if err != nil {
				return err
			}
			public, err := auth.publicOperations()
			if err != nil {
				return err
			}
			a.runsSteps = true
			a.metrics = taskermetrics.New(nil)
			stopTraces, err := a.startTraces(ctx, "serve")
			if err != nil {
				return err
			}
			defer stopTraces()
			c, closeFn, err := a.clientWaiting(ctx, "serve")
			if err != nil {
				return err
			}
			defer closeFn()
			if jwt != nil {
				if err := jwt.Refresh(ctx); err != nil {
					a.logger().Warn("tasker serve: the JWKS could not be fetched yet; JWTs are refused until it can", "error", err)
				}
			}
			if err := a.checkAuthOn(ctx, c, jwt != nil || proxy != nil, addr, insecureNoAuth); err != nil {
				return err
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("--addr %s: %w", addr, err)
			}
			// The worker must outlive the signal: Stop alone ends it, after
			// the drain (a cancelled context would end its loop at once and
			// leave the results of running steps unrecorded).
			if err := c.Start(context.WithoutCancel(ctx)); err != nil {
				_ = ln.Close()
				return err
			}
			// An answer may take the request timeout, and a remote claim
			// its wait on top.
			writeTimeout := max(serveWriteTimeout, requestTimeout+taskerwire.MaxWait+10*time.Second)
			stopping := make(chan struct{})
			srv := &http.Server{
				Handler: taskerhttp.NewHandler(c, &taskerhttp.Options{
					Logger: a.logger(), MaxBodyBytes: maxBody, ReadinessTimeout: readinessTimeout,
					WorkerToken: workerToken, Stopping: stopping,
					Authenticator: taskerhttp.NewAuthenticatorWith(c, taskerhttp.AuthenticatorOptions{JWT: jwt, Proxy: proxy}), PublicOperations: public,
					AllowedHosts: append(listenHost(addr), allowedHosts...),
					CORSOrigins:  corsOrigins, RequestTimeout: requestTimeout,
					Metrics:   a.metrics,
					GraphQL:   &taskergraphql.Config{MaxDepth: gqlDepth, MaxComplexity: gqlComplexity, DisableIntrospection: gqlNoIntrospect},
					Dashboard: &taskerdashboard.Config{TraceURL: traceURL}, DisableDashboard: noDashboard,
				}),
				ReadHeaderTimeout: serveReadHeaderTimeout,
				ReadTimeout:       serveReadTimeout,
				WriteTimeout:      writeTimeout,
				IdleTimeout:       serveIdleTimeout,
				MaxHeaderBytes:    1 << 20, // above Options.MaxHeaderBytes, so that the handler answers in JSON
				ErrorLog:          slog.NewLogLogger(a.logger().Handler(), slog.LevelWarn),
				// Requests keep running while the server shuts down.
				BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
			}
			// Remote workers' waiting claims end at once on shutdown.
			srv.RegisterOnShutdown(func() { close(stopping) })
			scheme := "http"
			if certs != nil {
				scheme = "https"
				srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.GetCertificate}
				ln = tls.NewListener(ln, srv.TLSConfig)
			}
			served := make(chan error, 1)
			go func() { served <- srv.Serve(ln) }()
			fmt.Fprintf(a.out, "tasker serve listening on %s://%s (database %s, %d templates)\n",
				scheme, ln.Addr(), redactURL(a.s.database), len(c.Registry().Templates("")))

			var serveErr error
			select {
			case <-ctx.Done():
			case serveErr = <-served:
				serveErr = fmt.Errorf("http server: %w", serveErr)
			}
			fmt.Fprintf(a.errOut, "tasker serve: shutting down: finishing requests for up to %s, then running steps for up to %s\n",
				shutdownTimeout, drain)
			shCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer cancel()
			if err := srv.Shutdown(shCtx); err != nil {
				_ = srv.Close()
				serveErr = errors.Join(serveErr, fmt.Errorf("http shutdown: %w", err))
			}
			stopCtx, cancelStop := context.WithTimeout(context.Background(), drain)
			defer cancelStop()
			if err := c.Stop(stopCtx); err != nil {
				serveErr = errors.Join(serveErr, fmt.Errorf("stopping the worker: %w", err))
			}
			if serveErr == nil {
				fmt.Fprintln(a.errOut, "tasker serve: stopped")
			}
			return serveErr
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on, HOST:PORT (port 0 picks a free port) [$TASKER_ADDR]")
	f.Int64Var(&maxBody, "max-body", 1<<20, "largest request body accepted, in bytes")
	f.DurationVar(&drain, "drain-timeout", 30*time.Second, "how long running steps may finish on shutdown before they are released")
	f.DurationVar(&shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long in-flight HTTP requests may finish on shutdown")
	f.DurationVar(&readinessTimeout, "readiness-timeout", 2*time.Second, "how long /tasker/health/ready waits for the database")
	f.StringVar(&workerToken, "worker-token", "", "shared token remote workers send as \"Authorization: Bearer <token>\" on /tasker/workers (at least 16 characters; prefer the environment variable); empty disables remote workers [$TASKER_WORKER_TOKEN]")
	auth.register(f)
	f.BoolVar(&insecureNoAuth, "insecure-no-auth", false, "listen on a non-loopback address although no credential is configured (no JWT, no API token): anyone who can reach it can do anything")
	f.StringSliceVar(&allowedHosts, "allowed-hosts", nil, "Host header values accepted besides loopback names (localhost, 127.0.0.1, ::1), the --addr host and the address a request came in on: names or addresses, name:port for one port only, *.example.com for its subdomains, * for any (behind a proxy that checks Host); comma-separated [$TASKER_ALLOWED_HOSTS]")
	f.StringSliceVar(&corsOrigins, "cors-origins", nil, "origins of browser front ends allowed to call the API (CORS), such as https://console.example.com; comma-separated; empty: none [$TASKER_CORS_ORIGINS]")
	f.DurationVar(&requestTimeout, "request-timeout", 30*time.Second, "longest a request may take; past it the answer is 503 unavailable with Retry-After (a remote claim may wait its wait_seconds on top) [$TASKER_REQUEST_TIMEOUT]")
	f.IntVar(&gqlDepth, "graphql-max-depth", taskergraphql.DefaultMaxDepth, "deepest nesting of selections a GraphQL document may have [$TASKER_GRAPHQL_MAX_DEPTH]")
	f.IntVar(&gqlComplexity, "graphql-max-complexity", taskergraphql.DefaultMaxComplexity, "highest complexity of a GraphQL document (each field 1, a list's fields times its limit) [$TASKER_GRAPHQL_MAX_COMPLEXITY]")
	f.BoolVar(&gqlNoIntrospect, "graphql-no-introspection", false, "refuse GraphQL introspection (__schema, __type) [$TASKER_GRAPHQL_NO_INTROSPECTION]")
	f.StringVar(&traceURL, "dashboard-trace-url", "", "link from a task's page to its trace: a URL with {trace_id}, e.g. https://jaeger.example.com/trace/{trace_id} [$TASKER_DASHBOARD_TRACE_URL]")
	f.BoolVar(&noDashboard, "no-dashboard", false, "serve the API only, without the web dashboard at / [$TASKER_NO_DASHBOARD]")
	f.StringVar(&tlsCert, "tls-cert", "", "serve HTTPS with this certificate (PEM, the chain after the leaf); reloaded when the file changes [$TASKER_TLS_CERT]")
	f.StringVar(&tlsKey, "tls-key", "", "the private key (PEM) of --tls-cert; reloaded when the file changes [$TASKER_TLS_KEY]")
	return cmd
}

// listenHost is the host of --addr as an allowed Host, unless it is a
// wildcard address (then the address a request came in on is allowed).
func listenHost(addr string) []string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return nil
	}
	return []string{host}
}

// redactURL hides a password in a database URL (dburl.Redact).
func redactURL(s string) string { return dburl.Redact(s) }
