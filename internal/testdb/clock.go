package testdb

import (
	"sync"
	"time"
)

// Clock is a settable clock for tests: inject its Now as a component's
// clock, then move time with Advance instead of sleeping.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// Base is a start for tests' clocks: whole seconds, which both databases
// keep.
var Base = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
