// Package taskergraphql is the room of Tasker's GraphQL API: the original
// engine's schema (its queries, Relay-classic mutations and types, so that
// its clients' documents run unchanged), retryTask and resolveStep, and
// live subscriptions (taskUpdated, events) over a WebSocket
// (graphql-transport-ws). NewHandler serves it; taskerhttp.NewHandler
// mounts it at /tasker/graphql behind the REST API's Host, cross-origin and
// body-size checks, with the same authentication.
//
// Every root field checks the REST API's permission for the same thing
// (tasks → tasker.task:index, createTask → tasker.task:create, ...; see
// docs/graphql.md), field by field, so a document mixing an allowed and a
// forbidden field gets the allowed data and a FORBIDDEN error. Resolvers
// call the Go API (tasker.Client), as REST does; a page of tasks loads its
// steps in one query whatever its size (model.Batch).
//
// The executor (internal/generated) and the input models
// (internal/model/models_gen.go) are generated from schema.graphqls by
// gqlgen: see generate.go.
//
// Imports: the standard library, gqlgen's runtime, the root package's
// public API, taskerauth, taskersub (event patterns) and internal/apiview
// (the shared error mapping). Never a driver, never taskerhttp.
package taskergraphql
