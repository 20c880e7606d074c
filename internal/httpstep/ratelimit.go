package httpstep

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiters holds one token bucket per host (scheme://host:port) for the life
// of the process, shared by every step (and every Go caller) that gives the
// host a rate_limit.
//
// Steps may give one host different limits. The bucket then takes the
// strictest seen so far: a lower requests_per_second or burst lowers the
// bucket's, a higher one changes nothing. So a host is never called faster
// than any step asked, whatever the order in which the steps run.
var limiters = struct {
	sync.Mutex
	m map[string]*rate.Limiter
}{m: map[string]*rate.Limiter{}}

// limiterFor returns the bucket of host, created full or lowered to rl.
func limiterFor(host string, rl *RateLimit, now time.Time) *rate.Limiter {
	limiters.Lock()
	defer limiters.Unlock()
	lim, ok := limiters.m[host]
	if !ok {
		lim = rate.NewLimiter(rate.Limit(rl.RequestsPerSecond), rl.Burst)
		limiters.m[host] = lim
		return lim
	}
	if l := rate.Limit(rl.RequestsPerSecond); l < lim.Limit() {
		lim.SetLimitAt(now, l)
	}
	if rl.Burst < lim.Burst() {
		lim.SetBurstAt(now, rl.Burst)
	}
	return lim
}

// waitToken takes a token of host's bucket, waiting for it as long as ctx
// allows. When the wait would outlast ctx's deadline it returns a
// *RateLimitError at once (the token is given back) so that the step is
// retried when the token is due; when ctx ends during the wait it returns
// ctx's error.
func waitToken(ctx context.Context, host string, rl *RateLimit, now func() time.Time) error {
	t := now()
	lim := limiterFor(host, rl, t)
	r := lim.ReserveN(t, 1)
	if !r.OK() {
		return configErrorf("handler_config.rate_limit of %s allows no request (burst %d): raise burst to at least 1", host, lim.Burst())
	}
	d := r.DelayFrom(t)
	if d <= 0 {
		return nil
	}
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d {
		r.CancelAt(t)
		return &RateLimitError{Host: host, Wait: d}
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		r.CancelAt(now())
		return fmt.Errorf("waiting for the rate limit of %s: %w", host, ctx.Err())
	}
}
