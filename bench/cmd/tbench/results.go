package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// percentiles returns the p50, p95 and p99 of ds (nearest rank; ds is
// sorted in place).
func percentiles(ds []time.Duration) (p50, p95, p99 time.Duration) {
	slices.Sort(ds)
	at := func(p float64) time.Duration { return ds[min(len(ds)-1, int(float64(len(ds))*p))] }
	return at(0.50), at(0.95), at(0.99)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// results collects one value per repetition of every metric, in the order
// the metrics were first reported.
type results struct {
	order  []string
	units  map[string]string
	values map[string][]float64
}

func newResults() *results {
	return &results{units: map[string]string{}, values: map[string][]float64{}}
}

func (r *results) add(metric, unit string, v float64) {
	if _, ok := r.values[metric]; !ok {
		r.order = append(r.order, metric)
		r.units[metric] = unit
	}
	r.values[metric] = append(r.values[metric], v)
}

// addLatency reports the p50, p95 and p99 of ds under name, and prints them.
func (r *results) addLatency(rep int, name string, ds []time.Duration) {
	p50, p95, p99 := percentiles(ds)
	fmt.Printf("rep %d  %-34s n=%-5d p50 %7.3f ms  p95 %7.3f ms  p99 %7.3f ms  max %7.3f ms\n",
		rep, name, len(ds), ms(p50), ms(p95), ms(p99), ms(ds[len(ds)-1]))
	r.add(name+" p50", "ms", ms(p50))
	r.add(name+" p95", "ms", ms(p95))
	r.add(name+" p99", "ms", ms(p99))
}

// addRatios adds, per repetition, Tasker's number over its peer's for every
// pair measured in the same repetition: Tasker's steps/s with k processes
// over River's jobs/s (single jobs) and over River's diamond steps/s (by
// chaining), each with one process; and Tasker over DBOS and over River (by
// chaining) for the one-at-a-time diamond, the burst, the dependent step
// start and the creation, where measured. A latency ratio below 1 and a
// throughput ratio above 1 mean Tasker leads.
func (r *results) addRatios(o *options) {
	river, riverDAG := r.values[riverMetric(1)], r.values[riverDAGMetric(1)]
	for _, k := range o.procs {
		tasker := r.values[taskerMetric(k)]
		for i := range min(len(tasker), len(river)) {
			r.add(fmt.Sprintf("ratio: Tasker %d proc steps/s ÷ River 1 proc jobs/s", k), "×", tasker[i]/river[i])
		}
		for i := range min(len(tasker), len(riverDAG)) {
			r.add(fmt.Sprintf("ratio: Tasker %d proc steps/s ÷ River diamonds 1 proc steps/s", k), "×", tasker[i]/riverDAG[i])
		}
	}
	pairs := []struct{ name, tasker, dbos string }{
		{"diamond p50 (lower leads)", diamondTasker + " p50", diamondDBOS + " p50"},
		{"diamond p95 (lower leads)", diamondTasker + " p95", diamondDBOS + " p95"},
		{"diamond p99 (lower leads)", diamondTasker + " p99", diamondDBOS + " p99"},
		{"PostgreSQL CPU per diamond (lower leads)", "Tasker diamond: PostgreSQL CPU per diamond", "DBOS diamond: PostgreSQL CPU per diamond"},
		{"WAL records per diamond (lower leads)", "Tasker diamond: WAL records per diamond", "DBOS diamond: WAL records per diamond"},
		{"burst steps/s (higher leads)", burstTasker + " steps/s", burstDBOS + " steps/s"},
		{"burst p50 per diamond (lower leads)", burstTasker + " per diamond p50", burstDBOS + " per diamond p50"},
		{"dependent step start p50 (lower leads)", chainTasker + " p50", chainDBOS + " p50"},
		{"create p50 (lower leads)", createTasker + " p50", "DBOS create diamond p50"}, // DBOS's is not measured: River's ratio only
	}
	for _, p := range pairs {
		t, d := r.values[p.tasker], r.values[p.dbos]
		for i := range min(len(t), len(d)) {
			r.add("ratio: Tasker ÷ DBOS, "+p.name, "×", t[i]/d[i])
		}
		// River's, by chaining, where measured.
		peer := strings.Replace(p.dbos, "DBOS", "River", 1)
		rv := r.values[peer]
		for i := range min(len(t), len(rv)) {
			r.add("ratio: Tasker ÷ River, "+p.name, "×", t[i]/rv[i])
		}
	}
}

// Metric names shared by the measurements and addRatios.
const (
	diamondTasker = "Tasker diamond end to end"
	diamondDBOS   = "DBOS diamond end to end"
	burstTasker   = "Tasker burst"
	burstDBOS     = "DBOS burst"
	diamondRiver  = "River diamond end to end"
	burstRiver    = "River burst"
	chainTasker   = "Tasker dependent step start (A → B)"
	chainDBOS     = "DBOS dependent step start (A → B)"
	chainRiver    = "River dependent step start (A → B)"
	createTasker  = "Tasker create diamond (Go API)"
	createRiver   = "River create diamond"
)

func taskerMetric(procs int) string { return fmt.Sprintf("Tasker throughput, %d proc", procs) }
func riverMetric(procs int) string  { return fmt.Sprintf("River throughput, %d proc", procs) }

func riverDAGMetric(procs int) string {
	return fmt.Sprintf("River diamonds throughput, %d proc", procs)
}

// print writes a Markdown table: every repetition's value and the median.
func (r *results) print(w io.Writer) {
	fmt.Fprintln(w, "\n| metric | runs | median |\n|---|---|---|")
	for _, m := range r.order {
		vs := r.values[m]
		runs := make([]string, len(vs))
		for i, v := range vs {
			runs[i] = format(v, r.units[m])
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", m, strings.Join(runs, " / "), format(median(vs), r.units[m]))
	}
}

func format(v float64, unit string) string {
	switch unit {
	case "ms":
		return fmt.Sprintf("%.3f ms", v)
	case "×":
		return fmt.Sprintf("%.2f×", v)
	default:
		return fmt.Sprintf("%.0f %s", v, unit)
	}
}

func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
