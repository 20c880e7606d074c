package tasker_test

import (
	"context"

	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
)

// Close stops the worker, ends the subscriptions (their channels close), is
// safe to call twice, refuses a later Start, and leaves the driver open: the
// client still reads the database after it.
func TestClientClose(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		e := newEnv(t, template("default", "close", "1.0.0", stepDef{name: "a"}))
		events, _ := e.client.Subscribe()
		changes, _ := e.client.SubscribeChanges()
		stopFunc := e.client.SubscribeFunc(func(_ context.Context, _ *tasker.Event) error { return nil })
		defer stopFunc()
		require.NoError(t, e.client.Start(e.ctx))
		task := e.create("close", nil)

		require.NoError(t, e.client.Close(e.ctx))
		require.NoError(t, e.client.Close(e.ctx), "a second Close is a no-op")
		for range events { //nolint:revive // drain until closed
		}
		for range changes { //nolint:revive // drain until closed
		}
		late, stop := e.client.Subscribe()
		stop()
		_, open := <-late
		require.False(t, open, "a subscription after Close is closed at once")

		require.ErrorIs(t, e.client.Start(e.ctx), tasker.ErrClientClosed)
		require.ErrorIs(t, e.client.RunUntilIdle(e.ctx), tasker.ErrClientClosed)
		got, err := e.client.GetTask(e.ctx, task.ID)
		require.NoError(t, err, "Close does not close the driver")
		require.Equal(t, task.ID, got.ID)
	})
}
