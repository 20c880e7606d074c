package taskerhttp

import (
	"net/http"
	"strconv"
	"time"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/apiview"
)

// analyticsPerformance serves Client.AnalyticsPerformance.
func (s *server) analyticsPerformance(w http.ResponseWriter, r *http.Request) error {
	rep, err := s.c.AnalyticsPerformance(r.Context(), nil)
	if err != nil {
		return err
	}
	writeReport(w, &rep.GeneratedAt, &rep.CacheInfo, rep)
	return nil
}

// writeReport writes an analytics report, its times in UTC, never cached
// by the client (the report says itself how long it is cached here).
func writeReport(w http.ResponseWriter, generated *time.Time, cache *tasker.CacheInfo, rep any) {
	*generated, cache.ExpiresAt = apiview.UTC(*generated), apiview.UTC(cache.ExpiresAt)
	noStore(w)
	writeJSON(w, http.StatusOK, rep)
}

// analyticsBottlenecks serves Client.AnalyticsBottlenecks for
// ?namespace&name&version&period=HOURS.
func (s *server) analyticsBottlenecks(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	bq := &tasker.BottleneckQuery{Namespace: q.Get("namespace"), Name: q.Get("name"), Version: q.Get("version"),
		PeriodHours: tasker.AnalyticsDefaultPeriodHours}
	if v := q.Get("period"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > tasker.AnalyticsMaxPeriodHours {
			return badParam("period", "%q is not a number of hours from 1 to %d; give for example period=24", v, tasker.AnalyticsMaxPeriodHours)
		}
		bq.PeriodHours = n
	}
	rep, err := s.c.AnalyticsBottlenecks(r.Context(), bq)
	if err != nil {
		return err
	}
	writeReport(w, &rep.GeneratedAt, &rep.CacheInfo, rep)
	return nil
}

// analyticsSeries serves Client.AnalyticsSeries for
// ?namespace&name&version&period=HOURS&buckets=N.
func (s *server) analyticsSeries(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	sq := &tasker.SeriesQuery{Namespace: q.Get("namespace"), Name: q.Get("name"), Version: q.Get("version"),
		PeriodHours: tasker.AnalyticsDefaultPeriodHours, Buckets: tasker.AnalyticsSeriesDefaultBuckets}
	if v := q.Get("period"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > tasker.AnalyticsMaxPeriodHours {
			return badParam("period", "%q is not a number of hours from 1 to %d; give for example period=24", v, tasker.AnalyticsMaxPeriodHours)
		}
		sq.PeriodHours = n
	}
	if v := q.Get("buckets"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > tasker.AnalyticsSeriesMaxBuckets {
			return badParam("buckets", "%q is not a number of buckets from 1 to %d; give for example buckets=24", v, tasker.AnalyticsSeriesMaxBuckets)
		}
		sq.Buckets = n
	}
	if minutes := sq.PeriodHours * 60; minutes%sq.Buckets != 0 {
		return badParam("buckets", "%d buckets do not divide %d hours into whole minutes: give a divisor of %d, for example %d",
			sq.Buckets, sq.PeriodHours, minutes, sq.PeriodHours)
	}
	rep, err := s.c.AnalyticsSeries(r.Context(), sq)
	if err != nil {
		return err
	}
	writeReport(w, &rep.GeneratedAt, &rep.CacheInfo, rep)
	return nil
}
