package taskerhttp

import (
	"context"
	"net/http"
	"strings"

	"github.com/tasker-go/tasker/taskerauth"
	"github.com/tasker-go/tasker/taskerwire"
)

// Operation names what a route does as the permission it needs, in the
// original engine's "resource:action" form (tasker.task:index). Several
// routes may share one operation (PATCH and PUT of a task are both
// tasker.task:update; every remote-worker route is tasker.worker:work).
type Operation string

// Resource is the part before the colon ("tasker.task").
func (o Operation) Resource() string { r, _, _ := strings.Cut(string(o), ":"); return r }

// Action is the part after the colon ("index").
func (o Operation) Action() string { _, a, _ := strings.Cut(string(o), ":"); return a }

// The operations of the REST routes (see Routes for which route needs
// which).
const (
	OpTaskIndex   Operation = taskerauth.PermTaskIndex
	OpTaskShow    Operation = taskerauth.PermTaskShow
	OpTaskCreate  Operation = taskerauth.PermTaskCreate
	OpTaskUpdate  Operation = taskerauth.PermTaskUpdate
	OpTaskDestroy Operation = taskerauth.PermTaskDestroy
	OpTaskRetry   Operation = taskerauth.PermTaskRetry

	OpStepIndex   Operation = taskerauth.PermStepIndex
	OpStepShow    Operation = taskerauth.PermStepShow
	OpStepUpdate  Operation = taskerauth.PermStepUpdate
	OpStepDestroy Operation = taskerauth.PermStepDestroy
	OpStepResolve Operation = taskerauth.PermStepResolve

	OpHandlerIndex Operation = taskerauth.PermHandlerIndex
	OpHandlerShow  Operation = taskerauth.PermHandlerShow

	OpEventIndex Operation = taskerauth.PermEventIndex
	// OpDeadLetterIndex lists the events durable subscriptions gave up on;
	// OpDeadLetterReplay sends them again.
	OpDeadLetterIndex   Operation = taskerauth.PermDeadLetterIndex
	OpDeadLetterReplay  Operation = taskerauth.PermDeadLetterReplay
	OpHealthStatusIndex Operation = taskerauth.PermHealthStatusIndex
	// OpMetricsIndex reads the Prometheus metrics (GET /tasker/metrics).
	OpMetricsIndex Operation = taskerauth.PermMetricsIndex
	// OpAnalyticsIndex reads the analytics (performance, bottlenecks, and
	// the series this engine adds), as in the original engine.
	OpAnalyticsIndex Operation = taskerauth.PermAnalyticsIndex
	// OpTokenIndex, OpTokenCreate and OpTokenDestroy list, create and
	// revoke API tokens (GET, POST /tasker/tokens, DELETE
	// /tasker/tokens/{name}); the original engine had no API tokens, so
	// they extend its names. A token created through the API grants no
	// more than its creator holds (taskerauth.Covers).
	OpTokenIndex   Operation = taskerauth.PermTokenIndex
	OpTokenCreate  Operation = taskerauth.PermTokenCreate
	OpTokenDestroy Operation = taskerauth.PermTokenDestroy

	// OpOpenAPIShow reads the OpenAPI document. The original engine had no
	// such route, so it has no permission of its own there.
	OpOpenAPIShow Operation = taskerauth.PermOpenAPIShow

	// OpWorkerWork is every remote-worker route (claim, heartbeat, result,
	// release). Without Options.Authorize these routes need the worker
	// token (Options.WorkerToken); with it, they need both.
	OpWorkerWork Operation = taskerauth.PermWorkerWork
	// OpWorkerIndex lists the workers seen recently (GET /tasker/workers);
	// the original engine had no registry of workers.
	OpWorkerIndex Operation = taskerauth.PermWorkerIndex

	// The schedules (cron): list and show (index), create, pause and
	// resume (update), delete (destroy) and fire now (trigger); the
	// original engine had no schedules.
	OpScheduleIndex   Operation = taskerauth.PermScheduleIndex
	OpScheduleCreate  Operation = taskerauth.PermScheduleCreate
	OpScheduleUpdate  Operation = taskerauth.PermScheduleUpdate
	OpScheduleDestroy Operation = taskerauth.PermScheduleDestroy
	OpScheduleTrigger Operation = taskerauth.PermScheduleTrigger

	// OpHealthLive and OpHealthReady are open: never authorized.
	OpHealthLive  Operation = "tasker.health:live"
	OpHealthReady Operation = "tasker.health:ready"
)

// Route is one REST route of the table that NewHandler serves.
type Route struct {
	// Method and Pattern are the route as net/http.ServeMux matches it:
	// "GET" and "/tasker/tasks/{task_id}".
	Method, Pattern string
	// Operation is the permission the route needs.
	Operation Operation
	// Open routes are never authorized (Options.Authorize is not called):
	// the liveness and readiness probes.
	Open bool
	// Name is the route's operationId in the OpenAPI document
	// (GET /tasker/openapi.json).
	Name string
}

// route is a Route with its handler.
type route struct {
	Route
	handle func(s *server, w http.ResponseWriter, r *http.Request) error
}

// table is the REST API: every route, the permission it needs and its
// handler. NewHandler registers exactly these, each behind one
// authorization check (server.authorize); the tests check that the OpenAPI
// document and docs/rest.md list the same routes.
var table = []route{
	{Route{"GET", "/tasker/tasks", OpTaskIndex, false, "listTasks"}, (*server).listTasks},
	{Route{"POST", "/tasker/tasks", OpTaskCreate, false, "createTask"}, (*server).createTask},
	{Route{"GET", "/tasker/tasks/{task_id}", OpTaskShow, false, "getTask"}, (*server).getTask},
	{Route{"PATCH", "/tasker/tasks/{task_id}", OpTaskUpdate, false, "updateTask"}, (*server).updateTask},
	{Route{"PUT", "/tasker/tasks/{task_id}", OpTaskUpdate, false, "replaceTask"}, (*server).updateTask},
	{Route{"DELETE", "/tasker/tasks/{task_id}", OpTaskDestroy, false, "cancelTask"}, (*server).cancelTask},
	{Route{"POST", "/tasker/tasks/{task_id}/retry", OpTaskRetry, false, "retryTask"}, (*server).retryTask},
	{Route{"GET", "/tasker/tasks/{task_id}/diagram", OpTaskShow, false, "taskDiagram"}, (*server).taskDiagram},
	{Route{"GET", "/tasker/tasks/{task_id}/transitions", OpTaskShow, false, "taskTransitions"}, (*server).taskTransitions},
	{Route{"POST", "/tasker/tasks/{task_id}/annotations", OpTaskUpdate, false, "annotateTask"}, (*server).createAnnotation},

	{Route{"GET", "/tasker/tasks/{task_id}/workflow_steps", OpStepIndex, false, "listSteps"}, (*server).listSteps},
	{Route{"GET", "/tasker/tasks/{task_id}/workflow_steps/{step_id}", OpStepShow, false, "getStep"}, (*server).getStep},
	{Route{"PATCH", "/tasker/tasks/{task_id}/workflow_steps/{step_id}", OpStepUpdate, false, "updateStep"}, (*server).updateStep},
	{Route{"PUT", "/tasker/tasks/{task_id}/workflow_steps/{step_id}", OpStepUpdate, false, "replaceStep"}, (*server).updateStep},
	{Route{"DELETE", "/tasker/tasks/{task_id}/workflow_steps/{step_id}", OpStepDestroy, false, "cancelStep"}, (*server).cancelStep},
	{Route{"POST", "/tasker/tasks/{task_id}/workflow_steps/{step_id}/resolve", OpStepResolve, false, "resolveStep"}, (*server).resolveStep},

	{Route{"GET", "/tasker/handlers", OpHandlerIndex, false, "listNamespaces"}, (*server).listNamespaces},
	{Route{"GET", "/tasker/handlers/{namespace}", OpHandlerIndex, false, "listHandlers"}, (*server).listHandlers},
	{Route{"GET", "/tasker/handlers/{namespace}/{name}", OpHandlerShow, false, "getHandler"}, (*server).getHandler},

	{Route{"GET", "/tasker/health/live", OpHealthLive, true, "healthLive"}, (*server).healthLive},
	{Route{"GET", "/tasker/health/ready", OpHealthReady, true, "healthReady"}, (*server).healthReady},
	{Route{"GET", "/tasker/health/status", OpHealthStatusIndex, false, "healthStatus"}, (*server).healthStatus},
	{Route{"GET", "/tasker/metrics", OpMetricsIndex, false, "metrics"}, (*server).serveMetrics},
	{Route{"GET", "/tasker/analytics/performance", OpAnalyticsIndex, false, "analyticsPerformance"}, (*server).analyticsPerformance},
	{Route{"GET", "/tasker/analytics/bottlenecks", OpAnalyticsIndex, false, "analyticsBottlenecks"}, (*server).analyticsBottlenecks},
	{Route{"GET", "/tasker/analytics/series", OpAnalyticsIndex, false, "analyticsSeries"}, (*server).analyticsSeries},
	{Route{"GET", "/tasker/events", OpEventIndex, false, "listEvents"}, (*server).listEvents},
	{Route{"GET", "/tasker/dead_letters", OpDeadLetterIndex, false, "listDeadLetters"}, (*server).listDeadLetters},
	{Route{"POST", "/tasker/dead_letters/replay", OpDeadLetterReplay, false, "replayDeadLetters"}, (*server).replayDeadLetters},
	{Route{"GET", "/tasker/openapi.json", OpOpenAPIShow, false, "openAPI"}, (*server).openAPI},

	{Route{"GET", "/tasker/tokens", OpTokenIndex, false, "listTokens"}, (*server).listTokens},
	{Route{"POST", "/tasker/tokens", OpTokenCreate, false, "createToken"}, (*server).createToken},
	{Route{"DELETE", "/tasker/tokens/{name}", OpTokenDestroy, false, "revokeToken"}, (*server).revokeToken},

	{Route{"GET", "/tasker/schedules", OpScheduleIndex, false, "listSchedules"}, (*server).listSchedules},
	{Route{"POST", "/tasker/schedules", OpScheduleCreate, false, "createSchedule"}, (*server).createSchedule},
	{Route{"GET", "/tasker/schedules/{name}", OpScheduleIndex, false, "getSchedule"}, (*server).getSchedule},
	{Route{"DELETE", "/tasker/schedules/{name}", OpScheduleDestroy, false, "deleteSchedule"}, (*server).deleteSchedule},
	{Route{"POST", "/tasker/schedules/{name}/pause", OpScheduleUpdate, false, "pauseSchedule"}, (*server).pauseSchedule},
	{Route{"POST", "/tasker/schedules/{name}/resume", OpScheduleUpdate, false, "resumeSchedule"}, (*server).resumeSchedule},
	{Route{"POST", "/tasker/schedules/{name}/trigger", OpScheduleTrigger, false, "triggerSchedule"}, (*server).triggerSchedule},

	{Route{"GET", "/tasker/workers", OpWorkerIndex, false, "listWorkers"}, (*server).listWorkers},
	{Route{"POST", "/tasker/workers/claim", OpWorkerWork, false, "claimRemoteSteps"}, (*server).claimSteps},
	{Route{"POST", "/tasker/workers/heartbeat", OpWorkerWork, false, "heartbeatRemoteSteps"}, (*server).heartbeat},
	{Route{"POST", "/tasker/workers/steps/{step_id}/result", OpWorkerWork, false, "reportRemoteResult"}, (*server).stepResult},
	{Route{"POST", "/tasker/workers/steps/{step_id}/release", OpWorkerWork, false, "releaseRemoteStep"}, (*server).releaseStep},
}

// Routes returns the REST routes that NewHandler serves, in the order of
// the documentation (a copy: changing it changes nothing).
func Routes() []Route {
	out := make([]Route, len(table))
	for i, rt := range table {
		out[i] = rt.Route
	}
	return out
}

// routes registers every route of the table behind its authorization.
func (s *server) routes() {
	for _, rt := range table {
		s.mux.HandleFunc(rt.Method+" "+rt.Pattern, s.serveRoute(rt))
	}
}

// serveRoute bounds a request by Options.RequestTimeout, checks its
// authorization (server.authorize) and the JSON Content-Type of a POST, PUT
// or PATCH, then runs the route's handler; an error of any is the JSON
// error answer.
func (s *server) serveRoute(rt route) http.HandlerFunc {
	timeout := s.opts.RequestTimeout
	if rt.Name == "claimRemoteSteps" {
		timeout += taskerwire.MaxWait // a long poll waits up to wait_seconds first
	}
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		r, err := s.authorize(r.WithContext(ctx), rt.Route)
		if err != nil {
			s.denied(w, r, err)
			return
		}
		if needsJSON(r) && !isJSONContentType(r.Header.Get("Content-Type")) {
			s.fail(w, r, unsupportedMediaType(r))
			return
		}
		if err := rt.handle(s, w, r); err != nil {
			s.fail(w, r, err)
		}
	}
}
