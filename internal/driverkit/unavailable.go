package driverkit

import (
	"context"
	"errors"

	"github.com/tasker-go/tasker/taskerdriver"
)

// Unavailable wraps err in a *taskerdriver.UnavailableError when down
// reports that it means the database cannot be reached or did not answer
// in time, or when err is a passed context deadline; any other error (and
// nil, and an error already marked) is returned as is. A cancelled context
// is not an outage: its error stays as it is.
func Unavailable(err error, down func(error) bool) error {
	if err == nil || errors.Is(err, taskerdriver.ErrUnavailable) || errors.Is(err, context.Canceled) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) || down(err) {
		return &taskerdriver.UnavailableError{Err: err}
	}
	return err
}

// Guard returns ex with every error of its methods passed through
// Unavailable(err, down), the transactions it begins guarded too: the one
// place where a driver marks its outages, whatever method meets them.
func Guard(ex taskerdriver.ExecutorTx, down func(error) bool) taskerdriver.ExecutorTx {
	return Intercept(ex, func(_ string, err error) error { return Unavailable(err, down) })
}
