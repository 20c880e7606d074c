package taskermetrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskertype"
)

// dbCollector reports the database counts of tasker.Client.Health as
// gauges. One count serves every scrape for CacheTTL, and scrapes that
// arrive during a count wait for it rather than start their own, so that
// any number of scrapers cost at most one count per CacheTTL, each bounded
// by ScrapeTimeout.
type dbCollector struct {
	c   *tasker.Client
	cfg Config

	mu      sync.Mutex
	at      time.Time
	last    *tasker.HealthStatus // nil when the last count failed
	counted bool

	tasks, steps, ready, inBackoff, blocked, backlog, dead, up *prometheus.Desc
}

func newDBCollector(c *tasker.Client, cfg Config) *dbCollector {
	return &dbCollector{c: c, cfg: cfg,
		tasks:     prometheus.NewDesc("tasker_tasks", "Tasks by state, counted in the database.", []string{"state"}, nil),
		steps:     prometheus.NewDesc("tasker_steps", "Workflow steps by state, counted in the database.", []string{"state"}, nil),
		ready:     prometheus.NewDesc("tasker_steps_ready", "Steps a worker may claim now (every queue): the backlog waiting for a worker.", nil, nil),
		inBackoff: prometheus.NewDesc("tasker_steps_in_backoff", "Failed steps waiting for their retry time.", nil, nil),
		blocked:   prometheus.NewDesc("tasker_steps_blocked", "Failed steps that will not be retried (attempts exhausted, not retryable or a permanent error).", nil, nil),
		backlog:   prometheus.NewDesc("tasker_outbox_backlog", "Event outbox messages still to deliver to durable subscriptions.", nil, nil),
		dead:      prometheus.NewDesc("tasker_outbox_dead_letters", "Event outbox messages that exhausted their delivery attempts.", nil, nil),
		up:        prometheus.NewDesc("tasker_database_up", "1 when the database counts of this scrape succeeded (within the scrape timeout), else 0.", nil, nil),
	}
}

func (d *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, desc := range []*prometheus.Desc{d.tasks, d.steps, d.ready, d.inBackoff, d.blocked, d.backlog, d.dead, d.up} {
		ch <- desc
	}
}

func (d *dbCollector) Collect(ch chan<- prometheus.Metric) {
	h := d.counts()
	if h == nil {
		ch <- prometheus.MustNewConstMetric(d.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(d.up, prometheus.GaugeValue, 1)
	for _, s := range taskertype.States {
		ch <- prometheus.MustNewConstMetric(d.tasks, prometheus.GaugeValue, float64(h.Tasks[s]), string(s))
		ch <- prometheus.MustNewConstMetric(d.steps, prometheus.GaugeValue, float64(h.Steps[s]), string(s))
	}
	ch <- prometheus.MustNewConstMetric(d.ready, prometheus.GaugeValue, float64(h.ReadySteps))
	ch <- prometheus.MustNewConstMetric(d.inBackoff, prometheus.GaugeValue, float64(h.Retries.InBackoff))
	ch <- prometheus.MustNewConstMetric(d.blocked, prometheus.GaugeValue, float64(h.Retries.ExhaustedRetries))
	ch <- prometheus.MustNewConstMetric(d.backlog, prometheus.GaugeValue, float64(h.Outbox.Backlog))
	ch <- prometheus.MustNewConstMetric(d.dead, prometheus.GaugeValue, float64(h.Outbox.DeadLetters))
}

// counts returns the cached counts, or counts again when they are older
// than CacheTTL; nil when the count failed.
func (d *dbCollector) counts() *tasker.HealthStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.cfg.Now()
	if d.counted && d.cfg.CacheTTL > 0 && now.Sub(d.at) < d.cfg.CacheTTL {
		return d.last
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.cfg.ScrapeTimeout)
	defer cancel()
	h, err := d.c.Health(ctx)
	if err != nil {
		h = nil
	}
	d.last, d.at, d.counted = h, now, true
	return h
}
