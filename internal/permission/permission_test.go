package permission_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/permission"
)

func TestProblem(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"*", "tasker.task:index", "tasker.task:*", "tasker.dead_letter:replay", "my-app.thing:do", "A.b_c-9:X_y-1",
		"a:" + strings.Repeat("b", permission.MaxLen-2)} {
		require.Empty(t, permission.Problem(ok), ok)
		require.True(t, permission.Valid(ok), ok)
	}
	bad := map[string]string{
		"":                    "is empty",
		"tasker.task":         "has no colon",
		"admin":               "has no colon",
		":index":              "invalid resource",
		"tasker.task:":        "invalid action",
		"tasker task:index":   "invalid resource",
		"tasker.task:in dex":  "invalid action",
		"tasker.*:index":      "invalid resource",
		"*:index":             "invalid resource",
		"tasker.task:a:b":     "invalid action",
		"tasker.task:ind*":    "invalid action",
		"tasker.task:a.b":     "invalid action",
		"tasker.task:index\n": "invalid action",
		"tasker.task:ïndex":   "invalid action",
		"**":                  "has no colon",
		"a:" + strings.Repeat("b", permission.MaxLen-1): "longer than 128 bytes",
	}
	for s, want := range bad {
		msg := permission.Problem(s)
		require.Contains(t, msg, want, "%q", s)
		require.Contains(t, msg, `"resource:action"`, "%q: the message shows the form", s)
		require.False(t, permission.Valid(s))
	}
}

func TestSplit(t *testing.T) {
	t.Parallel()
	r, a, ok := permission.Split("tasker.task:*")
	require.True(t, ok)
	require.Equal(t, []string{"tasker.task", "*"}, []string{r, a})
	for _, s := range []string{"*", "tasker.task", "a:b:c", ""} {
		_, _, ok := permission.Split(s)
		require.False(t, ok, s)
	}
}
