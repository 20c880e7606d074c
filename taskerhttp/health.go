package taskerhttp

import (
	"context"
	"math"
	"net/http"
	"time"

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
		if ctx.Err() != nil {
			db["message"] = "database check timed out after " + s.opts.ReadinessTimeout.String() + ": " + err.Error()
		} else {
			db["message"] = err.Error()
		}
		db["status"] = "unhealthy"
		status, ready, msg = http.StatusServiceUnavailable, false, "not ready: the database check failed"
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
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{
			"healthy": false, "status": "unhealthy", "reasons": []string{"health counts failed: " + err.Error()},
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
