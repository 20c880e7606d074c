package driverkit

import (
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"

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
