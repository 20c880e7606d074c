// Package taskerhttp is the REST API of Tasker for Go: JSON over HTTP under
// /tasker, with the original engine's routes and shapes (tasks, workflow
// steps, handlers, task diagrams, health, the event catalog, the remote
// worker routes, and API tokens: /tasker/tokens), the Prometheus metrics of
// Options.Metrics at GET /tasker/metrics (with each request recorded by its
// route pattern), and an OpenAPI 3.0.3 document at GET /tasker/openapi.json.
//
// It is the room of HTTP transport: the route table (routes.go: every
// route, the operation it needs as a "resource:action" permission such as
// tasker.task:index, and its handler; Routes lists it), the one
// authorization check of every route (authorize.go, Options.Authorize),
// request decoding, query parameters, content negotiation, the request log,
// request ids and panic recovery. What an answer holds (the views of tasks,
// steps, templates and diagrams, paging, and the mapping of the Go API's
// errors) comes from the shared views of internal/apiview, so that a second
// API (GraphQL, a dashboard) answers with the same shapes.
//
// Every error is JSON of one shape:
//
//	{"error": {"code": "validation_failed", "message": "...", "fields": {"name": "..."}}}
//
// Imports: the standard library, the root package (github.com/tasker-go/tasker:
// only the public methods of *tasker.Client and *tasker.Registry),
// taskertype and internal/apiview. Never a driver (taskerdriver/...), never
// internal/orchestrator or another engine mechanic (depguard in
// .golangci.yaml enforces it).
package taskerhttp
