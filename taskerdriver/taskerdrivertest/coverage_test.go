package taskerdrivertest

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerdriver"
)

// The coverage check names every ExecutorTx method not recorded, and the
// recording executor records every one of them.
func TestUncovered(t *testing.T) {
	t.Parallel()
	c := newCalls()
	typ := reflect.TypeFor[taskerdriver.ExecutorTx]()
	require.Len(t, uncovered(c), typ.NumMethod())
	for i := range typ.NumMethod() {
		if name := typ.Method(i).Name; name != "StepList" {
			c.add(name)
		}
	}
	require.Equal(t, []string{"StepList"}, uncovered(c))
	c.add("StepList")
	require.Empty(t, uncovered(c))

	rec := reflect.TypeOf(record(noTx{}, newCalls()))
	for i := range typ.NumMethod() {
		m, ok := rec.MethodByName(typ.Method(i).Name)
		require.True(t, ok)
		require.Equal(t, typ.Method(i).Type.NumIn()+1, m.Type.NumIn(), "%s", m.Name)
	}
}
