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
	proxyHeader, proxyGroups             string   // --auth-proxy-header, --auth-proxy-groups-header
	proxyTrusted, proxyPerms             []string // --auth-proxy-trusted, --auth-proxy-permissions
}

func (f *authFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.jwtSecret, "auth-jwt-secret", "", "accept JWTs signed with HS256 and this shared secret (at least 32 bytes; prefer the environment variable) [$TASKER_AUTH_JWT_SECRET]")
	fs.StringVar(&f.jwksURL, "auth-jwks-url", "", "accept JWTs signed (RS256, ES256, ...) by a key of this JWKS, fetched and refreshed [$TASKER_AUTH_JWKS_URL]")
	fs.StringVar(&f.issuer, "auth-issuer", "", "with a JWT configuration: the required iss claim [$TASKER_AUTH_ISSUER]")
	fs.StringVar(&f.audience, "auth-audience", "", "with a JWT configuration: the required aud claim [$TASKER_AUTH_AUDIENCE]")
	fs.StringSliceVar(&f.public, "auth-public", nil, "operations served without a credential, comma-separated, from "+publicChoices()+" (for a Prometheus scraper or a load balancer that sends no token) [$TASKER_AUTH_PUBLIC]")
	fs.StringArrayVar(&f.roles, "auth-role", nil, "with a JWT or trusted-proxy configuration: NAME=PERM[,PERM...] grants the permissions to a JWT whose roles claim holds NAME, or to a proxy user whose groups header names it; repeat for more roles [$TASKER_AUTH_ROLES: the same, separated by ;]")
	fs.StringVar(&f.proxyHeader, "auth-proxy-header", "", "believe the user named by this header (such as X-Forwarded-User) on requests from --auth-proxy-trusted: single sign-on through an authenticating proxy [$TASKER_AUTH_PROXY_HEADER]")
	fs.StringVar(&f.proxyGroups, "auth-proxy-groups-header", "", "with --auth-proxy-header: the header of the user's groups, comma-separated, matched against --auth-role names [$TASKER_AUTH_PROXY_GROUPS_HEADER]")
	fs.StringSliceVar(&f.proxyTrusted, "auth-proxy-trusted", nil, "with --auth-proxy-header: the proxy's addresses, CIDR prefixes or addresses, comma-separated; the header from any other address is refused [$TASKER_AUTH_PROXY_TRUSTED]")
	fs.StringSliceVar(&f.proxyPerms, "auth-proxy-permissions", nil, "with --auth-proxy-header: permissions of every proxy user, comma-separated (more by --auth-role and their groups) [$TASKER_AUTH_PROXY_PERMISSIONS]")
}

// proxy returns the trusted-proxy authenticator the flags configure, or nil.
func (f *authFlags) proxy() (*taskerauth.TrustedProxy, error) {
	if f.proxyHeader == "" {
		if f.proxyGroups != "" || len(f.proxyTrusted) > 0 || len(f.proxyPerms) > 0 {
			return nil, fmt.Errorf("--auth-proxy-groups-header, --auth-proxy-trusted and --auth-proxy-permissions need --auth-proxy-header (or $TASKER_AUTH_PROXY_HEADER)")
		}
		return nil, nil
	}
	trusted, err := taskerauth.ParsePrefixes(f.proxyTrusted)
	if err != nil {
		return nil, fmt.Errorf("--auth-proxy-trusted (or $TASKER_AUTH_PROXY_TRUSTED): %w", err)
	}
	if len(trusted) == 0 {
		return nil, fmt.Errorf("--auth-proxy-header needs --auth-proxy-trusted: the proxy's addresses, such as 10.0.0.5 or 10.0.0.0/24 (without them anyone could send the header)")
	}
	var roles map[string][]string
	if f.proxyGroups != "" {
		if roles, err = parseRoles(f.roles); err != nil {
			return nil, err
		}
	}
	p, err := taskerauth.NewTrustedProxy(taskerauth.TrustedProxyConfig{
		Header: f.proxyHeader, GroupsHeader: f.proxyGroups, Trusted: trusted, Permissions: f.proxyPerms, Roles: roles,
	})
	if err != nil {
		return nil, fmt.Errorf("trusted-proxy configuration (--auth-proxy-*): %w", err)
	}
	return p, nil
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
		if len(f.roles) > 0 && f.proxyGroups == "" {
			return nil, fmt.Errorf("--auth-role (or $TASKER_AUTH_ROLES) maps the roles claim of JWTs or a proxy's groups: it needs --auth-jwt-secret, --auth-jwks-url or --auth-proxy-groups-header")
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
// JWT or trusted-proxy configuration is given (configured) or an API token
// exists in the database;
// without either, serve listens only on a loopback address (with a
// warning) unless told --insecure-no-auth.
func (a *app) checkAuthOn(ctx context.Context, c *tasker.Client, configured bool, addr string, insecure bool) error {
	if configured {
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
			"give --auth-jwt-secret, --auth-jwks-url or --auth-proxy-header, or accept an open server with --insecure-no-auth", addr)
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
