// Package taskerauth is the authentication and authorization room of Tasker
// for Go: who made a request (an Authenticator returns a Principal) and
// whether it may do what it asks (an Authorizer checks a permission). The
// REST server and `tasker serve` use it; a Go program can plug its own
// authenticator or authorizer (an OIDC proxy header, mTLS client
// certificates, a policy engine) through the same two interfaces.
//
// Permissions are the original engine's "resource:action" strings
// ("tasker.task:index"), granted as such, as "resource:*" (every action of
// the resource) or as "*" (everything). Allows is the only comparison;
// ValidatePermission checks a grant a person types. This package keeps
// permissions as plain strings: the names of Tasker's operations belong to
// the API that checks them (taskerhttp).
//
// Credentials arrive as "Authorization: Bearer <credential>" (BearerToken).
// JWT verifies JSON Web Tokens signed with a shared HS256 secret or with
// the RSA/EC keys of a JWKS (fetched, cached and refreshed, also when a
// token names an unknown key, so that a key rotation is picked up). Chain
// combines authenticators: each answers ErrNoCredential for a credential
// it does not handle, so Chain(jwt, apiTokens) lets the API-token
// authenticator see the bearer values that are not JWTs.
//
// Errors: ErrNoCredential and ErrInvalidCredential mean 401, ErrForbidden
// (a *ForbiddenError naming the permission) means 403. The message of an
// invalid-credential error is safe to show to the caller; it never contains
// the credential.
//
// The package imports the standard library, github.com/golang-jwt/jwt/v5
// and internal/permission (the one rule of a permission's form, shared
// with the root package's API tokens) only: never the root package nor an
// API package, so that every API and program can use it.
package taskerauth
