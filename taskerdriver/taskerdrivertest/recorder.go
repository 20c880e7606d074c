package taskerdrivertest

import (
	"context"
	"errors"
	"sync"

	"github.com/tasker-go/tasker/internal/driverkit"
	"github.com/tasker-go/tasker/taskerdriver"
)

// calls records the names of the Executor methods the cases call.
type calls struct {
	mu    sync.Mutex
	names map[string]bool
}

func newCalls() *calls { return &calls{names: map[string]bool{}} }

func (c *calls) add(name string) {
	c.mu.Lock()
	c.names[name] = true
	c.mu.Unlock()
}

func (c *calls) has(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.names[name]
}

// record wraps ex (in a transaction or not) in an executor that records
// the name of each method called, then returns the driver's answer. Every
// method of taskerdriver.ExecutorTx is recorded (driverkit.Intercept
// intercepts them all), so the suite's coverage check fails until a case
// calls a method added to the seam.
func record(ex taskerdriver.Executor, c *calls) taskerdriver.ExecutorTx {
	tx, ok := ex.(taskerdriver.ExecutorTx)
	if !ok {
		tx = noTx{ex}
	}
	return driverkit.Intercept(tx, func(method string, err error) error {
		c.add(method)
		return err
	})
}

// noTx is an executor outside a transaction seen as an ExecutorTx.
type noTx struct{ taskerdriver.Executor }

var errNoTx = errors.New("not in a transaction")

func (noTx) Commit(context.Context) error   { return errNoTx }
func (noTx) Rollback(context.Context) error { return errNoTx }
