package driverkit

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadied(t *testing.T) {
	var r Readied
	require.False(t, r.Owed())
	r.Claimed([]int64{1}) // nothing readied: a no-op on the nil set
	r.Add(1, 2)
	require.True(t, r.Owed())
	r.Claimed([]int64{2, 3})
	require.True(t, r.Owed(), "step 1 is left to others")
	r.Claimed([]int64{1})
	require.False(t, r.Owed(), "every step readied was claimed by the transaction")
}

func TestReadiedBy(t *testing.T) {
	per, children := ReadiedBy([][2]int64{{10, 20}, {11, 20}, {10, 21}})
	require.Equal(t, map[int64]int{10: 2, 11: 1}, per)
	require.Equal(t, []int64{20, 21}, children)
	per, children = ReadiedBy(nil)
	require.Empty(t, per)
	require.Empty(t, children)
}
