package taskerexec_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskerexec"
	"github.com/tasker-go/tasker/taskertype"
)

// The handler runs the command with the step's document on stdin and takes
// its JSON stdout as the result; a failure carries the stderr tail as detail
// text, and a bad config is permanent.
func TestHandler(t *testing.T) {
	h := taskerexec.Handler{}
	require.True(t, h.UsesExactConfig())
	step := func(cfg map[string]any) *tasker.StepContext {
		return &tasker.StepContext{Task: &taskertype.Task{ID: 3, Name: "t", Context: json.RawMessage(`{"n": 2}`)},
			Step: &taskertype.Step{ID: 5, Name: "s"}, Attempt: 1, Config: cfg}
	}
	out, err := h.Handle(t.Context(), step(map[string]any{"command": []any{"sh", "-c", `cat >/dev/null; echo '{"ok": true}'`}}))
	require.NoError(t, err)
	require.JSONEq(t, `{"ok": true}`, string(out.(json.RawMessage)))

	_, err = h.Handle(t.Context(), step(map[string]any{"command": []any{"sh", "-c", "echo broken >&2; exit 3"}}))
	require.Error(t, err)
	require.False(t, tasker.IsPermanent(err))
	var dt tasker.DetailTextError
	require.True(t, errors.As(err, &dt))
	require.Contains(t, dt.DetailText(), "broken")

	_, err = h.Handle(t.Context(), step(map[string]any{"colour": "red"}))
	require.True(t, tasker.IsPermanent(err))
	require.Error(t, h.ValidateConfig(map[string]any{"colour": "red"}))
}
