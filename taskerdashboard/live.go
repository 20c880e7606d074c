package taskerdashboard

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/tasker-go/tasker/taskerauth"
)

// liveLimiter counts the live feeds each user holds open.
type liveLimiter struct {
	mu   sync.Mutex
	max  int
	open map[string]int
}

func newLiveLimiter(max int) *liveLimiter { return &liveLimiter{max: max, open: map[string]int{}} }

// acquire takes one of subject's places; ok is false when all are taken.
func (l *liveLimiter) acquire(subject string) (release func(), ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[subject] >= l.max {
		return nil, false
	}
	l.open[subject]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.open[subject]--; l.open[subject] == 0 {
				delete(l.open, subject)
			}
		})
	}, true
}

// change is one state change as the live feed sends it.
type change struct {
	TaskID   int64     `json:"task_id"`
	StepID   int64     `json:"step_id,omitempty"`
	StepName string    `json:"step_name,omitempty"`
	To       string    `json:"to"`
	Event    string    `json:"event"`
	At       time.Time `json:"at"`
}

// livePing is how often an idle feed sends a comment, so that proxies keep
// it open and a dead client is noticed.
const livePing = 15 * time.Second

// liveFeed sends every task and step state change made through this
// process as Server-Sent Events ("event: change", data {task_id, step_id,
// step_name, to, event, at}), to a user who may list tasks; at most
// MaxLiveConnections feeds a user. Pages re-read what they show on each
// change (and every few seconds, for changes made by workers in other
// processes).
func (h *handler) liveFeed(w http.ResponseWriter, r *http.Request) {
	p, err := h.principal(r)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	if p == nil {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]string{"code": "unauthorized", "message": "sign in at /sign-in"}})
		return
	}
	if err := h.cfg.Authorizer.Authorize(taskerauth.WithPrincipal(r.Context(), p), p, taskerauth.PermTaskIndex); err != nil {
		writeJSON(w, http.StatusForbidden, map[string]any{"error": map[string]string{"code": "forbidden",
			"message": "the live feed needs the permission " + taskerauth.PermTaskIndex}})
		return
	}
	release, ok := h.live.acquire(p.Subject)
	if !ok {
		w.Header().Set("Retry-After", "10")
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": map[string]string{"code": "too_many_live_feeds",
			"message": fmt.Sprintf("at most %d live feeds per user: close other dashboard tabs", h.cfg.MaxLiveConnections)}})
		return
	}
	defer release()
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // the server's write timeout is for answers, not feeds
	changes, stop := h.c.SubscribeChanges()
	defer stop()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, "retry: 2000\n: connected\n\n"); err != nil || rc.Flush() != nil {
		return
	}
	ping := time.NewTicker(livePing)
	defer ping.Stop()
	for {
		var msg string
		select {
		case <-r.Context().Done():
			return
		case <-ping.C:
			msg = ": ping\n\n"
		case ch, ok := <-changes:
			if !ok {
				return
			}
			c := change{To: string(ch.To), Event: ch.Event, At: ch.At}
			if ch.Task != nil {
				c.TaskID = ch.Task.ID
			}
			if ch.Step != nil {
				c.StepID, c.StepName, c.TaskID = ch.Step.ID, ch.Step.Name, ch.Step.TaskID
			}
			b, _ := json.Marshal(c)
			msg = "event: change\ndata: " + string(b) + "\n\n"
		}
		if _, err := fmt.Fprint(w, msg); err != nil || rc.Flush() != nil {
			return
		}
	}
}
