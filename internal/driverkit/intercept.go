package driverkit

import (
	"context"
	"time"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// Intercept returns ex with each call of its methods passed through after,
// given the method's name and the call's error (nil when it succeeded),
// which returns the error the caller gets; the transactions it begins are
// intercepted too. Guard marks a driver's outages with it; the conformance
// suite (taskerdrivertest) records the methods its cases call.
func Intercept(ex taskerdriver.ExecutorTx, after func(method string, err error) error) taskerdriver.ExecutorTx {
	return &intercepted{ex: ex, after: after}
}

// intercepted holds the executor in a field, not embedded: a method added
// to taskerdriver.Executor fails to compile here until it is intercepted
// too.
type intercepted struct {
	ex    taskerdriver.ExecutorTx
	after func(method string, err error) error
}

var _ taskerdriver.ExecutorTx = (*intercepted)(nil)

func (i *intercepted) Begin(ctx context.Context) (taskerdriver.ExecutorTx, error) {
	tx, err := i.ex.Begin(ctx)
	if err = i.after("Begin", err); err != nil {
		return nil, err
	}
	return Intercept(tx, i.after), nil
}

func (i *intercepted) TaskCreate(ctx context.Context, p *taskerdriver.TaskCreateParams) (*taskerdriver.TaskCreateResult, error) {
	v, err := i.ex.TaskCreate(ctx, p)
	return v, i.after("TaskCreate", err)
}

func (i *intercepted) TaskGet(ctx context.Context, id int64) (*taskertype.Task, error) {
	v, err := i.ex.TaskGet(ctx, id)
	return v, i.after("TaskGet", err)
}

func (i *intercepted) TaskList(ctx context.Context, p *taskerdriver.TaskListParams) ([]*taskertype.Task, int, error) {
	v, w, err := i.ex.TaskList(ctx, p)
	return v, w, i.after("TaskList", err)
}

func (i *intercepted) TaskSetStateMany(ctx context.Context, ps []*taskerdriver.TaskSetStateParams) ([]*taskertype.Task, error) {
	v, err := i.ex.TaskSetStateMany(ctx, ps)
	return v, i.after("TaskSetStateMany", err)
}

func (i *intercepted) TaskUpdate(ctx context.Context, p *taskerdriver.TaskUpdateParams) (*taskertype.Task, error) {
	v, err := i.ex.TaskUpdate(ctx, p)
	return v, i.after("TaskUpdate", err)
}

func (i *intercepted) StepGet(ctx context.Context, id int64) (*taskertype.Step, error) {
	v, err := i.ex.StepGet(ctx, id)
	return v, i.after("StepGet", err)
}

func (i *intercepted) StepList(ctx context.Context, p *taskerdriver.StepListParams) ([]*taskertype.Step, error) {
	v, err := i.ex.StepList(ctx, p)
	return v, i.after("StepList", err)
}

func (i *intercepted) StepClaim(ctx context.Context, p *taskerdriver.StepClaimParams) ([]*taskerdriver.ClaimedStep, error) {
	v, err := i.ex.StepClaim(ctx, p)
	return v, i.after("StepClaim", err)
}

func (i *intercepted) StepFinishMany(ctx context.Context, ps []*taskerdriver.StepFinishParams) ([]taskerdriver.StepFinishOutcome, error) {
	v, err := i.ex.StepFinishMany(ctx, ps)
	return v, i.after("StepFinishMany", err)
}

func (i *intercepted) StepFinishAndClaim(ctx context.Context, p *taskerdriver.StepFinishAndClaimParams) (*taskerdriver.StepFinishAndClaimResult, error) {
	v, err := i.ex.StepFinishAndClaim(ctx, p)
	return v, i.after("StepFinishAndClaim", err)
}

func (i *intercepted) StepSetState(ctx context.Context, p *taskerdriver.StepSetStateParams) ([]*taskertype.Step, error) {
	v, err := i.ex.StepSetState(ctx, p)
	return v, i.after("StepSetState", err)
}

func (i *intercepted) StepUpdate(ctx context.Context, p *taskerdriver.StepUpdateParams) (*taskertype.Step, error) {
	v, err := i.ex.StepUpdate(ctx, p)
	return v, i.after("StepUpdate", err)
}

func (i *intercepted) StepHeartbeat(ctx context.Context, p *taskerdriver.StepHeartbeatParams) ([]int64, error) {
	v, err := i.ex.StepHeartbeat(ctx, p)
	return v, i.after("StepHeartbeat", err)
}

func (i *intercepted) StepListExpired(ctx context.Context, p *taskerdriver.StepListExpiredParams) ([]*taskertype.Step, error) {
	v, err := i.ex.StepListExpired(ctx, p)
	return v, i.after("StepListExpired", err)
}

func (i *intercepted) StepNextWake(ctx context.Context, p *taskerdriver.StepNextWakeParams) (time.Time, error) {
	v, err := i.ex.StepNextWake(ctx, p)
	return v, i.after("StepNextWake", err)
}

func (i *intercepted) TransitionList(ctx context.Context, p *taskerdriver.TransitionListParams) ([]*taskertype.Transition, error) {
	v, err := i.ex.TransitionList(ctx, p)
	return v, i.after("TransitionList", err)
}

func (i *intercepted) TaskProgressMany(ctx context.Context, ids []int64) (map[int64]*taskerdriver.TaskWithProgress, error) {
	v, err := i.ex.TaskProgressMany(ctx, ids)
	return v, i.after("TaskProgressMany", err)
}

func (i *intercepted) TaskDeleteFinished(ctx context.Context, p *taskerdriver.TaskDeleteFinishedParams) (int, error) {
	v, err := i.ex.TaskDeleteFinished(ctx, p)
	return v, i.after("TaskDeleteFinished", err)
}

func (i *intercepted) LeaderAttempt(ctx context.Context, p *taskerdriver.LeaderAttemptParams) (bool, error) {
	v, err := i.ex.LeaderAttempt(ctx, p)
	return v, i.after("LeaderAttempt", err)
}

func (i *intercepted) LeaderResign(ctx context.Context, p *taskerdriver.LeaderAttemptParams) error {
	return i.after("LeaderResign", i.ex.LeaderResign(ctx, p))
}

func (i *intercepted) OutboxInsert(ctx context.Context, ps []*taskerdriver.OutboxInsertParams) error {
	return i.after("OutboxInsert", i.ex.OutboxInsert(ctx, ps))
}

func (i *intercepted) OutboxClaim(ctx context.Context, p *taskerdriver.OutboxClaimParams) ([]*taskertype.OutboxMessage, error) {
	v, err := i.ex.OutboxClaim(ctx, p)
	return v, i.after("OutboxClaim", err)
}

func (i *intercepted) OutboxFinish(ctx context.Context, p *taskerdriver.OutboxFinishParams) error {
	return i.after("OutboxFinish", i.ex.OutboxFinish(ctx, p))
}

func (i *intercepted) OutboxList(ctx context.Context, p *taskerdriver.OutboxListParams) ([]*taskertype.OutboxMessage, error) {
	v, err := i.ex.OutboxList(ctx, p)
	return v, i.after("OutboxList", err)
}

func (i *intercepted) OutboxReplay(ctx context.Context, p *taskerdriver.OutboxReplayParams) (int, error) {
	v, err := i.ex.OutboxReplay(ctx, p)
	return v, i.after("OutboxReplay", err)
}

func (i *intercepted) HealthCounts(ctx context.Context, now time.Time) (*taskerdriver.HealthCounts, error) {
	v, err := i.ex.HealthCounts(ctx, now)
	return v, i.after("HealthCounts", err)
}

func (i *intercepted) TokenInsert(ctx context.Context, p *taskerdriver.TokenInsertParams) (*taskerdriver.Token, error) {
	v, err := i.ex.TokenInsert(ctx, p)
	return v, i.after("TokenInsert", err)
}

func (i *intercepted) TokenGet(ctx context.Context, lookupID string) (*taskerdriver.Token, error) {
	v, err := i.ex.TokenGet(ctx, lookupID)
	return v, i.after("TokenGet", err)
}

func (i *intercepted) TokenList(ctx context.Context, p *taskerdriver.TokenListParams) ([]*taskerdriver.Token, error) {
	v, err := i.ex.TokenList(ctx, p)
	return v, i.after("TokenList", err)
}

func (i *intercepted) TokenRevoke(ctx context.Context, p *taskerdriver.TokenRevokeParams) (*taskerdriver.Token, error) {
	v, err := i.ex.TokenRevoke(ctx, p)
	return v, i.after("TokenRevoke", err)
}

func (i *intercepted) TokenAny(ctx context.Context) (bool, error) {
	v, err := i.ex.TokenAny(ctx)
	return v, i.after("TokenAny", err)
}

func (i *intercepted) AnnotationInsert(ctx context.Context, p *taskerdriver.AnnotationInsertParams) (*taskertype.TaskAnnotation, error) {
	v, err := i.ex.AnnotationInsert(ctx, p)
	return v, i.after("AnnotationInsert", err)
}

func (i *intercepted) AnnotationList(ctx context.Context, p *taskerdriver.AnnotationListParams) ([]*taskertype.TaskAnnotation, error) {
	v, err := i.ex.AnnotationList(ctx, p)
	return v, i.after("AnnotationList", err)
}

func (i *intercepted) AnnotationTypeList(ctx context.Context) ([]*taskertype.AnnotationType, error) {
	v, err := i.ex.AnnotationTypeList(ctx)
	return v, i.after("AnnotationTypeList", err)
}

func (i *intercepted) Notify(ctx context.Context, topic string) error {
	return i.after("Notify", i.ex.Notify(ctx, topic))
}

func (i *intercepted) Commit(ctx context.Context) error {
	return i.after("Commit", i.ex.Commit(ctx))
}

func (i *intercepted) Rollback(ctx context.Context) error {
	return i.after("Rollback", i.ex.Rollback(ctx))
}

func (i *intercepted) WorkerSeen(ctx context.Context, p *taskerdriver.WorkerSeenParams) error {
	return i.after("WorkerSeen", i.ex.WorkerSeen(ctx, p))
}

func (i *intercepted) WorkerList(ctx context.Context, p *taskerdriver.WorkerListParams) ([]*taskertype.Worker, error) {
	v, err := i.ex.WorkerList(ctx, p)
	return v, i.after("WorkerList", err)
}

func (i *intercepted) WorkerDeleteStale(ctx context.Context, p *taskerdriver.WorkerDeleteStaleParams) (int, error) {
	v, err := i.ex.WorkerDeleteStale(ctx, p)
	return v, i.after("WorkerDeleteStale", err)
}

func (i *intercepted) TemplateRegister(ctx context.Context, p *taskerdriver.TemplateRegisterParams) (*taskerdriver.TemplateRegisterResult, error) {
	v, err := i.ex.TemplateRegister(ctx, p)
	return v, i.after("TemplateRegister", err)
}

func (i *intercepted) TemplateGet(ctx context.Context, p *taskerdriver.TemplateGetParams) (*taskertype.RegisteredTemplate, error) {
	v, err := i.ex.TemplateGet(ctx, p)
	return v, i.after("TemplateGet", err)
}

func (i *intercepted) TemplateList(ctx context.Context, p *taskerdriver.TemplateListParams) ([]*taskertype.RegisteredTemplate, error) {
	v, err := i.ex.TemplateList(ctx, p)
	return v, i.after("TemplateList", err)
}

func (i *intercepted) AnalyticsWindow(ctx context.Context, p *taskerdriver.AnalyticsParams) (*taskerdriver.AnalyticsWindow, error) {
	v, err := i.ex.AnalyticsWindow(ctx, p)
	return v, i.after("AnalyticsWindow", err)
}

func (i *intercepted) AnalyticsOverview(ctx context.Context) (*taskerdriver.AnalyticsOverview, error) {
	v, err := i.ex.AnalyticsOverview(ctx)
	return v, i.after("AnalyticsOverview", err)
}

func (i *intercepted) AnalyticsSeries(ctx context.Context, p *taskerdriver.AnalyticsSeriesParams) ([]taskerdriver.AnalyticsSeriesBucket, error) {
	v, err := i.ex.AnalyticsSeries(ctx, p)
	return v, i.after("AnalyticsSeries", err)
}

func (i *intercepted) ScheduleInsertMany(ctx context.Context, ps []*taskerdriver.ScheduleInsertParams) ([]*taskertype.Schedule, error) {
	v, err := i.ex.ScheduleInsertMany(ctx, ps)
	return v, i.after("ScheduleInsertMany", err)
}

func (i *intercepted) ScheduleUpdateMany(ctx context.Context, ps []*taskerdriver.ScheduleUpdateParams) ([]*taskertype.Schedule, error) {
	v, err := i.ex.ScheduleUpdateMany(ctx, ps)
	return v, i.after("ScheduleUpdateMany", err)
}

func (i *intercepted) ScheduleList(ctx context.Context, p *taskerdriver.ScheduleListParams) ([]*taskertype.Schedule, error) {
	v, err := i.ex.ScheduleList(ctx, p)
	return v, i.after("ScheduleList", err)
}

func (i *intercepted) ScheduleDeleteMany(ctx context.Context, names []string) (int, error) {
	v, err := i.ex.ScheduleDeleteMany(ctx, names)
	return v, i.after("ScheduleDeleteMany", err)
}

func (i *intercepted) ScheduleFireInsertMany(ctx context.Context, ps []*taskerdriver.ScheduleFireParams) ([]bool, error) {
	v, err := i.ex.ScheduleFireInsertMany(ctx, ps)
	return v, i.after("ScheduleFireInsertMany", err)
}

func (i *intercepted) ScheduleFirePrune(ctx context.Context, p *taskerdriver.ScheduleFirePruneParams) (int, error) {
	v, err := i.ex.ScheduleFirePrune(ctx, p)
	return v, i.after("ScheduleFirePrune", err)
}
