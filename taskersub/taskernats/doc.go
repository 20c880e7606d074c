// Package taskernats is the NATS JetStream sender of durable subscriptions
// of type "nats". Importing it registers the type with package taskersub:
//
//	import _ "github.com/tasker-go/tasker/taskersub/taskernats"
//
// It is a package of its own so that programs without NATS subscriptions do
// not link the NATS client. It imports taskersub and the NATS client, never
// the root package.
package taskernats
