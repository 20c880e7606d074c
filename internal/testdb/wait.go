package testdb

import (
	"testing"
	"time"
)

// WaitUntil polls cond every 20ms until it holds, failing the test after
// 30s with what it waited for: for effects that no signal announces (a
// delivery that another process or server receives).
func WaitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
