package cronexpr

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func mustParse(t *testing.T, expr string) *Schedule {
	t.Helper()
	s, err := Parse(expr)
	require.NoError(t, err, expr)
	return s
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// fires returns the n fire times after from.
func fires(s *Schedule, from time.Time, loc *time.Location, n int) []string {
	var out []string
	for range n {
		from = s.Next(from, loc)
		out = append(out, from.In(loc).Format(time.RFC3339))
	}
	return out
}

func TestNext(t *testing.T) {
	t.Parallel()
	from := utc("2026-01-30T10:17:42Z") // a Friday
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{"*/15 * * * *", []string{"2026-01-30T10:30:00Z", "2026-01-30T10:45:00Z", "2026-01-30T11:00:00Z"}},
		{"* * * * * *", []string{"2026-01-30T10:17:43Z", "2026-01-30T10:17:44Z", "2026-01-30T10:17:45Z"}},
		{"*/20 * * * * *", []string{"2026-01-30T10:18:00Z", "2026-01-30T10:18:20Z", "2026-01-30T10:18:40Z"}},
		{"0 9 * * MON-FRI", []string{"2026-02-02T09:00:00Z", "2026-02-03T09:00:00Z", "2026-02-04T09:00:00Z"}},
		{"0 0 29 2 *", []string{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z", "2036-02-29T00:00:00Z"}},
		{"0 0 31 * *", []string{"2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z"}},
		{"0 12 13 * 5", []string{"2026-01-30T12:00:00Z", "2026-02-06T12:00:00Z", "2026-02-13T12:00:00Z"}}, // dom OR dow
		{"30 4 1,15 * *", []string{"2026-02-01T04:30:00Z", "2026-02-15T04:30:00Z", "2026-03-01T04:30:00Z"}},
		{"0 0 * * 7", []string{"2026-02-01T00:00:00Z", "2026-02-08T00:00:00Z", "2026-02-15T00:00:00Z"}},
		{"5/20 * * * *", []string{"2026-01-30T10:25:00Z", "2026-01-30T10:45:00Z", "2026-01-30T11:05:00Z"}},
		{"0 0 1 jan,Jul ?", []string{"2026-07-01T00:00:00Z", "2027-01-01T00:00:00Z", "2027-07-01T00:00:00Z"}},
		{"@hourly", []string{"2026-01-30T11:00:00Z", "2026-01-30T12:00:00Z", "2026-01-30T13:00:00Z"}},
		{"@daily", []string{"2026-01-31T00:00:00Z", "2026-02-01T00:00:00Z", "2026-02-02T00:00:00Z"}},
		{"@weekly", []string{"2026-02-01T00:00:00Z", "2026-02-08T00:00:00Z", "2026-02-15T00:00:00Z"}},
		{"@monthly", []string{"2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z"}},
		{"@yearly", []string{"2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z", "2029-01-01T00:00:00Z"}},
		{"@every 1s", []string{"2026-01-30T10:17:43Z", "2026-01-30T10:17:44Z", "2026-01-30T10:17:45Z"}},
		{"@every 1h", []string{"2026-01-30T11:00:00Z", "2026-01-30T12:00:00Z", "2026-01-30T13:00:00Z"}},
		{"@every 90s", []string{"2026-01-30T10:18:00Z", "2026-01-30T10:19:30Z", "2026-01-30T10:21:00Z"}},
	} {
		require.Equal(t, tc.want, fires(mustParse(t, tc.expr), from, time.UTC, 3), tc.expr)
	}
	// A fire time is strictly after: from a fire time, the next one.
	s := mustParse(t, "0 * * * *")
	require.Equal(t, utc("2026-01-30T11:00:00Z"), s.Next(utc("2026-01-30T10:00:00Z"), nil))
	require.Equal(t, utc("2026-01-30T10:00:00Z"), s.Next(utc("2026-01-30T09:59:59.999Z"), nil))
}

func TestTimeZone(t *testing.T) {
	t.Parallel()
	paris, err := LoadLocation("Europe/Paris")
	require.NoError(t, err)
	require.Equal(t, []string{"2026-01-31T09:00:00+01:00", "2026-02-01T09:00:00+01:00"},
		fires(mustParse(t, "0 9 * * *"), utc("2026-01-30T10:00:00Z"), paris, 2))
	require.Equal(t, utc("2026-01-31T08:00:00Z"), mustParse(t, "0 9 * * *").Next(utc("2026-01-30T10:00:00Z"), paris))
}

// Clocks go forward (New York, 2026-03-08 02:00 EST → 03:00 EDT) and back
// (2026-11-01 02:00 EDT → 01:00 EST).
func TestDaylightSavingTime(t *testing.T) {
	t.Parallel()
	ny, err := LoadLocation("America/New_York")
	require.NoError(t, err)

	// A daily time in the skipped hour fires once, shifted by the jump.
	require.Equal(t, []string{"2026-03-07T02:30:00-05:00", "2026-03-08T03:30:00-04:00", "2026-03-09T02:30:00-04:00"},
		fires(mustParse(t, "30 2 * * *"), utc("2026-03-06T12:00:00Z"), ny, 3))
	// A daily time in the repeated hour fires once, at its first occurrence.
	require.Equal(t, []string{"2026-10-31T01:30:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"},
		fires(mustParse(t, "30 1 * * *"), utc("2026-10-30T12:00:00Z"), ny, 3))
	// An hourly schedule: no fire in the skipped hour, one per wall-clock
	// time in the repeated hour; instants strictly increase.
	require.Equal(t, []string{"2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T04:00:00-04:00"},
		fires(mustParse(t, "0 * * * *"), utc("2026-03-08T05:30:00Z"), ny, 3))
	require.Equal(t, []string{"2026-11-01T01:00:00-04:00", "2026-11-01T02:00:00-05:00", "2026-11-01T03:00:00-05:00"},
		fires(mustParse(t, "0 * * * *"), utc("2026-11-01T04:30:00Z"), ny, 3))
	// Asked from inside the second occurrence of 01:xx, the next fire is
	// 02:00 EST (01:45's first occurrence has passed).
	require.Equal(t, utc("2026-11-01T07:00:00Z"), mustParse(t, "*/15 * * * *").Next(utc("2026-11-01T06:10:00Z"), ny))
	// @every is by the instant, whatever the zone.
	require.Equal(t, []string{"2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"},
		fires(mustParse(t, "@every 1h"), utc("2026-11-01T04:30:00Z"), ny, 3))
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for expr, want := range map[string]string{
		"":                "is empty",
		"* * * *":         "has 4 fields",
		"* * * * * * *":   "has 7 fields",
		"60 * * * *":      `minute field "60"`,
		"* 24 * * *":      "hour field",
		"* * 0 * *":       "day of month field",
		"* * * 13 *":      "month field",
		"* * * foo *":     "or a name such as JAN",
		"* * * * 8":       "day of week field",
		"5-1 * * * *":     "ends before it starts",
		"*/0 * * * *":     "the step after /",
		"-1 * * * *":      "is not a number",
		"+1 * * * *":      "is not a number",
		"0 0 30 2 *":      "never fires",
		"@often":          "not a known descriptor",
		"@every":          "needs a duration",
		"@every 500ms":    "shortest interval is 1s",
		"@every 1500ms":   "whole seconds",
		"@every soon":     "not a duration",
		"@every 1000000h": "longest interval",
		"@everyday":       "not a known descriptor",
		"1,,2 * * * *":    "is not a number",
	} {
		_, err := Parse(expr)
		require.ErrorContains(t, err, want, expr)
	}
}

func TestLoadLocation(t *testing.T) {
	t.Parallel()
	loc, err := LoadLocation("")
	require.NoError(t, err)
	require.Equal(t, time.UTC, loc)
	_, err = LoadLocation("Local")
	require.ErrorContains(t, err, "depends on the machine")
	_, err = LoadLocation("Mars/Olympus")
	require.ErrorContains(t, err, "not an IANA time zone")
	_, err = LoadLocation("Asia/Kolkata")
	require.NoError(t, err)
}

// FuzzParse: Parse never panics; a parsed schedule's next fire time is
// strictly after and strictly increasing, and matches the expression on
// the zone's wall clock (cron) or is a multiple of the interval (@every).
func FuzzParse(f *testing.F) {
	for _, s := range []string{"*/15 * * * *", "0 9 * * MON-FRI", "0 0 29 2 *", "@every 90s", "@daily", "5/20 1-3,7 * * *", "0 30 2 * * *", "0 0 13 * 5"} {
		f.Add(s, int64(1785000000), uint8(0))
	}
	zones := []string{"UTC", "America/New_York", "Europe/Paris", "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Apia"}
	f.Fuzz(func(t *testing.T, expr string, unix int64, zone uint8) {
		s, err := Parse(expr)
		if err != nil {
			return
		}
		loc, err := LoadLocation(zones[int(zone)%len(zones)])
		require.NoError(t, err)
		from := time.Unix(unix%(4e9), 0).UTC()
		prev := from
		for range 3 {
			next := s.Next(prev, loc)
			if next.IsZero() {
				return
			}
			require.True(t, next.After(prev), "%q: %s after %s", expr, next, prev)
			if s.Every() > 0 {
				require.Zero(t, next.Unix()%int64(s.Every()/time.Second))
			} else {
				require.True(t, s.matchesNear(next, loc), "%q: %s in %s", expr, next, loc)
			}
			prev = next
		}
	})
}

// matchesNear reports whether t's wall clock matches, with loc's offset
// at t or (a time skipped by a jump forward) the offset before the jump.
func (s *Schedule) matchesNear(t time.Time, loc *time.Location) bool {
	_, now := t.In(loc).Zone()
	_, before := t.Add(-26 * time.Hour).In(loc).Zone()
	for _, off := range []int{now, before} {
		c := t.In(time.FixedZone("", off))
		y, mo, d := c.Date()
		h, mi, se := c.Clock()
		if has(s.month, int(mo)) && s.dayMatches(y, mo, d) && has(s.hour, h) && has(s.min, mi) && has(s.sec, se) {
			return true
		}
	}
	return false
}
