package driverkit

import (
	"fmt"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

func TestMigrations(t *testing.T) {
	t.Parallel()
	ms, err := Migrations(fstest.MapFS{
		"m/002_b.sql": {Data: []byte("B")},
		"m/001_a.sql": {Data: []byte("A")},
		"m/010_c.sql": {Data: []byte("C")},
		"other/x.sql": {Data: []byte("X")},
	}, "m")
	require.NoError(t, err)
	require.Equal(t, []Migration{{1, "001_a.sql", "A"}, {2, "002_b.sql", "B"}, {10, "010_c.sql", "C"}}, ms)

	_, err = Migrations(fstest.MapFS{"m/1_a.sql": {}, "m/001_b.sql": {}}, "m")
	require.EqualError(t, err, "migrations 001_b.sql and 1_a.sql have the same version 1")
	_, err = Migrations(fstest.MapFS{"m/abc.sql": {}}, "m")
	require.EqualError(t, err, "migration abc.sql: name must be NNN_description.sql")
	_, err = Migrations(fstest.MapFS{"m/x_abc.sql": {}}, "m")
	require.ErrorContains(t, err, "migration x_abc.sql: strconv.Atoi")
}

func TestLinkEdges(t *testing.T) {
	t.Parallel()
	a, b, c := &taskertype.Step{ID: 1}, &taskertype.Step{ID: 2}, &taskertype.Step{ID: 3}
	LinkEdges([]*taskertype.Step{a, b, c}, [][2]int64{{1, 2}, {1, 3}, {2, 3}, {3, 9}})
	require.Equal(t, []int64{2, 3}, a.ChildIDs)
	require.Equal(t, []int64{1}, b.ParentIDs)
	require.Equal(t, []int64{1, 2}, c.ParentIDs)
	require.Equal(t, []int64{9}, c.ChildIDs)
}

func TestEarliest(t *testing.T) {
	t.Parallel()
	t1, t2 := time.Unix(10, 0), time.Unix(20, 0)
	require.Equal(t, t1, Earliest(t1, t2))
	require.Equal(t, t1, Earliest(t2, t1))
	require.Equal(t, t2, Earliest(time.Time{}, t2))
	require.Equal(t, t1, Earliest(t1, time.Time{}))
	require.True(t, Earliest(time.Time{}, time.Time{}).IsZero())
}

func TestSortKey(t *testing.T) {
	t.Parallel()
	require.Equal(t, 20, SortKey(2))
}

func TestTaskOrder(t *testing.T) {
	t.Parallel()
	order, limit, err := TaskOrder(&taskerdriver.TaskListParams{OrderBy: "status", Desc: true})
	require.NoError(t, err)
	require.Equal(t, " ORDER BY state DESC, task_id DESC", order)
	require.Equal(t, 50, limit)
	_, _, err = TaskOrder(&taskerdriver.TaskListParams{OrderBy: "1; DROP TABLE x"})
	require.Error(t, err)
}

type codeError struct{ code string }

func (e *codeError) Error() string { return "db: " + e.code }

func TestValueRejected(t *testing.T) {
	t.Parallel()
	rejects := func(e *codeError) (string, string, bool) { return "refused", e.code, e.code == "22003" }
	err := ValueRejected(fmt.Errorf("finish: %w", &codeError{"22003"}), rejects)
	require.ErrorIs(t, err, taskerdriver.ErrValueRejected)
	var vr *taskerdriver.ValueRejectedError
	require.ErrorAs(t, err, &vr)
	require.Equal(t, "22003", vr.Code)
	require.Equal(t, "finish: db: 22003", err.Error(), "the driver's message")
	require.Same(t, err, ValueRejected(err, rejects), "not wrapped twice")
	other := fmt.Errorf("x: %w", &codeError{"23505"})
	require.Same(t, other, ValueRejected(other, rejects))
	require.NoError(t, ValueRejected(nil, rejects))
}

func TestHub(t *testing.T) {
	t.Parallel()
	var h Hub
	ch, stop := h.Subscribe("a")
	h.Notify("a")
	h.Notify("a") // coalesced, never blocks
	<-ch
	select {
	case <-ch:
		t.Fatal("two wake-ups")
	default:
	}
	stop()
	h.Notify("a")
	select {
	case <-ch:
		t.Fatal("woken after unsubscribing")
	default:
	}
}

// Tags and permissions are JSON lists of strings, never null in a column
// and never nil once read; a bad column names the row.
func TestStringLists(t *testing.T) {
	t.Parallel()
	for _, in := range [][]string{nil, {}} {
		perms, err := PermissionsJSON(in)
		require.NoError(t, err)
		require.Equal(t, "[]", perms)
		tags, ctx, err := TaskJSON(&taskerdriver.TaskCreateParams{Tags: in})
		require.NoError(t, err)
		require.Equal(t, "[]", tags)
		require.Equal(t, "{}", ctx)
	}
	for _, col := range []string{"null", "[]"} {
		tok := &taskerdriver.Token{ID: 7}
		require.NoError(t, ScannedToken(tok, []byte(col)))
		require.Equal(t, []string{}, tok.Permissions)
		task := &taskertype.Task{ID: 8}
		require.NoError(t, ScannedTask(task, []byte(col)))
		require.Equal(t, []string{}, task.Tags)
	}
	tok := &taskerdriver.Token{ID: 7}
	require.NoError(t, ScannedToken(tok, []byte(`["task:read"]`)))
	require.Equal(t, []string{"task:read"}, tok.Permissions)
	require.ErrorContains(t, ScannedToken(&taskerdriver.Token{ID: 7}, []byte(`{`)), "api token 7 permissions")
	require.ErrorContains(t, ScannedTask(&taskertype.Task{ID: 8}, []byte(`"x"`)), "task 8 tags")
}

// TokenAny runs TokenAnyQuery and names the driver in its error.
func TestTokenAny(t *testing.T) {
	t.Parallel()
	var got string
	ok, err := TokenAny("sqlite", func(q string) (bool, error) { got = q; return true, nil })
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, TokenAnyQuery, got)
	_, err = TokenAny("postgres", func(string) (bool, error) { return true, fmt.Errorf("boom") })
	require.EqualError(t, err, "postgres: token any: boom")
}
