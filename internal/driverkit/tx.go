package driverkit

import (
	"context"
	"errors"
	"fmt"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// RunInTx runs fn with cur when cur is in a transaction (inTx), or else in a
// new transaction from begin, committed when fn succeeds and rolled back
// when it fails. It is the write helper of every driver's executor.
func RunInTx[X taskerdriver.ExecutorTx](ctx context.Context, cur X, inTx bool, begin func(context.Context) (taskerdriver.ExecutorTx, error), fn func(X) error) error {
	if inTx {
		return fn(cur)
	}
	tx, err := begin(ctx)
	if err != nil {
		return err
	}
	x := tx.(X)
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

// Run runs fn (a procedure of this package, given the driver's SQL) through
// a driver's write helper; an error names the driver.
func Run[X, T any](ctx context.Context, driver string, write func(context.Context, func(X) error) error, fn func(X) (T, error)) (T, error) {
	return Write(ctx, write, func(x X) (T, error) {
		v, err := fn(x)
		if err != nil {
			return v, fmt.Errorf("%s: %w", driver, err)
		}
		return v, nil
	})
}

// SeqStep is a step read with its transition sequence.
type SeqStep struct {
	Step *taskertype.Step
	Seq  int
}

// UnzipSteps splits steps read with their transition sequences.
func UnzipSteps(rows []SeqStep) ([]*taskertype.Step, []int) {
	steps, seqs := make([]*taskertype.Step, len(rows)), make([]int, len(rows))
	for i, r := range rows {
		steps[i], seqs[i] = r.Step, r.Seq
	}
	return steps, seqs
}

// One returns the first of a list read by id, or ErrNotFound when it is
// empty.
func One[T any](list []T, err error) (T, error) {
	var zero T
	if err != nil {
		return zero, err
	}
	if len(list) == 0 {
		return zero, taskerdriver.ErrNotFound
	}
	return list[0], nil
}

// ValueRejected returns err as a *taskerdriver.ValueRejectedError when the
// database's error E in its chain is the refusal of a value, which rejects
// tells (with the database's reason and code); else err as it is.
func ValueRejected[E error](err error, rejects func(E) (reason, code string, ok bool)) error {
	var dbErr E
	if err == nil || errors.Is(err, taskerdriver.ErrValueRejected) || !errors.As(err, &dbErr) {
		return err
	}
	if reason, code, ok := rejects(dbErr); ok {
		return &taskerdriver.ValueRejectedError{Reason: reason, Code: code, Err: err}
	}
	return err
}

// Kit is what a driver gives the procedures of this package.
type Kit interface {
	Finisher
	StepMover
	TaskMover
}

// ScanRows scans the rows of a result with scan while next reports one;
// the caller closes the rows and checks their error.
func ScanRows[R, T any](rows R, next func() bool, scan func(R) (T, error)) ([]T, error) {
	var out []T
	for next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
