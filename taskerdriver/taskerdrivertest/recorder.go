package taskerdrivertest

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
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

// recorder is an executor that records each method called, then calls the
// driver's. It overrides every method by hand: a method added to
// taskerdriver.Executor is promoted from the embedded ExecutorTx instead,
// never recorded, and the suite's coverage check fails until a case (and
// an override here) calls it.
type recorder struct {
	taskerdriver.ExecutorTx
	calls *calls
}

// record wraps ex (in a transaction or not) in a recorder.
func record(ex taskerdriver.Executor, c *calls) *recorder {
	tx, ok := ex.(taskerdriver.ExecutorTx)
	if !ok {
		tx = noTx{ex}
	}
	return &recorder{ExecutorTx: tx, calls: c}
}

// noTx is an executor outside a transaction seen as an ExecutorTx.
type noTx struct{ taskerdriver.Executor }

var errNoTx = errors.New("not in a transaction")

func (noTx) Commit(context.Context) error   { return errNoTx }
func (noTx) Rollback(context.Context) error { return errNoTx }

func (r *recorder) Begin(ctx context.Context) (taskerdriver.ExecutorTx, error) {
	r.calls.add("Begin")
	tx, err := r.ExecutorTx.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return record(tx, r.calls), nil
}

func (r *recorder) TaskCreate(ctx context.Context, p *taskerdriver.TaskCreateParams) (*taskerdriver.TaskCreateResult, error) {
	r.calls.add("TaskCreate")
	return r.ExecutorTx.TaskCreate(ctx, p)
}

func (r *recorder) TaskGet(ctx context.Context, id int64) (*taskertype.Task, error) {
	r.calls.add("TaskGet")
	return r.ExecutorTx.TaskGet(ctx, id)
}

func (r *recorder) TaskList(ctx context.Context, p *taskerdriver.TaskListParams) ([]*taskertype.Task, int, error) {
	r.calls.add("TaskList")
	return r.ExecutorTx.TaskList(ctx, p)
}

func (r *recorder) TaskSetStateMany(ctx context.Context, ps []*taskerdriver.TaskSetStateParams) ([]*taskertype.Task, error) {
	r.calls.add("TaskSetStateMany")
	return r.ExecutorTx.TaskSetStateMany(ctx, ps)
}

func (r *recorder) TaskUpdate(ctx context.Context, p *taskerdriver.TaskUpdateParams) (*taskertype.Task, error) {
	r.calls.add("TaskUpdate")
	return r.ExecutorTx.TaskUpdate(ctx, p)
}

func (r *recorder) StepGet(ctx context.Context, id int64) (*taskertype.Step, error) {
	r.calls.add("StepGet")
	return r.ExecutorTx.StepGet(ctx, id)
}

func (r *recorder) StepList(ctx context.Context, p *taskerdriver.StepListParams) ([]*taskertype.Step, error) {
	r.calls.add("StepList")
	return r.ExecutorTx.StepList(ctx, p)
}

func (r *recorder) StepClaim(ctx context.Context, p *taskerdriver.StepClaimParams) ([]*taskerdriver.ClaimedStep, error) {
	r.calls.add("StepClaim")
	return r.ExecutorTx.StepClaim(ctx, p)
}

func (r *recorder) StepFinishMany(ctx context.Context, ps []*taskerdriver.StepFinishParams) ([]taskerdriver.StepFinishOutcome, error) {
	r.calls.add("StepFinishMany")
	return r.ExecutorTx.StepFinishMany(ctx, ps)
}

func (r *recorder) StepSetState(ctx context.Context, p *taskerdriver.StepSetStateParams) ([]*taskertype.Step, error) {
	r.calls.add("StepSetState")
	return r.ExecutorTx.StepSetState(ctx, p)
}

func (r *recorder) StepUpdate(ctx context.Context, p *taskerdriver.StepUpdateParams) (*taskertype.Step, error) {
	r.calls.add("StepUpdate")
	return r.ExecutorTx.StepUpdate(ctx, p)
}

func (r *recorder) StepHeartbeat(ctx context.Context, p *taskerdriver.StepHeartbeatParams) ([]int64, error) {
	r.calls.add("StepHeartbeat")
	return r.ExecutorTx.StepHeartbeat(ctx, p)
}

func (r *recorder) StepListExpired(ctx context.Context, p *taskerdriver.StepListExpiredParams) ([]*taskertype.Step, error) {
	r.calls.add("StepListExpired")
	return r.ExecutorTx.StepListExpired(ctx, p)
}

func (r *recorder) StepNextWake(ctx context.Context, p *taskerdriver.StepNextWakeParams) (time.Time, error) {
	r.calls.add("StepNextWake")
	return r.ExecutorTx.StepNextWake(ctx, p)
}

func (r *recorder) TransitionList(ctx context.Context, p *taskerdriver.TransitionListParams) ([]*taskertype.Transition, error) {
	r.calls.add("TransitionList")
	return r.ExecutorTx.TransitionList(ctx, p)
}

func (r *recorder) TaskProgressMany(ctx context.Context, ids []int64) (map[int64]*taskerdriver.TaskWithProgress, error) {
	r.calls.add("TaskProgressMany")
	return r.ExecutorTx.TaskProgressMany(ctx, ids)
}

func (r *recorder) TaskDeleteFinished(ctx context.Context, p *taskerdriver.TaskDeleteFinishedParams) (int, error) {
	r.calls.add("TaskDeleteFinished")
	return r.ExecutorTx.TaskDeleteFinished(ctx, p)
}

func (r *recorder) LeaderAttempt(ctx context.Context, p *taskerdriver.LeaderAttemptParams) (bool, error) {
	r.calls.add("LeaderAttempt")
	return r.ExecutorTx.LeaderAttempt(ctx, p)
}

func (r *recorder) LeaderResign(ctx context.Context, p *taskerdriver.LeaderAttemptParams) error {
	r.calls.add("LeaderResign")
	return r.ExecutorTx.LeaderResign(ctx, p)
}

func (r *recorder) OutboxInsert(ctx context.Context, ps []*taskerdriver.OutboxInsertParams) error {
	r.calls.add("OutboxInsert")
	return r.ExecutorTx.OutboxInsert(ctx, ps)
}

func (r *recorder) OutboxClaim(ctx context.Context, p *taskerdriver.OutboxClaimParams) ([]*taskertype.OutboxMessage, error) {
	r.calls.add("OutboxClaim")
	return r.ExecutorTx.OutboxClaim(ctx, p)
}

func (r *recorder) OutboxFinish(ctx context.Context, p *taskerdriver.OutboxFinishParams) error {
	r.calls.add("OutboxFinish")
	return r.ExecutorTx.OutboxFinish(ctx, p)
}

func (r *recorder) OutboxList(ctx context.Context, p *taskerdriver.OutboxListParams) ([]*taskertype.OutboxMessage, error) {
	r.calls.add("OutboxList")
	return r.ExecutorTx.OutboxList(ctx, p)
}

func (r *recorder) OutboxReplay(ctx context.Context, p *taskerdriver.OutboxReplayParams) (int, error) {
	r.calls.add("OutboxReplay")
	return r.ExecutorTx.OutboxReplay(ctx, p)
}

func (r *recorder) HealthCounts(ctx context.Context, now time.Time) (*taskerdriver.HealthCounts, error) {
	r.calls.add("HealthCounts")
	return r.ExecutorTx.HealthCounts(ctx, now)
}

func (r *recorder) TokenInsert(ctx context.Context, p *taskerdriver.TokenInsertParams) (*taskerdriver.Token, error) {
	r.calls.add("TokenInsert")
	return r.ExecutorTx.TokenInsert(ctx, p)
}

func (r *recorder) TokenGet(ctx context.Context, lookupID string) (*taskerdriver.Token, error) {
	r.calls.add("TokenGet")
	return r.ExecutorTx.TokenGet(ctx, lookupID)
}

func (r *recorder) TokenList(ctx context.Context, p *taskerdriver.TokenListParams) ([]*taskerdriver.Token, error) {
	r.calls.add("TokenList")
	return r.ExecutorTx.TokenList(ctx, p)
}

func (r *recorder) TokenRevoke(ctx context.Context, p *taskerdriver.TokenRevokeParams) (*taskerdriver.Token, error) {
	r.calls.add("TokenRevoke")
	return r.ExecutorTx.TokenRevoke(ctx, p)
}

func (r *recorder) TokenAny(ctx context.Context) (bool, error) {
	r.calls.add("TokenAny")
	return r.ExecutorTx.TokenAny(ctx)
}

func (r *recorder) AnnotationInsert(ctx context.Context, p *taskerdriver.AnnotationInsertParams) (*taskertype.TaskAnnotation, error) {
	r.calls.add("AnnotationInsert")
	return r.ExecutorTx.AnnotationInsert(ctx, p)
}

func (r *recorder) AnnotationList(ctx context.Context, p *taskerdriver.AnnotationListParams) ([]*taskertype.TaskAnnotation, error) {
	r.calls.add("AnnotationList")
	return r.ExecutorTx.AnnotationList(ctx, p)
}

func (r *recorder) AnnotationTypeList(ctx context.Context) ([]*taskertype.AnnotationType, error) {
	r.calls.add("AnnotationTypeList")
	return r.ExecutorTx.AnnotationTypeList(ctx)
}

func (r *recorder) TemplateRegister(ctx context.Context, p *taskerdriver.TemplateRegisterParams) (*taskerdriver.TemplateRegisterResult, error) {
	r.calls.add("TemplateRegister")
	return r.ExecutorTx.TemplateRegister(ctx, p)
}

func (r *recorder) TemplateGet(ctx context.Context, p *taskerdriver.TemplateGetParams) (*taskertype.RegisteredTemplate, error) {
	r.calls.add("TemplateGet")
	return r.ExecutorTx.TemplateGet(ctx, p)
}

func (r *recorder) TemplateList(ctx context.Context, p *taskerdriver.TemplateListParams) ([]*taskertype.RegisteredTemplate, error) {
	r.calls.add("TemplateList")
	return r.ExecutorTx.TemplateList(ctx, p)
}

func (r *recorder) Notify(ctx context.Context, topic string) error {
	r.calls.add("Notify")
	return r.ExecutorTx.Notify(ctx, topic)
}

func (r *recorder) Commit(ctx context.Context) error {
	r.calls.add("Commit")
	return r.ExecutorTx.Commit(ctx)
}

func (r *recorder) Rollback(ctx context.Context) error {
	r.calls.add("Rollback")
	return r.ExecutorTx.Rollback(ctx)
}

func (r *recorder) WorkerSeen(ctx context.Context, p *taskerdriver.WorkerSeenParams) error {
	r.calls.add("WorkerSeen")
	return r.ExecutorTx.WorkerSeen(ctx, p)
}

func (r *recorder) WorkerList(ctx context.Context, p *taskerdriver.WorkerListParams) ([]*taskertype.Worker, error) {
	r.calls.add("WorkerList")
	return r.ExecutorTx.WorkerList(ctx, p)
}

func (r *recorder) WorkerDeleteStale(ctx context.Context, p *taskerdriver.WorkerDeleteStaleParams) (int, error) {
	r.calls.add("WorkerDeleteStale")
	return r.ExecutorTx.WorkerDeleteStale(ctx, p)
}

func (r *recorder) AnalyticsWindow(ctx context.Context, p *taskerdriver.AnalyticsParams) (*taskerdriver.AnalyticsWindow, error) {
	r.calls.add("AnalyticsWindow")
	return r.ExecutorTx.AnalyticsWindow(ctx, p)
}

func (r *recorder) AnalyticsOverview(ctx context.Context) (*taskerdriver.AnalyticsOverview, error) {
	r.calls.add("AnalyticsOverview")
	return r.ExecutorTx.AnalyticsOverview(ctx)
}

func (r *recorder) AnalyticsSeries(ctx context.Context, p *taskerdriver.AnalyticsSeriesParams) ([]taskerdriver.AnalyticsSeriesBucket, error) {
	r.calls.add("AnalyticsSeries")
	return r.ExecutorTx.AnalyticsSeries(ctx, p)
}

func (r *recorder) ScheduleInsertMany(ctx context.Context, ps []*taskerdriver.ScheduleInsertParams) ([]*taskertype.Schedule, error) {
	r.calls.add("ScheduleInsertMany")
	return r.ExecutorTx.ScheduleInsertMany(ctx, ps)
}

func (r *recorder) ScheduleUpdateMany(ctx context.Context, ps []*taskerdriver.ScheduleUpdateParams) ([]*taskertype.Schedule, error) {
	r.calls.add("ScheduleUpdateMany")
	return r.ExecutorTx.ScheduleUpdateMany(ctx, ps)
}

func (r *recorder) ScheduleList(ctx context.Context, p *taskerdriver.ScheduleListParams) ([]*taskertype.Schedule, error) {
	r.calls.add("ScheduleList")
	return r.ExecutorTx.ScheduleList(ctx, p)
}

func (r *recorder) ScheduleDeleteMany(ctx context.Context, names []string) (int, error) {
	r.calls.add("ScheduleDeleteMany")
	return r.ExecutorTx.ScheduleDeleteMany(ctx, names)
}

func (r *recorder) ScheduleFireInsertMany(ctx context.Context, ps []*taskerdriver.ScheduleFireParams) ([]bool, error) {
	r.calls.add("ScheduleFireInsertMany")
	return r.ExecutorTx.ScheduleFireInsertMany(ctx, ps)
}

func (r *recorder) ScheduleFirePrune(ctx context.Context, p *taskerdriver.ScheduleFirePruneParams) (int, error) {
	r.calls.add("ScheduleFirePrune")
	return r.ExecutorTx.ScheduleFirePrune(ctx, p)
}
