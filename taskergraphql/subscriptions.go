package taskergraphql

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tasker-go/tasker/taskergraphql/internal/model"
	"github.com/tasker-go/tasker/taskersub"
)

// TaskUpdated sends the task now, then again whenever it or one of its
// steps changes: at once for a change made through this process (the
// change feed), and within Config.PollInterval for one made by another
// process (it re-reads the task and its steps, and sends only what
// changed).
func (r *subscriptionResolver) TaskUpdated(ctx context.Context, taskID string) (<-chan *model.Task, error) {
	if err := r.cfg.allow(ctx, PermTaskShow); err != nil {
		return nil, err
	}
	id, err := parseID("taskId", taskID)
	if err != nil {
		return nil, err
	}
	release, err := r.cfg.openSubscription(ctx)
	if err != nil {
		return nil, err
	}
	first, err := r.read(ctx, id)
	if err != nil {
		release()
		return nil, err
	}
	changes, stop := r.c.SubscribeChanges()
	out := make(chan *model.Task, 1)
	out <- first.task
	go func() {
		defer close(out)
		defer release()
		defer stop()
		tick := time.NewTicker(r.cfg.PollInterval)
		defer tick.Stop()
		last := first.mark
		for {
			select {
			case <-ctx.Done():
				return
			case ch, ok := <-changes:
				if !ok {
					return
				}
				if ch.Task == nil || ch.Task.ID != id {
					continue
				}
			case <-tick.C:
			}
			s, err := r.read(ctx, id)
			if err != nil {
				if ctx.Err() == nil {
					r.cfg.Logger.WarnContext(ctx, "graphql: taskUpdated could not read the task", "task_id", id, "error", err)
				}
				continue
			}
			if slices.Equal(s.mark, last) {
				continue
			}
			last = s.mark
			select {
			case out <- s.task:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// snapshot is a task as read, with its steps already loaded for its view,
// and the mark that tells whether anything changed since.
type snapshot struct {
	task *model.Task
	mark []string
}

func (r *subscriptionResolver) read(ctx context.Context, id int64) (*snapshot, error) {
	t, err := r.c.GetTask(ctx, id)
	if err != nil {
		return nil, err
	}
	steps, err := r.c.ListStepsOfTasks(ctx, []int64{id}, nil)
	if err != nil {
		return nil, err
	}
	mt := model.NewTask(t)
	b := mt.Batch
	b.StepsOnce.Do(func() { // the view's workflowSteps are these
		b.Steps = map[int64][]*model.Step{}
		for _, s := range steps {
			b.Steps[id] = append(b.Steps[id], &model.Step{S: s, Task: mt})
		}
	})
	mark := []string{string(t.State), t.UpdatedAt.String()}
	for _, s := range steps {
		mark = append(mark, string(s.State), s.UpdatedAt.String())
	}
	return &snapshot{task: mt, mark: mark}, nil
}

// Events sends the events this process publishes whose names match filter
// (all when empty), as Go subscribers see them (tasker.Client.Subscribe).
func (r *subscriptionResolver) Events(ctx context.Context, filter []string) (<-chan *model.Event, error) {
	if err := r.cfg.allow(ctx, PermEventIndex); err != nil {
		return nil, err
	}
	for _, p := range filter {
		if err := taskersub.ValidPattern(p); err != nil {
			return nil, inputError("filter", err.Error())
		}
	}
	release, err := r.cfg.openSubscription(ctx)
	if err != nil {
		return nil, err
	}
	events, stop := r.c.Subscribe(filter...)
	out := make(chan *model.Event, 16)
	go func() {
		defer close(out)
		defer release()
		defer stop()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-events:
				if !ok {
					return
				}
				select {
				case out <- model.NewEvent(ev):
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

// wsConn is the state of one WebSocket connection: its subscriptions.
type wsConn struct{ subs atomic.Int64 }

type wsConnKey struct{}

// openSubscription counts a subscription against its connection's
// MaxSubscriptions; release ends it (once).
func (c *Config) openSubscription(ctx context.Context) (release func(), err error) {
	conn, _ := ctx.Value(wsConnKey{}).(*wsConn)
	if conn == nil {
		return func() {}, nil
	}
	if conn.subs.Add(1) > int64(c.MaxSubscriptions) {
		conn.subs.Add(-1)
		return nil, codeError(CodeBadUserInput, "at most "+strconv.Itoa(c.MaxSubscriptions)+
			" subscriptions may run on one connection: complete one before starting another", nil)
	}
	var once sync.Once
	return func() { once.Do(func() { conn.subs.Add(-1) }) }, nil
}
