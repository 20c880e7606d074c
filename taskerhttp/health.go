package taskerhttp

import (
	"context"
	"errors"
	"math"
	"net/http"
	"time"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/apiview"
)

func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
}

func (s *server) healthLive(w http.ResponseWriter, _ *http.Request) error {
	noStore(w)
	writeJSON(w, http.StatusOK, map[string]any{"alive": true, "timestamp": time.Now().UTC(), "service": "tasker"})
	return nil
}

func (s *server) healthReady(w http.ResponseWriter, r *http.Request) error {
	noStore(w)
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.ReadinessTimeout)
	defer cancel()
	start := time.Now()
	err := s.c.Ping(ctx)
	elapsed := math.Round(float64(time.Since(start).Microseconds())/10) / 100
	db := map[string]any{"status": "healthy", "message": "database answers and is migrated", "response_time_ms": elapsed}
	status, ready, msg := http.StatusOK, true, "ready"
	if err != nil {
		// The database's error names its host and user: logged, not served
		// (this route is open).
		s.opts.Logger.Warn("readiness check failed", "request_id", w.Header().Get("X-Request-Id"), "error", err)
		switch {
		case ctx.Err() != nil:
			db["message"] = "database check timed out after " + s.opts.ReadinessTimeout.String()
		case errors.Is(err, tasker.ErrUnavailable):
			db["message"] = "database unavailable; see the server log"
		default:
			db["message"] = "database check failed; see the server log"
		}
		db["status"] = "unhealthy"
		status, ready, msg = http.StatusServiceUnavailable, false, "not ready: the database check failed"
		w.Header().Set("Retry-After", retryAfterSeconds)
	}
	body := map[string]any{"ready": ready, "checks": map[string]any{"database": db}, "message": msg,
		"timestamp": time.Now().UTC(), "check_duration_ms": elapsed}
	if !ready {
		body["failed_checks"] = []string{"database"}
	}
	writeJSON(w, status, body)
	return nil
}

func (s *server) healthStatus(w http.ResponseWriter, r *http.Request) error {
	noStore(w)
	h, err := s.c.Health(r.Context())
	if err != nil {
		s.opts.Logger.Warn("health counts failed", "request_id", w.Header().Get("X-Request-Id"), "error", err)
		w.Header().Set("Retry-After", retryAfterSeconds)
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{
			"healthy": false, "status": "unhealthy", "reasons": []string{"health counts failed: the database is unavailable or failed; see the server log"},
			"timestamp": time.Now().UTC(),
		})
		return nil
	}
	h.CheckedAt = apiview.UTC(h.CheckedAt)
	status := http.StatusOK
	if !h.Healthy {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, h)
	return nil
}

// serveMetrics serves Options.Metrics: the Prometheus text format, or
// OpenMetrics when the scraper asks for it.
func (s *server) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	if s.metrics == nil {
		return &apiError{Status: http.StatusNotFound, Code: "not_found",
			Message: "metrics are not enabled on this server: tasker serve enables them; a Go program sets taskerhttp.Options.Metrics (see package taskermetrics)"}
	}
	s.metrics.ServeHTTP(w, r)
	return nil
}
