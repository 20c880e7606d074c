package taskermetrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tasker-go/tasker"
)

// DefaultBuckets are the default bounds, in seconds, of the duration
// histograms (tasks, steps, queue wait): the original engine's .005 … 10,
// extended to an hour because workflows and their steps often run for
// minutes.
var DefaultBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}

// DefaultHTTPBuckets are the default bounds, in seconds, of
// tasker_http_request_duration_seconds (prometheus.DefBuckets).
var DefaultHTTPBuckets = prometheus.DefBuckets

// Defaults of Config.
const (
	DefaultScrapeTimeout = 5 * time.Second
	DefaultCacheTTL      = 5 * time.Second
)

// Config configures Metrics; the zero value (or nil) means the defaults.
type Config struct {
	// DurationBuckets are the bounds, in seconds, of
	// tasker_task_duration_seconds and tasker_step_duration_seconds.
	// Default DefaultBuckets.
	DurationBuckets []float64
	// QueueBuckets are the bounds of tasker_step_queue_seconds. Default
	// DefaultBuckets.
	QueueBuckets []float64
	// HTTPBuckets are the bounds of tasker_http_request_duration_seconds.
	// Default DefaultHTTPBuckets.
	HTTPBuckets []float64
	// ScrapeTimeout bounds the database counts of one scrape; past it the
	// gauges are left out and tasker_database_up is 0. Default 5s.
	ScrapeTimeout time.Duration
	// CacheTTL is how long one database count serves scrapes: however many
	// scrapers there are, the database is counted at most once per
	// CacheTTL (a failure is remembered as long). Default 5s; negative
	// counts at every scrape.
	CacheTTL time.Duration
	// Now is the clock of the cache. Default time.Now.
	Now func() time.Time
	// NoRuntime leaves out the Go runtime and process collectors (tests
	// that compare the whole output).
	NoRuntime bool
}

// Metrics is a Prometheus registry of a Tasker client's metrics. It is a
// tasker.Hook and a tasker.StepMiddleware (see Instrument) and serves its
// registry (see Handler). It is safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry
	cfg Config

	taskStarted, taskCompleted, taskFailed, taskCancelled *prometheus.CounterVec
	stepStarted, stepCompleted, stepFailed, stepRetried   *prometheus.CounterVec
	leaseRescues                                          *prometheus.CounterVec
	taskDuration, stepDuration, stepQueue                 *prometheus.HistogramVec
	inFlight                                              prometheus.Gauge
	httpRequests                                          *prometheus.CounterVec
	httpDuration                                          *prometheus.HistogramVec
}

var (
	templateLabels = []string{"namespace", "name", "version"}
	stepLabels     = []string{"namespace", "name", "version", "step"}
)

// New returns Metrics with its own registry, holding every metric but the
// database gauges (see Attach).
func New(cfg *Config) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	if cfg != nil {
		m.cfg = *cfg
	}
	if len(m.cfg.DurationBuckets) == 0 {
		m.cfg.DurationBuckets = DefaultBuckets
	}
	if len(m.cfg.QueueBuckets) == 0 {
		m.cfg.QueueBuckets = DefaultBuckets
	}
	if len(m.cfg.HTTPBuckets) == 0 {
		m.cfg.HTTPBuckets = DefaultHTTPBuckets
	}
	if m.cfg.ScrapeTimeout <= 0 {
		m.cfg.ScrapeTimeout = DefaultScrapeTimeout
	}
	if m.cfg.CacheTTL == 0 {
		m.cfg.CacheTTL = DefaultCacheTTL
	}
	if m.cfg.Now == nil {
		m.cfg.Now = time.Now
	}
	counter := func(name, help string, labels []string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
		m.reg.MustRegister(v)
		return v
	}
	histogram := func(name, help string, buckets []float64, labels []string) *prometheus.HistogramVec {
		v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
		m.reg.MustRegister(v)
		return v
	}
	m.taskStarted = counter("tasker_task_started_total", "Tasks a worker started (pending to in_progress).", templateLabels)
	m.taskCompleted = counter("tasker_task_completed_total", "Tasks that completed.", templateLabels)
	m.taskFailed = counter("tasker_task_failed_total", "Tasks that failed: a step is blocked and nothing else can progress.", templateLabels)
	m.taskCancelled = counter("tasker_task_cancelled_total", "Tasks that were cancelled.", templateLabels)
	m.stepStarted = counter("tasker_step_started_total", "Step attempts started (claimed by a worker).", stepLabels)
	m.stepCompleted = counter("tasker_step_completed_total", "Step attempts that succeeded.", stepLabels)
	m.stepFailed = counter("tasker_step_failed_total", "Step attempts that failed, by kind (retryable, permanent, timeout, worker_lost, panic).", append(stepLabels[:len(stepLabels):len(stepLabels)], "kind"))
	m.stepRetried = counter("tasker_step_retried_total", "Steps scheduled for another attempt: a retry after a failure, or an operator's retry.", stepLabels)
	m.leaseRescues = counter("tasker_lease_rescues_total", "Attempts whose worker was lost (lease expired), failed as worker_lost by the maintenance leader.", stepLabels)
	m.taskDuration = histogram("tasker_task_duration_seconds", "Seconds from a task's creation to its final state (complete, error, cancelled or resolved_manually).", m.cfg.DurationBuckets, append(templateLabels[:3:3], "status"))
	m.stepDuration = histogram("tasker_step_duration_seconds", "Seconds a step attempt ran, by outcome (completed or failed).", m.cfg.DurationBuckets, append(stepLabels[:4:4], "outcome"))
	m.stepQueue = histogram("tasker_step_queue_seconds", "Seconds a step waited ready (after its creation, its last parent's completion or its retry time) before a worker claimed it.", m.cfg.QueueBuckets, stepLabels)
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{Name: "tasker_worker_steps_in_flight", Help: "Step handlers running in this process now."})
	m.reg.MustRegister(m.inFlight)
	m.httpRequests = counter("tasker_http_requests_total", "HTTP requests answered, by method, route pattern and status code.", []string{"method", "route", "code"})
	m.httpDuration = histogram("tasker_http_request_duration_seconds", "Seconds to answer an HTTP request, by method and route pattern.", m.cfg.HTTPBuckets, []string{"method", "route"})
	if !m.cfg.NoRuntime {
		m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return m
}

// Registry returns the registry, to add a program's own collectors or to
// gather in tests.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Instrument adds m to cfg's hooks (counters and histograms of every state
// change) and step middleware (handlers in flight). Call it before
// tasker.NewClient.
func (m *Metrics) Instrument(cfg *tasker.Config) {
	cfg.Hooks = append(cfg.Hooks, m)
	cfg.StepMiddleware = append(cfg.StepMiddleware, m)
}

// Attach registers the database gauges of c (tasks and steps by state,
// ready steps, outbox backlog and dead letters), computed at scrape time
// by c.Health, bounded by Config.ScrapeTimeout and cached for
// Config.CacheTTL. Attach one client per Metrics: a second is an error.
func (m *Metrics) Attach(c *tasker.Client) error {
	return m.reg.Register(newDBCollector(c, m.cfg))
}

// Handler serves the registry in the Prometheus text format, or in
// OpenMetrics when the scraper asks for it (Accept), never cached by the
// way (Cache-Control: no-cache, no-store, must-revalidate).
func (m *Metrics) Handler() http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{EnableOpenMetrics: true, ErrorHandling: promhttp.ContinueOnError})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
		h.ServeHTTP(w, r)
	})
}

// ObserveHTTP records one answered HTTP request: route is the matched
// route's pattern ("/tasker/tasks/{task_id}"), never the raw path, so that
// ids do not become labels.
func (m *Metrics) ObserveHTTP(method, route string, code int, elapsed time.Duration) {
	m.httpRequests.WithLabelValues(method, route, strconv.Itoa(code)).Inc()
	m.httpDuration.WithLabelValues(method, route).Observe(elapsed.Seconds())
}

// OnEvent implements tasker.Hook: it counts the state change ev reports.
func (m *Metrics) OnEvent(ev *tasker.Event) {
	t := ev.Task
	if t == nil {
		return
	}
	switch ev.Name {
	case tasker.EventTaskStartRequested:
		m.taskStarted.WithLabelValues(t.Namespace, t.Name, t.Version).Inc()
	case tasker.EventTaskCompleted:
		m.taskCompleted.WithLabelValues(t.Namespace, t.Name, t.Version).Inc()
		m.taskDone(ev, tasker.StateComplete)
	case tasker.EventTaskFailed:
		m.taskFailed.WithLabelValues(t.Namespace, t.Name, t.Version).Inc()
		m.taskDone(ev, tasker.StateError)
	case tasker.EventTaskCancelled:
		m.taskCancelled.WithLabelValues(t.Namespace, t.Name, t.Version).Inc()
		m.taskDone(ev, tasker.StateCancelled)
	case tasker.EventTaskResolvedManually:
		m.taskDone(ev, tasker.StateResolvedManually)
	}
	s := ev.Step
	if s == nil {
		return
	}
	switch ev.Name {
	case tasker.EventStepExecutionRequested:
		m.stepStarted.WithLabelValues(t.Namespace, t.Name, t.Version, s.Name).Inc()
		m.stepQueue.WithLabelValues(t.Namespace, t.Name, t.Version, s.Name).Observe(ev.Duration.Seconds())
	case tasker.EventStepCompleted:
		m.stepCompleted.WithLabelValues(t.Namespace, t.Name, t.Version, s.Name).Inc()
		m.stepDuration.WithLabelValues(t.Namespace, t.Name, t.Version, s.Name, "completed").Observe(ev.Duration.Seconds())
	case tasker.EventStepFailed:
		kind := "retryable"
		if ev.Error != nil && ev.Error.Kind != "" {
			kind = ev.Error.Kind
		}
		m.stepFailed.WithLabelValues(t.Namespace, t.Name, t.Version, s.Name, kind).Inc()
		m.stepDuration.WithLabelValues(t.Namespace, t.Name, t.Version, s.Name, "failed").Observe(ev.Duration.Seconds())
		if kind == "worker_lost" {
			m.leaseRescues.WithLabelValues(t.Namespace, t.Name, t.Version, s.Name).Inc()
		}
	case tasker.EventStepBackoff, tasker.EventStepRetryRequested:
		m.stepRetried.WithLabelValues(t.Namespace, t.Name, t.Version, s.Name).Inc()
	}
}

// taskDone observes the duration of a task that reached state.
func (m *Metrics) taskDone(ev *tasker.Event, state tasker.State) {
	t := ev.Task
	if t.CreatedAt.IsZero() {
		return
	}
	d := ev.At.Sub(t.CreatedAt)
	if d < 0 {
		d = 0
	}
	m.taskDuration.WithLabelValues(t.Namespace, t.Name, t.Version, string(state)).Observe(d.Seconds())
}

// HandleStep implements tasker.StepMiddleware: it counts the handlers in
// flight in this process.
func (m *Metrics) HandleStep(ctx context.Context, _ *tasker.StepContext, next func(context.Context) (any, error)) (any, error) {
	m.inFlight.Inc()
	defer m.inFlight.Dec()
	return next(ctx)
}

var (
	_ tasker.Hook           = (*Metrics)(nil)
	_ tasker.StepMiddleware = (*Metrics)(nil)
)
