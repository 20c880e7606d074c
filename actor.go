package tasker

import "context"

type actorKey struct{}

// WithActor returns ctx carrying actor: who makes the calls made with it (a
// JWT's subject, an API token's name, a user of a Go program). The Client
// records it in the metadata of the transitions those calls cause
// ({"actor": ...} beside the reason: cancel, retry, resolve), of a new
// task's first transition, and of the same-state transition that audits an
// update of a task or a step ({"reason": "updated", "fields": [...]}).
// CreateTask also uses it as the task's initiator when the request names
// none. The REST server sets it from the authenticated principal.
func WithActor(ctx context.Context, actor string) context.Context {
	if actor == "" {
		return ctx
	}
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFrom returns the actor of ctx (see WithActor), or "".
func ActorFrom(ctx context.Context) string {
	a, _ := ctx.Value(actorKey{}).(string)
	return a
}
