package taskerdashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/tasker-go/tasker"
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

// livePing is how often an idle feed sends a comment, so that proxies keep
// it open and a dead client is noticed.
const livePing = 15 * time.Second

// liveFeed sends every task and step state change, made by any process on
// the database, as Server-Sent Events ("event: change", data a
// tasker.Change: {task_id, step_id, from, to, event, at}), to a user who may
// list tasks; at most MaxLiveConnections feeds a user. Pages re-read what
// they show on each change (and every few seconds, for a change the feed
// missed: see tasker.Client.ReadChanges).
func (h *handler) liveFeed(w http.ResponseWriter, r *http.Request) {
	p, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	if p == nil {
		unauthorized(w)
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
	changes, stop, err := h.hub.subscribe(r.Context())
	if err != nil {
		h.cfg.Logger.ErrorContext(r.Context(), "dashboard: the live feed cannot read the change feed", "error", err)
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": map[string]string{"code": "unavailable",
			"message": "the change feed cannot be read now (the database may be unavailable); retry in a few seconds"}})
		return
	}
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
			b, _ := json.Marshal(ch)
			msg = "event: change\ndata: " + string(b) + "\n\n"
		}
		if _, err := fmt.Fprint(w, msg); err != nil || rc.Flush() != nil {
			return
		}
	}
}

// changeHub fans the database's change feed out to the open live feeds:
// one reader per dashboard, whatever the number of feeds, running while
// at least one is open.
type changeHub struct {
	c     *tasker.Client
	every time.Duration
	log   *slog.Logger

	mu   sync.Mutex
	subs map[chan tasker.Change]struct{}
	stop context.CancelFunc // the running reader's; nil when none runs
	done chan struct{}      // closed when that reader has returned
}

// liveBuffer is how many changes a feed may fall behind before it loses
// some (its page's periodic re-read covers them).
const liveBuffer = 1024

// subscribe returns a channel of the changes committed from now on, and a
// function that ends the subscription.
func (hb *changeHub) subscribe(ctx context.Context) (<-chan tasker.Change, func(), error) {
	ch := make(chan tasker.Change, liveBuffer)
	hb.mu.Lock()
	defer hb.mu.Unlock()
	if hb.stop == nil {
		cur, err := hb.c.ChangesNow(ctx) // the feed starts at the present
		if err != nil {
			return nil, nil, err
		}
		rctx, cancel := context.WithCancel(context.Background())
		hb.stop, hb.done = cancel, make(chan struct{})
		go hb.run(rctx, cur, hb.done)
	}
	hb.subs[ch] = struct{}{}
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			hb.mu.Lock()
			delete(hb.subs, ch)
			var done chan struct{}
			if len(hb.subs) == 0 && hb.stop != nil {
				hb.stop()
				hb.stop, done = nil, hb.done
			}
			hb.mu.Unlock()
			if done != nil {
				<-done // no reader outlives its last feed
			}
		})
	}, nil
}

// run reads the change feed after cur every hb.every, and at once when
// this process changes something, and hands each change to every
// subscriber (one whose buffer is full loses it).
func (hb *changeHub) run(ctx context.Context, cur tasker.ChangeCursor, done chan struct{}) {
	defer close(done)
	local, unsub := hb.c.SubscribeChanges()
	defer unsub()
	tick := time.NewTicker(hb.every)
	defer tick.Stop()
	for {
		changes, next, err := hb.c.ReadChanges(ctx, cur, 0)
		switch {
		case err != nil && ctx.Err() == nil:
			hb.log.Warn("taskerdashboard: the live feed cannot read the change feed; retrying", "error", err)
		case err == nil:
			cur = next
			hb.publish(changes)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-local:
			for len(local) > 0 { // one read answers them all
				<-local
			}
		}
	}
}

func (hb *changeHub) publish(changes []tasker.Change) {
	if len(changes) == 0 {
		return
	}
	hb.mu.Lock()
	defer hb.mu.Unlock()
	for ch := range hb.subs {
		for _, c := range changes {
			select {
			case ch <- c:
			default:
			}
		}
	}
}
