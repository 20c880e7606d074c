package taskerauth

import "context"

// The methods of the principals this package and Tasker's servers make. A
// custom Authenticator names its own.
const (
	MethodJWT         = "jwt"
	MethodToken       = "token"
	MethodWorkerToken = "worker-token"
	MethodAnonymous   = "anonymous"
)

// Principal is who made a request, as an Authenticator established it.
type Principal struct {
	// Subject names the actor: a JWT's "sub" claim, an API token's name.
	// It is recorded in the audit trail.
	Subject string
	// Method names how the principal was authenticated: MethodJWT,
	// MethodToken, MethodWorkerToken, MethodAnonymous, or a custom
	// authenticator's name.
	Method string
	// Permissions are the grants of the principal ("resource:action",
	// "resource:*" or "*"; see Allows).
	Permissions []string
}

// Can reports whether one of p's permissions covers permission. A nil
// principal can do nothing.
func (p *Principal) Can(permission string) bool {
	if p == nil {
		return false
	}
	return AllowsAny(p.Permissions, permission)
}

// CanGrant reports whether p holds everything grant grants (see Covers), so
// that it may give grant to an API token it creates. A nil principal can
// grant nothing.
func (p *Principal) CanGrant(grant string) bool {
	if p == nil {
		return false
	}
	return Covers(p.Permissions, grant)
}

type principalKey struct{}

// WithPrincipal returns a copy of ctx carrying p, for the handlers behind
// an authenticating middleware (the audit trail reads the actor from it).
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal WithPrincipal stored in ctx.
func PrincipalFrom(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}
