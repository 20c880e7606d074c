// Package apiview is the room of the API views that Tasker's interfaces
// share: the REST API (taskerhttp) today, the GraphQL API and the dashboard
// next. It turns the Go API's values (*tasker.Task, *tasker.Step,
// transitions, the execution context, templates, the event catalog) into
// the JSON-shaped views that the APIs answer with, builds task diagrams
// (JSON nodes and edges, Mermaid, SVG, HTML), holds the list and paging
// vocabulary (sort columns, limits, Pagination), and maps the Go API's
// errors to one error shape (Error: HTTP status, code, message, fields).
//
// A view is the API's contract: its field names, order and empty values
// are what REST clients read (taskerhttp's golden tests pin the bytes), so
// a second API that serves the same objects uses these builders instead of
// copying them. Transport concerns stay out: request decoding, query
// parameters, content negotiation, envelopes ({"task": ...}) and
// authorization live in each API's own package.
//
// It is internal: the views serve this module's APIs and may change shape
// with them; Go programs use the root package's types directly.
//
// Imports: the standard library, the root package (github.com/tasker-go/tasker,
// its public API only), taskertype and internal/dag (pure graph analysis).
// Never a driver (taskerdriver/...), never internal/orchestrator or another
// engine mechanic, never an API package (taskerhttp).
package apiview
