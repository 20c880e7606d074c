package driverkit

import (
	"context"

	"github.com/tasker-go/tasker/taskerdriver"
)

// RunInTx runs fn with cur when cur is in a transaction (inTx), or else in a
// new transaction from begin, committed when fn succeeds and rolled back
// when it fails. It is the write helper of every driver's executor.
func RunInTx[X taskerdriver.ExecutorTx](ctx context.Context, cur X, inTx bool, begin func(context.Context) (X, error), fn func(X) error) error {
	if inTx {
		return fn(cur)
	}
	x, err := begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(x); err != nil {
		_ = x.Rollback(ctx)
		return err
	}
	return x.Commit(ctx)
}

// Write runs fn through a driver's write helper and returns its value.
func Write[X, T any](ctx context.Context, write func(context.Context, func(X) error) error, fn func(X) (T, error)) (T, error) {
	var out T
	err := write(ctx, func(x X) error {
		var err error
		out, err = fn(x)
		return err
	})
	return out, err
}
