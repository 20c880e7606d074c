// Package taskersub is the subscriptions room of Tasker for Go: the
// Subscription type (the entries of a subscriptions file or of
// tasker.Config.Subscriptions), their loading and validation, and the
// senders of durable subscriptions.
//
// A durable subscription ("webhook", "nats", or a type registered with
// RegisterType) gets each matching event through the engine's outbox: the
// event is written in the same transaction as the fact, delivered at least
// once by the workers, retried with backoff and kept as a dead letter after
// its last attempt. The webhook sender is built in; the NATS sender lives in
// taskersub/taskernats so that a program that does not use NATS does not link
// its client:
//
//	import _ "github.com/tasker-go/tasker/taskersub/taskernats" // registers type "nats"
//
// The engine (package tasker) imports this package; this package imports
// the standard library, the YAML parser and package taskerdriver only, never
// the root package nor a NATS client.
package taskersub
