// Package mixeddag is what the worker process internal/testworker and the
// multi-process tests of the root package (multiprocess_test.go,
// multiprocess_schedule_test.go) must agree on: the mixed
// DAG template (Template, TemplateName), the name of its handler
// (HandlerName), and the table the handler records its runs in (RunsTable,
// which the tests create). It is a test helper, not part of the public API.
//
// Imports: the root package only.
package mixeddag
