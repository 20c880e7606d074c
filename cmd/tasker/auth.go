package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/spf13/pflag"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskerauth"
	"github.com/tasker-go/tasker/taskerhttp"
)

// authFlags are serve's credential settings (docs/security.md).
type authFlags struct {
	jwtSecret, jwksURL, issuer, audience string
	roles                                []string // --auth-role NAME=PERM[,PERM...], repeated
	public                               []string // --auth-public OP[,OP...]
}

func (f *authFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.jwtSecret, "auth-jwt-secret", "", "accept JWTs signed with HS256 and this shared secret (at least 32 bytes; prefer the environment variable) [$TASKER_AUTH_JWT_SECRET]")
	fs.StringVar(&f.jwksURL, "auth-jwks-url", "", "accept JWTs signed (RS256, ES256, ...) by a key of this JWKS, fetched and refreshed [$TASKER_AUTH_JWKS_URL]")
	fs.StringVar(&f.issuer, "auth-issuer", "", "with a JWT configuration: the required iss claim [$TASKER_AUTH_ISSUER]")
	fs.StringVar(&f.audience, "auth-audience", "", "with a JWT configuration: the required aud claim [$TASKER_AUTH_AUDIENCE]")
	fs.StringSliceVar(&f.public, "auth-public", nil, "operations served without a credential, comma-separated, from "+publicChoices()+" (for a Prometheus scraper or a load balancer that sends no token) [$TASKER_AUTH_PUBLIC]")
	fs.StringArrayVar(&f.roles, "auth-role", nil, "with a JWT configuration: NAME=PERM[,PERM...] grants the permissions to a JWT whose roles claim holds NAME; repeat for more roles [$TASKER_AUTH_ROLES: the same, separated by ;]")
}

// publicChoices lists the operations --auth-public accepts.
func publicChoices() string {
	names := make([]string, len(taskerhttp.PublicOperationsAllowed))
	for i, op := range taskerhttp.PublicOperationsAllowed {
		names[i] = string(op)
	}
	return strings.Join(names, ", ")
}

// publicOperations reads --auth-public into Options.PublicOperations.
func (f *authFlags) publicOperations() ([]taskerhttp.Operation, error) {
	ops := make([]taskerhttp.Operation, 0, len(f.public))
	for _, v := range f.public {
		op := taskerhttp.Operation(strings.TrimSpace(v))
		if err := taskerhttp.ValidPublicOperation(op); err != nil {
			return nil, fmt.Errorf("--auth-public (or $TASKER_AUTH_PUBLIC): %w", err)
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// parseRoles reads --auth-role values (NAME=PERM[,PERM...]) into the role
// map of JWTConfig.Roles. Each permission must be well formed
// (taskerauth.ValidatePermission); a role may be given once.
func parseRoles(values []string) (map[string][]string, error) {
	const fix = "write --auth-role NAME=PERM[,PERM...], such as ops='tasker.task:*,tasker.handler:index' (or TASKER_AUTH_ROLES='ops=tasker.task:*;viewer=tasker.task:index')"
	roles := make(map[string][]string, len(values))
	for _, v := range values {
		name, list, ok := strings.Cut(v, "=")
		name = strings.TrimSpace(name)
		switch {
		case !ok:
			return nil, fmt.Errorf("--auth-role %q has no '=': %s", v, fix)
		case name == "" || strings.ContainsAny(name, ",;") || strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r == 0x7f }):
			return nil, fmt.Errorf("--auth-role %q: the role name must be non-empty, without spaces, control characters, ',' or ';': %s", v, fix)
		case roles[name] != nil:
			return nil, fmt.Errorf("--auth-role: role %q is given twice: list all its permissions in one value, %s=PERM1,PERM2", name, name)
		}
		var perms []string
		for p := range strings.SplitSeq(list, ",") {
			p = strings.TrimSpace(p)
			if err := taskerauth.ValidatePermission(p); err != nil {
				return nil, fmt.Errorf("--auth-role %q: %w", v, err)
			}
			perms = append(perms, p)
		}
		roles[name] = perms
	}
	return roles, nil
}

// jwt returns the JWT authenticator the flags configure, or nil.
func (f *authFlags) jwt(logger *slog.Logger) (*taskerauth.JWT, error) {
	if f.jwtSecret == "" && f.jwksURL == "" {
		if f.issuer != "" || f.audience != "" {
			return nil, fmt.Errorf("--auth-issuer and --auth-audience need --auth-jwt-secret or --auth-jwks-url")
		}
		if len(f.roles) > 0 {
			return nil, fmt.Errorf("--auth-role (or $TASKER_AUTH_ROLES) maps the roles claim of JWTs: it needs --auth-jwt-secret or --auth-jwks-url")
		}
		return nil, nil
	}
	roles, err := parseRoles(f.roles)
	if err != nil {
		return nil, err
	}
	if f.jwtSecret != "" && f.jwksURL != "" {
		return nil, fmt.Errorf("--auth-jwt-secret and --auth-jwks-url exclude each other: give one")
	}
	j, err := taskerauth.NewJWT(taskerauth.JWTConfig{
		Secret: []byte(f.jwtSecret), JWKSURL: f.jwksURL, Issuer: f.issuer, Audience: f.audience, Roles: roles, Logger: logger,
	})
	if err != nil {
		return nil, fmt.Errorf("JWT configuration (--auth-*): %w", err)
	}
	return j, nil
}

// checkAuthOn applies serve's secure default: authentication is on when a
// JWT configuration is given or an API token exists in the database;
// without either, serve listens only on a loopback address (with a
// warning) unless told --insecure-no-auth.
func (a *app) checkAuthOn(ctx context.Context, c *tasker.Client, jwtOn bool, addr string, insecure bool) error {
	if jwtOn {
		return nil
	}
	exist, err := c.TokensExist(ctx)
	if err != nil {
		return fmt.Errorf("checking for API tokens: %w", err)
	}
	if exist {
		return nil
	}
	if !isLoopbackAddr(addr) && !insecure {
		return fmt.Errorf("--addr %s is not a loopback address and no credential is configured: create an API token (tasker token create NAME --permission '*'), "+
			"give --auth-jwt-secret or --auth-jwks-url, or accept an open server with --insecure-no-auth", addr)
	}
	a.logger().Warn("tasker serve: authentication is off: no API token exists and no JWT configuration is given; " +
		"anyone who can reach the address can do anything. Create a token (tasker token create) to turn it on.")
	return nil
}

// isLoopbackAddr reports whether the HOST of HOST:PORT names only loopback
// interfaces (localhost, 127.0.0.0/8, ::1). An empty host (all interfaces)
// is not.
func isLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
