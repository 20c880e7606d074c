package names

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEnvVar(t *testing.T) {
	for s, want := range map[string]bool{
		"API_TOKEN": true, "_x": true, "a1": true, "Z": true,
		"": false, "1A": false, "A-B": false, "A B": false, "Ä": false, "A.B": false,
	} {
		require.Equal(t, want, EnvVar(s), "%q", s)
	}
}

func TestDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"", "abc", 3}, {"kitten", "sitting", 3},
		{"flaw", "lawn", 2}, {"same", "same", 0}, {"step_a", "step_b", 1},
	} {
		exact := max(len(c.a), len(c.b)) + 1
		require.Equal(t, c.want, Distance(c.a, c.b, exact), "%q %q", c.a, c.b)
		require.Equal(t, c.want, Distance(c.b, c.a, exact), "%q %q reversed", c.a, c.b)
		// A bound at or below the distance reports at least the bound; one
		// above it the exact distance.
		if c.want > 0 {
			require.GreaterOrEqual(t, Distance(c.a, c.b, c.want), c.want)
			require.GreaterOrEqual(t, Distance(c.a, c.b, c.want-1), c.want-1)
		}
		require.Equal(t, c.want, Distance(c.a, c.b, c.want+1), "%q %q bound %d", c.a, c.b, c.want+1)
	}
	// The length difference alone settles it.
	require.Equal(t, 2, Distance("a", "abcdef", 2))
}
