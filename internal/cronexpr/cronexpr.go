package cronexpr

import (
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // every IANA zone loads, whatever the machine has
)

// MaxEvery is the longest @every interval.
const MaxEvery = 100 * 365 * 24 * time.Hour

// MaxLen is the longest expression accepted, in bytes.
const MaxLen = 256

// Schedule is a parsed expression.
type Schedule struct {
	expr  string
	every time.Duration // @every; the fields are unused then
	// Bit sets of the allowed values of each field.
	sec, min, hour, dom, month, dow uint64
	// domAny and dowAny record a field written as * or ?: when both day
	// fields are restricted, a day matches either (as in Vixie cron).
	domAny, dowAny bool
}

// String returns the expression as it was parsed.
func (s *Schedule) String() string { return s.expr }

// Every returns the interval of an @every expression, and 0 for the others.
func (s *Schedule) Every() time.Duration { return s.every }

type field struct {
	name     string
	min, max int
	names    []string // names[i] is the value min+i
}

var (
	secondField = field{name: "second", min: 0, max: 59}
	minuteField = field{name: "minute", min: 0, max: 59}
	hourField   = field{name: "hour", min: 0, max: 23}
	domField    = field{name: "day of month", min: 1, max: 31}
	monthField  = field{name: "month", min: 1, max: 12, names: []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}}
	dowField    = field{name: "day of week", min: 0, max: 7, names: []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}}
)

var descriptors = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

// Parse parses an expression: 5 fields (minute hour day-of-month month
// day-of-week), 6 fields (second first), a descriptor (@daily, ...) or
// @every DURATION (a Go duration of whole seconds, at least 1s, such as
// "@every 1m30s"). A field is a list of *, ?, a value, a range a-b, each
// with an optional /step; months and days of the week also take their
// English three-letter names (JAN, MON); Sunday is 0 or 7.
func Parse(expr string) (*Schedule, error) {
	if len(expr) > MaxLen {
		return nil, fmt.Errorf("is %d bytes long, more than %d", len(expr), MaxLen)
	}
	spec := strings.TrimSpace(expr)
	if spec == "" {
		return nil, errors.New(`is empty: give a cron expression such as "*/5 * * * *", "@daily" or "@every 10s"`)
	}
	if strings.HasPrefix(spec, "@") {
		if rest, ok := strings.CutPrefix(spec, "@every"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
			return parseEvery(spec, strings.TrimSpace(rest))
		}
		d, ok := descriptors[strings.ToLower(spec)]
		if !ok {
			return nil, fmt.Errorf("%q is not a known descriptor: use @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly or @every DURATION", spec)
		}
		s, err := Parse(d)
		if err != nil {
			return nil, err
		}
		s.expr = spec
		return s, nil
	}
	fs := strings.Fields(spec)
	if len(fs) == 5 {
		fs = append([]string{"0"}, fs...)
	}
	if len(fs) != 6 {
		return nil, fmt.Errorf("has %d fields: give 5 (minute hour day-of-month month day-of-week) or 6 (with seconds first), such as \"*/5 * * * *\"", len(strings.Fields(spec)))
	}
	s := &Schedule{expr: spec}
	var err error
	for _, f := range []struct {
		spec  string
		field field
		bits  *uint64
		any   *bool
	}{
		{fs[0], secondField, &s.sec, nil}, {fs[1], minuteField, &s.min, nil}, {fs[2], hourField, &s.hour, nil},
		{fs[3], domField, &s.dom, &s.domAny}, {fs[4], monthField, &s.month, nil}, {fs[5], dowField, &s.dow, &s.dowAny},
	} {
		var star bool
		if *f.bits, star, err = parseField(f.spec, f.field); err != nil {
			return nil, err
		}
		if f.any != nil {
			*f.any = star
		}
	}
	if s.dow&(1<<7) != 0 { // 7 is Sunday too
		s.dow = s.dow&^(1<<7) | 1
	}
	if !s.domAny && s.dowAny && !s.possibleDay() {
		return nil, fmt.Errorf("%q never fires: no month in it has such a day", spec)
	}
	return s, nil
}

// possibleDay reports whether some allowed month has an allowed day of
// month (February counted with 29 days).
func (s *Schedule) possibleDay() bool {
	for m := 1; m <= 12; m++ {
		if s.month&(1<<m) != 0 && s.dom&(1<<(daysIn(2024, time.Month(m))+1)-1) != 0 {
			return true
		}
	}
	return false
}

func parseEvery(spec, dur string) (*Schedule, error) {
	if dur == "" {
		return nil, errors.New(`@every needs a duration, such as "@every 30s" or "@every 1h30m"`)
	}
	d, err := time.ParseDuration(dur)
	if err != nil {
		return nil, fmt.Errorf("@every %q: not a duration: use Go's form, such as 30s, 5m or 1h30m", dur)
	}
	switch {
	case d < time.Second:
		return nil, fmt.Errorf("@every %s: the shortest interval is 1s", dur)
	case d%time.Second != 0:
		return nil, fmt.Errorf("@every %s: use whole seconds", dur)
	case d > MaxEvery:
		return nil, fmt.Errorf("@every %s: the longest interval is 100 years", dur)
	}
	return &Schedule{expr: spec, every: d}, nil
}

// parseField returns the bit set of a field's values, and whether it was
// written as * or ? (alone).
func parseField(spec string, f field) (uint64, bool, error) {
	if spec == "*" || spec == "?" {
		return span(f.min, f.max, 1), true, nil
	}
	var set uint64
	for part := range strings.SplitSeq(spec, ",") {
		b, err := parsePart(part, f)
		if err != nil {
			return 0, false, err
		}
		set |= b
	}
	return set, false, nil
}

func parsePart(part string, f field) (uint64, error) {
	rng, stepText, hasStep := strings.Cut(part, "/")
	step := 1
	if hasStep {
		n, err := strconv.Atoi(stepText)
		if err != nil || n < 1 || n > f.max {
			return 0, fmt.Errorf("%s field %q: the step after / must be a number from 1 to %d", f.name, part, f.max)
		}
		step = n
	}
	lo, hi := f.min, f.max
	if rng != "*" && rng != "?" {
		a, b, isRange := strings.Cut(rng, "-")
		var err error
		if lo, err = value(a, f, part); err != nil {
			return 0, err
		}
		switch {
		case isRange:
			if hi, err = value(b, f, part); err != nil {
				return 0, err
			}
			if hi < lo {
				return 0, fmt.Errorf("%s field %q: the range %d-%d ends before it starts", f.name, part, lo, hi)
			}
		case !hasStep:
			hi = lo
		}
	}
	return span(lo, hi, step), nil
}

func value(s string, f field, part string) (int, error) {
	for i, n := range f.names {
		if strings.EqualFold(s, n) {
			return f.min + i, nil
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < f.min || n > f.max || s == "" || s[0] == '+' || s[0] == '-' {
		hint := ""
		if f.names != nil {
			hint = " or a name such as " + strings.ToUpper(f.names[0])
		}
		return 0, fmt.Errorf("%s field %q: %q is not a number from %d to %d%s", f.name, part, s, f.min, f.max, hint)
	}
	return n, nil
}

func span(lo, hi, step int) uint64 {
	var b uint64
	for v := lo; v <= hi; v += step {
		b |= 1 << v
	}
	return b
}

func has(set uint64, v int) bool { return set&(1<<v) != 0 }

// next returns the smallest value ≥ v in set (and false when none).
func next(set uint64, v int) (int, bool) {
	rest := set >> v << v
	if rest == 0 {
		return 0, false
	}
	return bits.TrailingZeros64(rest), true
}

// nextOr is the smallest value of set at or above v, or past when there is
// none (a value past the field's range, which carries into the next field).
func nextOr(set uint64, v, past int) int {
	if n, ok := next(set, v); ok {
		return n
	}
	return past
}

func daysIn(year int, m time.Month) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func (s *Schedule) dayMatches(y int, m time.Month, d int) bool {
	dow := int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Weekday())
	domOK, dowOK := has(s.dom, d), has(s.dow, dow)
	if !s.domAny && !s.dowAny {
		return domOK || dowOK
	}
	return domOK && dowOK
}

// searchYears bounds the search for the next fire time (a 29 February
// that is also a given weekday recurs within 28 years).
const searchYears = 30

// Next returns the first fire time strictly after after, on the wall
// clock of loc (nil: UTC); the zero time when there is none within 30
// years. @every D fires at the multiples of D since the Unix epoch (so
// "@every 1h" fires at the top of every hour), whatever loc.
//
// Daylight saving time: a wall-clock time that does not exist (skipped
// when clocks go forward) fires once, shifted forward by the jump (02:30
// becomes 03:30); a wall-clock time that happens twice (when clocks go
// back) fires once, at its first occurrence. So a daily schedule fires
// once every day, and every fire time is a distinct instant.
func (s *Schedule) Next(after time.Time, loc *time.Location) time.Time {
	if s.every > 0 {
		d := s.every
		k := floorDiv(after.Unix(), int64(d/time.Second)) // Unix rounds down
		return time.Unix((k+1)*int64(d/time.Second), 0).UTC()
	}
	if loc == nil {
		loc = time.UTC
	}
	c := after.In(loc)
	y, mo, d := c.Date()
	h, mi, se := c.Clock()
	se++ // strictly after: from the next whole second
	limit := y + searchYears
	for y <= limit {
		// Normalize the civil time (carries).
		if se > 59 {
			se, mi = 0, mi+1
		}
		if mi > 59 {
			mi, h = 0, h+1
		}
		if h > 23 {
			h, d = 0, d+1
		}
		if d > daysIn(y, mo) {
			d, mo = 1, mo+1
		}
		if mo > 12 {
			mo, y = 1, y+1
			continue
		}
		if !has(s.month, int(mo)) {
			nm, ok := next(s.month, int(mo))
			if !ok {
				y++
				mo = time.Month(bits.TrailingZeros64(s.month))
			} else {
				mo = time.Month(nm)
			}
			d, h, mi, se = 1, 0, 0, 0
			continue
		}
		if !s.dayMatches(y, mo, d) {
			d, h, mi, se = d+1, 0, 0, 0
			continue
		}
		if !has(s.hour, h) {
			h = nextOr(s.hour, h, 24)
			mi, se = 0, 0
			continue
		}
		if !has(s.min, mi) {
			mi = nextOr(s.min, mi, 60)
			se = 0
			continue
		}
		if !has(s.sec, se) {
			se = nextOr(s.sec, se, 60)
			continue
		}
		if t := resolve(y, mo, d, h, mi, se, loc); t.After(after) {
			return t
		}
		se++
	}
	return time.Time{}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// resolve maps a wall-clock time of loc to the instant it fires at: the
// first of the instants that show it, or, for a time skipped by a jump
// forward, the instant it would have been with the offset before the jump.
func resolve(y int, mo time.Month, d, h, mi, se int, loc *time.Location) time.Time {
	naive := time.Date(y, mo, d, h, mi, se, 0, time.UTC)
	_, before := naive.Add(-26 * time.Hour).In(loc).Zone()
	_, after := naive.Add(26 * time.Hour).In(loc).Zone()
	var first time.Time
	for _, off := range []int{before, after} {
		t := naive.Add(-time.Duration(off) * time.Second)
		ly, lmo, ld := t.In(loc).Date()
		lh, lmi, lse := t.In(loc).Clock()
		if ly == y && lmo == mo && ld == d && lh == h && lmi == mi && lse == se && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	if first.IsZero() { // skipped by a jump forward
		first = naive.Add(-time.Duration(before) * time.Second)
	}
	return first.UTC()
}

// zones caches the zones loaded (a few hundred exist): the scheduler loads
// a schedule's zone at each fire.
var zones sync.Map

// LoadLocation loads an IANA time zone by name ("" is UTC). "Local" is
// refused: every process must compute the same fire times.
func LoadLocation(name string) (*time.Location, error) {
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	if strings.EqualFold(name, "local") {
		return nil, errors.New(`"Local" depends on the machine: name an IANA time zone such as "Europe/Paris", or UTC`)
	}
	if len(name) > 64 {
		return nil, errors.New("is not an IANA time zone: too long")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%q is not an IANA time zone: use a name such as \"America/New_York\" or \"UTC\"", name)
	}
	zones.Store(name, loc)
	return loc, nil
}
