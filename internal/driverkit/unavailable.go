package driverkit

import (
	"context"
	"errors"
	"time"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
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
	return &guarded{ex: ex, down: down}
}

// guarded is an executor whose errors are marked by Unavailable. It holds
// the driver's executor in a field, not embedded: a method added to
// taskerdriver.Executor fails to compile here until it is guarded too.
type guarded struct {
	ex   taskerdriver.ExecutorTx
	down func(error) bool
}

var _ taskerdriver.ExecutorTx = (*guarded)(nil)

func (g *guarded) m(err error) error { return Unavailable(err, g.down) }

func (g *guarded) Begin(ctx context.Context) (taskerdriver.ExecutorTx, error) {
	tx, err := g.ex.Begin(ctx)
	if err != nil {
		return nil, g.m(err)
	}
	return Guard(tx, g.down), nil
}

func (g *guarded) TaskCreate(ctx context.Context, p *taskerdriver.TaskCreateParams) (*taskerdriver.TaskCreateResult, error) {
	v, err := g.ex.TaskCreate(ctx, p)
	return v, g.m(err)
}

func (g *guarded) TaskGet(ctx context.Context, id int64) (*taskertype.Task, error) {
	v, err := g.ex.TaskGet(ctx, id)
	return v, g.m(err)
}

func (g *guarded) TaskList(ctx context.Context, p *taskerdriver.TaskListParams) ([]*taskertype.Task, int, error) {
	v, w, err := g.ex.TaskList(ctx, p)
	return v, w, g.m(err)
}

func (g *guarded) TaskSetStateMany(ctx context.Context, ps []*taskerdriver.TaskSetStateParams) ([]*taskertype.Task, error) {
	v, err := g.ex.TaskSetStateMany(ctx, ps)
	return v, g.m(err)
}

func (g *guarded) TaskUpdate(ctx context.Context, p *taskerdriver.TaskUpdateParams) (*taskertype.Task, error) {
	v, err := g.ex.TaskUpdate(ctx, p)
	return v, g.m(err)
}

func (g *guarded) StepGet(ctx context.Context, id int64) (*taskertype.Step, error) {
	v, err := g.ex.StepGet(ctx, id)
	return v, g.m(err)
}

func (g *guarded) StepList(ctx context.Context, p *taskerdriver.StepListParams) ([]*taskertype.Step, error) {
	v, err := g.ex.StepList(ctx, p)
	return v, g.m(err)
}

func (g *guarded) StepClaim(ctx context.Context, p *taskerdriver.StepClaimParams) ([]*taskerdriver.ClaimedStep, error) {
	v, err := g.ex.StepClaim(ctx, p)
	return v, g.m(err)
}

func (g *guarded) StepFinishMany(ctx context.Context, ps []*taskerdriver.StepFinishParams) ([]taskerdriver.StepFinishOutcome, error) {
	v, err := g.ex.StepFinishMany(ctx, ps)
	return v, g.m(err)
}

func (g *guarded) StepSetState(ctx context.Context, p *taskerdriver.StepSetStateParams) ([]*taskertype.Step, error) {
	v, err := g.ex.StepSetState(ctx, p)
	return v, g.m(err)
}

func (g *guarded) StepUpdate(ctx context.Context, p *taskerdriver.StepUpdateParams) (*taskertype.Step, error) {
	v, err := g.ex.StepUpdate(ctx, p)
	return v, g.m(err)
}

func (g *guarded) StepHeartbeat(ctx context.Context, p *taskerdriver.StepHeartbeatParams) ([]int64, error) {
	v, err := g.ex.StepHeartbeat(ctx, p)
	return v, g.m(err)
}

func (g *guarded) StepListExpired(ctx context.Context, p *taskerdriver.StepListExpiredParams) ([]*taskertype.Step, error) {
	v, err := g.ex.StepListExpired(ctx, p)
	return v, g.m(err)
}

func (g *guarded) StepNextWake(ctx context.Context, p *taskerdriver.StepNextWakeParams) (time.Time, error) {
	v, err := g.ex.StepNextWake(ctx, p)
	return v, g.m(err)
}

func (g *guarded) TransitionList(ctx context.Context, p *taskerdriver.TransitionListParams) ([]*taskertype.Transition, error) {
	v, err := g.ex.TransitionList(ctx, p)
	return v, g.m(err)
}

func (g *guarded) TaskProgressMany(ctx context.Context, ids []int64) (map[int64]*taskerdriver.TaskWithProgress, error) {
	v, err := g.ex.TaskProgressMany(ctx, ids)
	return v, g.m(err)
}

func (g *guarded) TaskDeleteFinished(ctx context.Context, p *taskerdriver.TaskDeleteFinishedParams) (int, error) {
	v, err := g.ex.TaskDeleteFinished(ctx, p)
	return v, g.m(err)
}

func (g *guarded) LeaderAttempt(ctx context.Context, p *taskerdriver.LeaderAttemptParams) (bool, error) {
	v, err := g.ex.LeaderAttempt(ctx, p)
	return v, g.m(err)
}

func (g *guarded) LeaderResign(ctx context.Context, p *taskerdriver.LeaderAttemptParams) error {
	return g.m(g.ex.LeaderResign(ctx, p))
}

func (g *guarded) OutboxInsert(ctx context.Context, ps []*taskerdriver.OutboxInsertParams) error {
	return g.m(g.ex.OutboxInsert(ctx, ps))
}

func (g *guarded) OutboxClaim(ctx context.Context, p *taskerdriver.OutboxClaimParams) ([]*taskertype.OutboxMessage, error) {
	v, err := g.ex.OutboxClaim(ctx, p)
	return v, g.m(err)
}

func (g *guarded) OutboxFinish(ctx context.Context, p *taskerdriver.OutboxFinishParams) error {
	return g.m(g.ex.OutboxFinish(ctx, p))
}

func (g *guarded) OutboxList(ctx context.Context, p *taskerdriver.OutboxListParams) ([]*taskertype.OutboxMessage, error) {
	v, err := g.ex.OutboxList(ctx, p)
	return v, g.m(err)
}

func (g *guarded) OutboxReplay(ctx context.Context, p *taskerdriver.OutboxReplayParams) (int, error) {
	v, err := g.ex.OutboxReplay(ctx, p)
	return v, g.m(err)
}

func (g *guarded) HealthCounts(ctx context.Context, now time.Time) (*taskerdriver.HealthCounts, error) {
	v, err := g.ex.HealthCounts(ctx, now)
	return v, g.m(err)
}

func (g *guarded) TokenInsert(ctx context.Context, p *taskerdriver.TokenInsertParams) (*taskerdriver.Token, error) {
	v, err := g.ex.TokenInsert(ctx, p)
	return v, g.m(err)
}

func (g *guarded) TokenGet(ctx context.Context, lookupID string) (*taskerdriver.Token, error) {
	v, err := g.ex.TokenGet(ctx, lookupID)
	return v, g.m(err)
}

func (g *guarded) TokenList(ctx context.Context, p *taskerdriver.TokenListParams) ([]*taskerdriver.Token, error) {
	v, err := g.ex.TokenList(ctx, p)
	return v, g.m(err)
}

func (g *guarded) TokenRevoke(ctx context.Context, p *taskerdriver.TokenRevokeParams) (*taskerdriver.Token, error) {
	v, err := g.ex.TokenRevoke(ctx, p)
	return v, g.m(err)
}

func (g *guarded) TokenAny(ctx context.Context) (bool, error) {
	v, err := g.ex.TokenAny(ctx)
	return v, g.m(err)
}

func (g *guarded) AnnotationInsert(ctx context.Context, p *taskerdriver.AnnotationInsertParams) (*taskertype.TaskAnnotation, error) {
	v, err := g.ex.AnnotationInsert(ctx, p)
	return v, g.m(err)
}

func (g *guarded) AnnotationList(ctx context.Context, p *taskerdriver.AnnotationListParams) ([]*taskertype.TaskAnnotation, error) {
	v, err := g.ex.AnnotationList(ctx, p)
	return v, g.m(err)
}

func (g *guarded) AnnotationTypeList(ctx context.Context) ([]*taskertype.AnnotationType, error) {
	v, err := g.ex.AnnotationTypeList(ctx)
	return v, g.m(err)
}

func (g *guarded) Notify(ctx context.Context, topic string) error {
	return g.m(g.ex.Notify(ctx, topic))
}

func (g *guarded) Commit(ctx context.Context) error {
	return g.m(g.ex.Commit(ctx))
}

func (g *guarded) Rollback(ctx context.Context) error {
	return g.m(g.ex.Rollback(ctx))
}

func (g *guarded) WorkerSeen(ctx context.Context, p *taskerdriver.WorkerSeenParams) error {
	return g.m(g.ex.WorkerSeen(ctx, p))
}

func (g *guarded) WorkerList(ctx context.Context, p *taskerdriver.WorkerListParams) ([]*taskertype.Worker, error) {
	v, err := g.ex.WorkerList(ctx, p)
	return v, g.m(err)
}

func (g *guarded) WorkerDeleteStale(ctx context.Context, p *taskerdriver.WorkerDeleteStaleParams) (int, error) {
	v, err := g.ex.WorkerDeleteStale(ctx, p)
	return v, g.m(err)
}

func (g *guarded) TemplateRegister(ctx context.Context, p *taskerdriver.TemplateRegisterParams) (*taskerdriver.TemplateRegisterResult, error) {
	v, err := g.ex.TemplateRegister(ctx, p)
	return v, g.m(err)
}

func (g *guarded) TemplateGet(ctx context.Context, p *taskerdriver.TemplateGetParams) (*taskertype.RegisteredTemplate, error) {
	v, err := g.ex.TemplateGet(ctx, p)
	return v, g.m(err)
}

func (g *guarded) TemplateList(ctx context.Context, p *taskerdriver.TemplateListParams) ([]*taskertype.RegisteredTemplate, error) {
	v, err := g.ex.TemplateList(ctx, p)
	return v, g.m(err)
}

func (g *guarded) AnalyticsWindow(ctx context.Context, p *taskerdriver.AnalyticsParams) (*taskerdriver.AnalyticsWindow, error) {
	v, err := g.ex.AnalyticsWindow(ctx, p)
	return v, g.m(err)
}

func (g *guarded) AnalyticsOverview(ctx context.Context) (*taskerdriver.AnalyticsOverview, error) {
	v, err := g.ex.AnalyticsOverview(ctx)
	return v, g.m(err)
}

func (g *guarded) AnalyticsSeries(ctx context.Context, p *taskerdriver.AnalyticsSeriesParams) ([]taskerdriver.AnalyticsSeriesBucket, error) {
	v, err := g.ex.AnalyticsSeries(ctx, p)
	return v, g.m(err)
}

func (g *guarded) ScheduleInsertMany(ctx context.Context, ps []*taskerdriver.ScheduleInsertParams) ([]*taskertype.Schedule, error) {
	v, err := g.ex.ScheduleInsertMany(ctx, ps)
	return v, g.m(err)
}

func (g *guarded) ScheduleUpdateMany(ctx context.Context, ps []*taskerdriver.ScheduleUpdateParams) ([]*taskertype.Schedule, error) {
	v, err := g.ex.ScheduleUpdateMany(ctx, ps)
	return v, g.m(err)
}

func (g *guarded) ScheduleList(ctx context.Context, p *taskerdriver.ScheduleListParams) ([]*taskertype.Schedule, error) {
	v, err := g.ex.ScheduleList(ctx, p)
	return v, g.m(err)
}

func (g *guarded) ScheduleDeleteMany(ctx context.Context, names []string) (int, error) {
	v, err := g.ex.ScheduleDeleteMany(ctx, names)
	return v, g.m(err)
}

func (g *guarded) ScheduleFireInsertMany(ctx context.Context, ps []*taskerdriver.ScheduleFireParams) ([]bool, error) {
	v, err := g.ex.ScheduleFireInsertMany(ctx, ps)
	return v, g.m(err)
}

func (g *guarded) ScheduleFirePrune(ctx context.Context, p *taskerdriver.ScheduleFirePruneParams) (int, error) {
	v, err := g.ex.ScheduleFirePrune(ctx, p)
	return v, g.m(err)
}
