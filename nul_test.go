package tasker_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/internal/testdb"
	"github.com/tasker-go/tasker/taskertype"
)

// PostgreSQL cannot store a NUL character (U+0000) in jsonb or text; SQLite
// can. A handler's result, error or custom event holding one is stored with
// U+FFFD instead (before, on PostgreSQL, the worker's recording transaction
// failed on every pass and the worker stopped making progress); input with
// one is refused with a field error on both databases.
func TestNULCharacters(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		tmpl := &tasker.TaskTemplate{Name: "nul", Steps: []tasker.StepTemplate{
			{Name: "result", Handler: "nul_result", CustomEvents: []tasker.CustomEvent{{Name: "nul.seen", Description: "a payload with NUL"}}},
			{Name: "failure", Handler: "nul_failure", RetryLimit: 1},
			{Name: "latin1", Handler: "raw_result"},
		}}
		e := newEnv(t)
		e.reg.MustRegisterHandler("nul_result", tasker.StepHandlerFunc(func(_ context.Context, s *tasker.StepContext) (any, error) {
			if err := s.Publish("nul.seen", map[string]string{"v": "a\x00b"}); err != nil {
				return nil, err
			}
			return map[string]string{"v": "x\x00y", "k\x00": "z"}, nil
		}))
		e.reg.MustRegisterHandler("nul_failure", tasker.StepHandlerFunc(func(context.Context, *tasker.StepContext) (any, error) {
			return nil, errors.New("bad byte \x00 here")
		}))
		// Raw JSON as an API or a command may give it: json.Valid accepts
		// Latin-1 bytes and a lone surrogate; PostgreSQL does not.
		e.reg.MustRegisterHandler("raw_result", tasker.StepHandlerFunc(func(context.Context, *tasker.StepContext) (any, error) {
			return json.RawMessage("{\"name\":\"Jos\xe9\",\"s\":\"\\ud83d\"}"), nil
		}))
		require.NoError(t, e.reg.RegisterTemplate(tmpl, tasker.RegisterOptions{}))
		task := e.create("nul", nil)
		e.singlePass()
		steps := e.steps(task.ID)
		require.Equal(t, taskertype.StateComplete, steps["result"].State)
		require.JSONEq(t, `{"v":"x\ufffdy","k\ufffd":"z"}`, string(steps["result"].Results))
		require.Equal(t, taskertype.StateComplete, steps["latin1"].State)
		require.JSONEq(t, `{"name":"Jos\ufffd","s":"\ufffd"}`, string(steps["latin1"].Results))
		require.Equal(t, taskertype.StateError, steps["failure"].State)
		require.Equal(t, "bad byte \uFFFD here", steps["failure"].LastError.Message)
		require.Equal(t, taskertype.StateError, e.task(task.ID).State, "the worker went on and finalized the task")

		_, err := e.client.CreateTask(e.ctx, &tasker.TaskRequest{Name: "nul", Context: json.RawMessage(`{"a":"\u0000"}`), Tags: []string{"t\x00"}})
		var ve *tasker.ValidationError
		require.True(t, errors.As(err, &ve), "%v", err)
		msg := `holds a NUL character (U+0000, "\u0000" in JSON), bytes that are not UTF-8 or half of a UTF-16 surrogate pair ("\ud83d" alone), which cannot be stored: remove or fix it`
		require.Equal(t, map[string]string{"context": msg, "tags": msg}, ve.Fields)
		_, err = e.client.CreateTask(e.ctx, &tasker.TaskRequest{Name: "nul", Context: json.RawMessage(`{"a":"\\u0000 is fine escaped"}`)})
		require.NoError(t, err)
		_, err = e.client.CreateTask(e.ctx, &tasker.TaskRequest{Name: "nul", Context: json.RawMessage(`{"a":"\ud83d half an emoji"}`), Initiator: "Jos\xe9"})
		require.True(t, errors.As(err, &ve), "%v", err)
		require.Equal(t, map[string]string{"context": msg, "initiator": msg}, ve.Fields)
		_, err = e.client.ResolveStep(e.ctx, steps["failure"].ID, map[string]string{"v": "\x00"}, "")
		require.True(t, errors.As(err, &ve), "%v", err)
		require.Equal(t, map[string]string{"results": msg}, ve.Fields)
		_, err = e.client.UpdateStep(e.ctx, steps["failure"].ID, nil, json.RawMessage(`"\u0000"`))
		require.True(t, errors.As(err, &ve), "%v", err)
		_, err = e.client.ResolveStep(e.ctx, steps["failure"].ID, nil, "note with \x00")
		require.NoError(t, err, "a note is cleaned, not refused")
	})
}

// A result the database refuses (PostgreSQL: a number beyond numeric's
// range) fails its step permanently with the reason, instead of stalling
// the worker; the other results of the pass are recorded. SQLite stores it.
func TestUnstorableResult(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T) {
		tmpl := &tasker.TaskTemplate{Name: "big", Steps: []tasker.StepTemplate{{Name: "big", Handler: "big"}, {Name: "fine", Handler: "test"}}}
		e := newEnv(t)
		e.reg.MustRegisterHandler("big", tasker.StepHandlerFunc(func(context.Context, *tasker.StepContext) (any, error) {
			return json.RawMessage(`{"n": 1e1000000}`), nil
		}))
		require.NoError(t, e.reg.RegisterTemplate(tmpl, tasker.RegisterOptions{}))
		task := e.create("big", nil)
		require.NoError(t, e.client.RunUntilIdle(e.ctx), "the worker is not stalled")
		steps := e.steps(task.ID)
		require.Equal(t, taskertype.StateComplete, steps["fine"].State)
		if testdb.DriverOf(t) == "sqlite" {
			require.Equal(t, taskertype.StateComplete, steps["big"].State)
			return
		}
		require.Equal(t, taskertype.StateError, steps["big"].State)
		require.True(t, steps["big"].Blocked)
		require.Contains(t, steps["big"].LastError.Message, "the database refused the step's result or error, so it was not stored")
		require.Contains(t, steps["big"].LastError.Message, "SQLSTATE 22003")
		require.Equal(t, taskertype.StateError, e.task(task.ID).State)
		e.checkAudit(task.ID)
	})
}
