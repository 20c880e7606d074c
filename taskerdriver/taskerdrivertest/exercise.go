package taskerdrivertest

import (
	"flag"
	"reflect"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerdriver"
)

// Exercise runs the conformance suite against drivers made by newDriver,
// then checks that the cases called every method of taskerdriver.ExecutorTx
// (a method without a case fails the suite).
func Exercise(t *testing.T, newDriver func(t *testing.T) taskerdriver.Driver) {
	t.Helper()
	s := &suite{newDriver: newDriver, calls: newCalls()}
	t.Run("Cases", func(t *testing.T) {
		s.tasks(t)
		s.steps(t)
		s.batches(t)
		s.fastPath(t)
		s.finishAndClaim(t)
		s.createAndClaim(t)
		s.service(t)
		s.tokens(t)
		s.annotations(t)
		s.workers(t)
		s.templates(t)
		s.analytics(t)
		s.schedules(t)
		s.unavailable(t)
	})
	t.Run("EveryExecutorMethodHasACase", func(t *testing.T) {
		if f := flag.Lookup("test.run"); f != nil && f.Value.String() != "" {
			t.Skip("a -run filter selects some cases only")
		}
		require.Empty(t, uncovered(s.calls), "Executor methods that no conformance case calls: add a case")
	})
}

// uncovered returns the methods of taskerdriver.ExecutorTx that were never
// recorded.
func uncovered(c *calls) []string {
	typ := reflect.TypeFor[taskerdriver.ExecutorTx]()
	var out []string
	for i := range typ.NumMethod() {
		if name := typ.Method(i).Name; !c.has(name) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}
