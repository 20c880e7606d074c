package driverkit

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// stubTx answers TaskGet with errGet, begins itself and commits.
type stubTx struct{ taskerdriver.ExecutorTx }

var errGet = errors.New("get failed")

func (s stubTx) TaskGet(context.Context, int64) (*taskertype.Task, error) { return nil, errGet }

func (s stubTx) Begin(context.Context) (taskerdriver.ExecutorTx, error) { return s, nil }

func (stubTx) Commit(context.Context) error { return nil }

// Intercept passes each call through after with the method's name, and the
// caller gets after's error; a transaction begun is intercepted too.
func TestIntercept(t *testing.T) {
	t.Parallel()
	var seen []string
	errMapped := errors.New("mapped")
	ex := Intercept(stubTx{}, func(method string, err error) error {
		seen = append(seen, method)
		if err != nil {
			return errors.Join(errMapped, err)
		}
		return nil
	})
	_, err := ex.TaskGet(t.Context(), 1)
	require.ErrorIs(t, err, errMapped)
	require.ErrorIs(t, err, errGet)
	tx, err := ex.Begin(t.Context())
	require.NoError(t, err)
	require.NoError(t, tx.Commit(t.Context()))
	require.Equal(t, []string{"TaskGet", "Begin", "Commit"}, seen)
}

// Guard marks an outage of any method, in a transaction too.
func TestGuard(t *testing.T) {
	t.Parallel()
	ex := Guard(stubTx{}, func(err error) bool { return errors.Is(err, errGet) })
	_, err := ex.TaskGet(t.Context(), 1)
	require.ErrorIs(t, err, taskerdriver.ErrUnavailable)
	tx, err := ex.Begin(t.Context())
	require.NoError(t, err)
	_, err = tx.TaskGet(t.Context(), 1)
	require.ErrorIs(t, err, taskerdriver.ErrUnavailable)
	require.NoError(t, tx.Commit(t.Context()))
}
