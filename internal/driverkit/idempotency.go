package driverkit

import (
	"context"
	"fmt"

	"github.com/tasker-go/tasker/taskerdriver"
)

// IdempotencyKeys is a driver's SQL for CreateIdempotent, run inside the
// create's transaction on tasker_idempotency_keys.
type IdempotencyKeys interface {
	// ClaimKey deletes p's key when it is older than p.IdempotencySince or
	// its task was deleted, then inserts it (with p's request hash and no
	// task) unless it exists; it reports whether it inserted. A concurrent
	// create under the same key waits on the row until this transaction
	// ends.
	ClaimKey(ctx context.Context, p *taskerdriver.TaskCreateParams) (bool, error)
	// KeyTask reads the request hash and the task of a key that exists
	// (taskID 0: the key has no task).
	KeyTask(ctx context.Context, key string) (hash string, taskID int64, err error)
	// BindKey records the task created under key.
	BindKey(ctx context.Context, key string, taskID int64) error
}

// CreateIdempotent is TaskCreate: insert creates the task; with an
// idempotency key, a key already held within the window returns the task
// created under it (Existing and Replayed, with the hash of its first
// request), read with get.
func CreateIdempotent(ctx context.Context, k IdempotencyKeys, p *taskerdriver.TaskCreateParams,
	insert func() (*taskerdriver.TaskCreateResult, error), get func(id int64) (*taskerdriver.TaskCreateResult, error),
) (*taskerdriver.TaskCreateResult, error) {
	if p.IdempotencyKey == "" {
		return insert()
	}
	claimed, err := k.ClaimKey(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("store idempotency key: %w", err)
	}
	if !claimed {
		hash, taskID, err := k.KeyTask(ctx, p.IdempotencyKey)
		if err != nil {
			return nil, fmt.Errorf("read idempotency key: %w", err)
		}
		if taskID == 0 {
			return nil, fmt.Errorf("idempotency key %q has no task", p.IdempotencyKey)
		}
		res, err := get(taskID)
		if err != nil {
			return nil, fmt.Errorf("load task by idempotency key: %w", err)
		}
		res.Existing, res.Replayed, res.RequestHash = true, true, hash
		return res, nil
	}
	res, err := insert()
	if err != nil {
		return nil, err
	}
	if err := k.BindKey(ctx, p.IdempotencyKey, res.Task.ID); err != nil {
		return nil, fmt.Errorf("store idempotency key: %w", err)
	}
	return res, nil
}
