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
)

// authFlags are serve's credential settings (docs/security.md).
type authFlags struct {
	jwtSecret, jwksURL, issuer, audience string
}

func (f *authFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.jwtSecret, "auth-jwt-secret", "", "accept JWTs signed with HS256 and this shared secret (at least 32 bytes; prefer the environment variable) [$TASKER_AUTH_JWT_SECRET]")
	fs.StringVar(&f.jwksURL, "auth-jwks-url", "", "accept JWTs signed (RS256, ES256, ...) by a key of this JWKS, fetched and refreshed [$TASKER_AUTH_JWKS_URL]")
	fs.StringVar(&f.issuer, "auth-issuer", "", "with a JWT configuration: the required iss claim [$TASKER_AUTH_ISSUER]")
	fs.StringVar(&f.audience, "auth-audience", "", "with a JWT configuration: the required aud claim [$TASKER_AUTH_AUDIENCE]")
}

// jwt returns the JWT authenticator the flags configure, or nil.
func (f *authFlags) jwt(logger *slog.Logger) (*taskerauth.JWT, error) {
	if f.jwtSecret == "" && f.jwksURL == "" {
		if f.issuer != "" || f.audience != "" {
			return nil, fmt.Errorf("--auth-issuer and --auth-audience need --auth-jwt-secret or --auth-jwks-url")
		}
		return nil, nil
	}
	if f.jwtSecret != "" && f.jwksURL != "" {
		return nil, fmt.Errorf("--auth-jwt-secret and --auth-jwks-url exclude each other: give one")
	}
	j, err := taskerauth.NewJWT(taskerauth.JWTConfig{
		Secret: []byte(f.jwtSecret), JWKSURL: f.jwksURL, Issuer: f.issuer, Audience: f.audience, Logger: logger,
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
