package retrypolicy

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Defaults applied by Policy.WithDefaults to zero fields.
const (
	DefaultBase           = 2 * time.Second
	DefaultMaxExponential = 30 * time.Second
	DefaultMaxBackoff     = 300 * time.Second
	DefaultJitter         = 0.1
)

// Policy configures the backoff between attempts. The zero value means
// every default.
type Policy struct {
	// Base is the wait after the first failure; the n-th failure waits
	// Base·2^(n-1). Zero means DefaultBase (2s).
	Base time.Duration
	// MaxExponential caps the exponential backoff, jitter included. Zero
	// means DefaultMaxExponential (30s, as the original engine's SQL).
	MaxExponential time.Duration
	// MaxBackoff caps a delay requested by a server (Retry-After) or a
	// handler. Zero means DefaultMaxBackoff (300s).
	MaxBackoff time.Duration
	// Jitter is the relative spread of the exponential backoff: the delay
	// d becomes a uniform value in [d-Jitter·d, d+Jitter·d). Zero means
	// DefaultJitter (0.1, ±10 %); a negative value means no jitter. It must
	// not exceed 1.
	Jitter float64
}

// WithDefaults returns p with every zero field set to its default. A
// negative Jitter is kept (it means none).
func (p Policy) WithDefaults() Policy {
	if p.Base == 0 {
		p.Base = DefaultBase
	}
	if p.MaxExponential == 0 {
		p.MaxExponential = DefaultMaxExponential
	}
	if p.MaxBackoff == 0 {
		p.MaxBackoff = DefaultMaxBackoff
	}
	if p.Jitter == 0 {
		p.Jitter = DefaultJitter
	}
	return p
}

// Validate reports the first field that makes no sense, naming the field
// and the fix. Zero fields are valid (they mean the default); the check
// applies to the policy with defaults filled in.
func (p Policy) Validate() error {
	switch {
	case p.Base < 0:
		return fmt.Errorf("retry policy: Base is %v; it must be positive (or 0 for the default %v)", p.Base, DefaultBase)
	case p.MaxExponential < 0:
		return fmt.Errorf("retry policy: MaxExponential is %v; it must be positive (or 0 for the default %v)", p.MaxExponential, DefaultMaxExponential)
	case p.MaxBackoff < 0:
		return fmt.Errorf("retry policy: MaxBackoff is %v; it must be positive (or 0 for the default %v)", p.MaxBackoff, DefaultMaxBackoff)
	case math.IsNaN(p.Jitter) || p.Jitter > 1:
		return fmt.Errorf("retry policy: Jitter is %v; it must be at most 1 (e.g. 0.1 for ±10 %%, 0 for the default, negative for none)", p.Jitter)
	}
	d := p.WithDefaults()
	if d.Base > d.MaxExponential {
		return fmt.Errorf("retry policy: Base (%v) exceeds MaxExponential (%v), so every retry would wait MaxExponential; lower Base or raise MaxExponential", d.Base, d.MaxExponential)
	}
	return nil
}

// NextAttemptAt returns when the next attempt may start: now plus
// Delay(attempts, p, requested, rnd).
func NextAttemptAt(now time.Time, attempts int, p Policy, requested time.Duration, rnd func() float64) time.Time {
	return now.Add(Delay(attempts, p, requested, rnd))
}

// Delay returns the wait before the next attempt, given the number of
// attempts made so far (1 after the first failure; values below 1 count
// as 1) and p with defaults applied:
//
//   - requested > 0 (Retry-After or a handler's request): min(requested,
//     MaxBackoff), without jitter;
//   - otherwise Base·2^(attempts-1), times a jitter factor 1+Jitter·(2r-1)
//     where r = rnd() in [0, 1), then capped at MaxExponential. The cap is
//     applied after the jitter, so the delay never exceeds MaxExponential;
//     it is never negative, and huge attempt counts do not overflow.
//
// rnd returns a uniform value in [0, 1) (values outside are clamped); nil
// means math/rand/v2.Float64. A fixed rnd returning 0.5 gives no jitter.
func Delay(attempts int, p Policy, requested time.Duration, rnd func() float64) time.Duration {
	p = p.WithDefaults()
	if requested > 0 {
		return min(requested, p.MaxBackoff)
	}
	limit := max(p.MaxExponential, 0)
	// Base·2^(attempts-1) in float64: 2^62 ns already exceeds any
	// time.Duration, so larger shifts change nothing and cannot overflow.
	shift := min(max(attempts-1, 0), 62)
	d := float64(max(p.Base, 0)) * float64(uint64(1)<<shift)
	if p.Jitter > 0 {
		if rnd == nil {
			rnd = rand.Float64
		}
		r := min(max(rnd(), 0), 1)
		d *= 1 + min(p.Jitter, 1)*(2*r-1)
	}
	if !(d < float64(limit)) { // also catches NaN
		return limit
	}
	return time.Duration(max(d, 0))
}

// retryAfterForms describes the accepted forms of a Retry-After header.
const retryAfterForms = `want delay-seconds (e.g. "120") or an HTTP-date (e.g. "Wed, 21 Oct 2015 07:28:00 GMT")`

// ErrInvalidRetryAfter is wrapped by the errors of ParseRetryAfter.
var ErrInvalidRetryAfter = errors.New("invalid Retry-After")

// ParseRetryAfter parses an HTTP Retry-After header value relative to now:
// either delta-seconds (a non-negative integer; values beyond the range of
// time.Duration saturate) or an HTTP-date (any format http.ParseTime
// accepts). A blank value gives 0 and no error; a date in the past gives 0.
// Negative numbers and anything else are errors wrapping
// ErrInvalidRetryAfter.
func ParseRetryAfter(header string, now time.Time) (time.Duration, error) {
	v := strings.TrimSpace(header)
	if v == "" {
		return 0, nil
	}
	if isDigits(v) {
		secs, err := strconv.ParseUint(v, 10, 64)
		if err != nil || secs > uint64(math.MaxInt64/int64(time.Second)) {
			return time.Duration(math.MaxInt64), nil // out of range: saturate
		}
		return time.Duration(secs) * time.Second, nil
	}
	if v[0] == '-' && isDigits(v[1:]) {
		return 0, fmt.Errorf("%w %q: the delay must not be negative; %s", ErrInvalidRetryAfter, v, retryAfterForms)
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, fmt.Errorf("%w %q: %s", ErrInvalidRetryAfter, v, retryAfterForms)
	}
	return max(t.Sub(now), 0), nil
}

// isDigits reports whether s is non-empty and only ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
