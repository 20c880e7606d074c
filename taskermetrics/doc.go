// Package taskermetrics exports Prometheus metrics of a Tasker client: the
// original engine's counters and histograms under the tasker_ prefix, gauges
// of tasks and steps by state computed from the database at scrape time,
// worker and HTTP metrics, and the Go runtime and process collectors, all
// in a registry of its own (never prometheus.DefaultRegisterer).
//
// Counters and histograms hang on the engine's synchronous hook
// (tasker.Hook), which sees every state change this process commits and
// never drops one, and on the step middleware (tasker.StepMiddleware) for
// the handlers running in this process. Their labels are the template's
// namespace, name and version (and the step's name): never a task or step
// id.
//
// Use:
//
//	m := taskermetrics.New(nil)
//	cfg := &tasker.Config{}
//	m.Instrument(cfg) // adds its hook and step middleware
//	c, err := tasker.NewClient(ctx, driver, cfg)
//	...
//	m.Attach(c) // database gauges, computed at scrape time
//	http.Handle("GET /metrics", m.Handler())
//
// taskerhttp serves Handler at GET /tasker/metrics when given the Metrics in
// its Options, and records its requests by route pattern. Every metric is
// documented in docs/observability.md.
package taskermetrics
