package mixeddag

import "github.com/tasker-go/tasker"

// The names of the template and of its handler.
const (
	TemplateName = "mixed_dag"
	HandlerName  = "testworker_step"
)

// Template is the mixed DAG: a fan-out of three branches from start, a
// fan-in of two of them into join, and a final fan-in of the third branch
// and join.
//
//	start ─┬─ branch_a ─┬─ join ─┬─ finish
//	       ├─ branch_b ─┘        │
//	       └─ branch_c ──────────┘
//
// The handler of internal/testworker fails branch_a and join on their first
// attempt, and branch_c permanently when the context has {"fail_c": true}.
func Template() *tasker.TaskTemplate {
	step := func(name string, deps ...string) tasker.StepTemplate {
		return tasker.StepTemplate{Name: name, Handler: HandlerName, DependsOn: deps, RetryLimit: 5}
	}
	return &tasker.TaskTemplate{Name: TemplateName, Version: "1.0.0", Steps: []tasker.StepTemplate{
		step("start"),
		step("branch_a", "start"), step("branch_b", "start"), step("branch_c", "start"),
		step("join", "branch_a", "branch_b"),
		step("finish", "join", "branch_c"),
	}}
}

// RunsTable creates testworker_runs (PostgreSQL), where the handler
// records each of its runs: a row inserted when a run starts, completed
// when it ends (outcome ok, fail, permanent or cancelled; NULL while
// running); a run whose process was killed keeps ended_at NULL.
const RunsTable = `CREATE TABLE testworker_runs (
	id         bigserial   PRIMARY KEY,
	step_id    bigint      NOT NULL,
	task_id    bigint      NOT NULL,
	step_name  text        NOT NULL,
	attempt    integer     NOT NULL,
	worker     text        NOT NULL,
	started_at timestamptz NOT NULL,
	ended_at   timestamptz,
	outcome    text)`
