package retrypolicy_test

import (
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/retrypolicy"
)

func fixed(r float64) func() float64 { return func() float64 { return r } }

var now = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

func TestWithDefaults(t *testing.T) {
	t.Parallel()
	require.Equal(t, retrypolicy.Policy{
		Base: 2 * time.Second, MaxExponential: 30 * time.Second, MaxBackoff: 300 * time.Second, Jitter: 0.1,
	}, retrypolicy.Policy{}.WithDefaults())
	custom := retrypolicy.Policy{Base: time.Second, MaxExponential: time.Minute, MaxBackoff: time.Hour, Jitter: -1}
	require.Equal(t, custom, custom.WithDefaults())
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    retrypolicy.Policy
		msg  string
	}{
		{"zero is valid", retrypolicy.Policy{}, ""},
		{"no jitter is valid", retrypolicy.Policy{Jitter: -1}, ""},
		{"negative base", retrypolicy.Policy{Base: -time.Second},
			"retry policy: Base is -1s; it must be positive (or 0 for the default 2s)"},
		{"negative max exponential", retrypolicy.Policy{MaxExponential: -time.Second},
			"retry policy: MaxExponential is -1s; it must be positive (or 0 for the default 30s)"},
		{"negative max backoff", retrypolicy.Policy{MaxBackoff: -time.Second},
			"retry policy: MaxBackoff is -1s; it must be positive (or 0 for the default 5m0s)"},
		{"jitter above 1", retrypolicy.Policy{Jitter: 1.5},
			"retry policy: Jitter is 1.5; it must be at most 1 (e.g. 0.1 for ±10 %, 0 for the default, negative for none)"},
		{"jitter NaN", retrypolicy.Policy{Jitter: math.NaN()},
			"retry policy: Jitter is NaN; it must be at most 1 (e.g. 0.1 for ±10 %, 0 for the default, negative for none)"},
		{"base above cap", retrypolicy.Policy{Base: time.Minute},
			"retry policy: Base (1m0s) exceeds MaxExponential (30s), so every retry would wait MaxExponential; lower Base or raise MaxExponential"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.p.Validate()
			if tt.msg == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.msg)
		})
	}
}

// TestDelayExponential covers attempts 1..10 with the defaults and no
// jitter (rnd 0.5): 2, 4, 8, 16 s, then the 30 s cap (spec scenario 16).
func TestDelayExponential(t *testing.T) {
	t.Parallel()
	want := []time.Duration{2, 4, 8, 16, 30, 30, 30, 30, 30, 30}
	for i, w := range want {
		attempts := i + 1
		t.Run(time.Duration(attempts).String(), func(t *testing.T) {
			t.Parallel()
			got := retrypolicy.Delay(attempts, retrypolicy.Policy{}, 0, fixed(0.5))
			require.Equal(t, w*time.Second, got)
			require.Equal(t, now.Add(w*time.Second), retrypolicy.NextAttemptAt(now, attempts, retrypolicy.Policy{}, 0, fixed(0.5)))
		})
	}
}

func TestDelayCases(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		attempts  int
		p         retrypolicy.Policy
		requested time.Duration
		r         float64
		want      time.Duration
	}{
		{"lowest jitter", 1, retrypolicy.Policy{}, 0, 0, 1800 * time.Millisecond},
		{"highest jitter", 1, retrypolicy.Policy{}, 0, math.Nextafter(1, 0), 2200 * time.Millisecond},
		{"jitter below the cap", 5, retrypolicy.Policy{}, 0, 0, 28800 * time.Millisecond},     // 32 s · 0.9
		{"jitter above the base", 4, retrypolicy.Policy{}, 0, 0.99, 17568 * time.Millisecond}, // 16 s · 1.098
		{"jitter never exceeds the cap", 10, retrypolicy.Policy{}, 0, 0.99, 30 * time.Second},
		{"no jitter when negative", 1, retrypolicy.Policy{Jitter: -1}, 0, 0, 2 * time.Second},
		{"full jitter can reach zero", 1, retrypolicy.Policy{Jitter: 1}, 0, 0, 0},
		{"rnd out of range is clamped", 1, retrypolicy.Policy{}, 0, 7, 2200 * time.Millisecond},
		{"attempts 0 counts as 1", 0, retrypolicy.Policy{}, 0, 0.5, 2 * time.Second},
		{"negative attempts count as 1", -3, retrypolicy.Policy{}, 0, 0.5, 2 * time.Second},
		{"huge attempts do not overflow", math.MaxInt, retrypolicy.Policy{}, 0, 0.5, 30 * time.Second},
		{"huge attempts with a huge cap", 1000, retrypolicy.Policy{MaxExponential: math.MaxInt64}, 0, 0.5, math.MaxInt64},
		{"custom base and cap", 3, retrypolicy.Policy{Base: 100 * time.Millisecond, MaxExponential: time.Second}, 0, 0.5, 400 * time.Millisecond},
		{"requested delay wins", 5, retrypolicy.Policy{}, 120 * time.Second, 0, 120 * time.Second},
		{"requested delay is capped", 1, retrypolicy.Policy{}, time.Hour, 0, 300 * time.Second},
		{"requested delay with custom cap", 1, retrypolicy.Policy{MaxBackoff: time.Minute}, 90 * time.Second, 0.9, time.Minute},
		{"requested delay below the exponential cap", 1, retrypolicy.Policy{}, 500 * time.Millisecond, 0, 500 * time.Millisecond},
		{"negative request is ignored", 1, retrypolicy.Policy{}, -time.Second, 0.5, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, retrypolicy.Delay(tt.attempts, tt.p, tt.requested, fixed(tt.r)))
		})
	}
}

func TestDelayJitterBounds(t *testing.T) {
	t.Parallel()
	for attempts := 1; attempts <= 8; attempts++ {
		raw := 2 * time.Second << (attempts - 1)
		lo := min(time.Duration(float64(raw)*0.9), 30*time.Second)
		hi := min(time.Duration(float64(raw)*1.1), 30*time.Second)
		for range 200 {
			got := retrypolicy.Delay(attempts, retrypolicy.Policy{}, 0, nil) // math/rand/v2
			require.GreaterOrEqual(t, got, lo, "attempts %d", attempts)
			require.LessOrEqual(t, got, hi, "attempts %d", attempts)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		header string
		want   time.Duration
		err    string
	}{
		{"seconds", "120", 120 * time.Second, ""},
		{"seconds with spaces", " 30 ", 30 * time.Second, ""},
		{"zero", "0", 0, ""},
		{"blank", "", 0, ""},
		{"spaces only", "   ", 0, ""},
		{"huge saturates", "99999999999999999999999", math.MaxInt64, ""},
		{"HTTP-date in the future", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, ""},
		{"RFC 850 date in the future", now.Add(time.Hour).Format(time.RFC850), time.Hour, ""},
		{"HTTP-date in the past", now.Add(-time.Hour).Format(http.TimeFormat), 0, ""},
		{"negative", "-5", 0, `invalid Retry-After "-5": the delay must not be negative; want delay-seconds (e.g. "120") or an HTTP-date (e.g. "Wed, 21 Oct 2015 07:28:00 GMT")`},
		{"garbage", "soon", 0, `invalid Retry-After "soon": want delay-seconds (e.g. "120") or an HTTP-date (e.g. "Wed, 21 Oct 2015 07:28:00 GMT")`},
		{"fraction", "1.5", 0, `invalid Retry-After "1.5": want delay-seconds (e.g. "120") or an HTTP-date (e.g. "Wed, 21 Oct 2015 07:28:00 GMT")`},
		{"plus sign", "+5", 0, `invalid Retry-After "+5": want delay-seconds (e.g. "120") or an HTTP-date (e.g. "Wed, 21 Oct 2015 07:28:00 GMT")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := retrypolicy.ParseRetryAfter(tt.header, now)
			if tt.err != "" {
				require.EqualError(t, err, tt.err)
				require.ErrorIs(t, err, retrypolicy.ErrInvalidRetryAfter)
				require.Zero(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "120", "-1", "abc", "Wed, 21 Oct 2015 07:28:00 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		d, err := retrypolicy.ParseRetryAfter(header, now)
		if err != nil && d != 0 {
			t.Fatalf("error %v with non-zero delay %v", err, d)
		}
		if d < 0 {
			t.Fatalf("negative delay %v for %q", d, header)
		}
		_ = retrypolicy.Delay(3, retrypolicy.Policy{}, d, nil)
	})
}
