package taskerauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// Defaults of JWTConfig.
const (
	// DefaultLeeway is the clock skew tolerated on exp and nbf. Thirty
	// seconds covers the skew of machines synchronised by NTP without
	// noticeably extending the life of a stolen token.
	DefaultLeeway = 30 * time.Second
	// MaxLeeway is the largest Leeway NewJWT accepts.
	MaxLeeway = 5 * time.Minute
	// DefaultJWKSRefresh is how often the JWKS is fetched again.
	DefaultJWKSRefresh = 5 * time.Minute
	// DefaultJWKSMinRefresh is the shortest time between two fetches, also
	// when a token names an unknown key (a key rotation) or a fetch failed.
	DefaultJWKSMinRefresh = 30 * time.Second
	// DefaultJWKSTimeout bounds one fetch of the JWKS.
	DefaultJWKSTimeout = 10 * time.Second
	// MinSecretBytes is the shortest HS256 secret NewJWT accepts: HS256
	// is as strong as its key, and RFC 7518 §3.2 asks for at least 256 bits.
	MinSecretBytes = 32
)

// maxSubjectBytes bounds the "sub" claim, which the audit trail records.
const maxSubjectBytes = 255

// JWTConfig configures NewJWT. Exactly one of Secret and JWKSURL is set.
type JWTConfig struct {
	// Secret is the shared secret of HS256 tokens (at least
	// MinSecretBytes bytes). Only HS256 is accepted with it.
	Secret []byte
	// JWKSURL is the address of a JSON Web Key Set (RFC 7517) whose RSA and
	// EC signing keys verify RS256/384/512, PS256/384/512 and
	// ES256/384/512 tokens. Each key accepts only the algorithms of its
	// type (and only its "alg" when the key names one); HMAC and "none"
	// are never accepted. It must be https, or http on a loopback host,
	// unless InsecureJWKS is set.
	JWKSURL string
	// InsecureJWKS allows a plain-http JWKSURL on a non-loopback host.
	// Whoever can alter that traffic can then forge every token.
	InsecureJWKS bool
	// Issuer, when set, must equal the token's "iss" claim.
	Issuer string
	// Audience, when set, must be one of the token's "aud" values.
	Audience string
	// Leeway is the clock skew tolerated on "exp" and "nbf": zero means
	// DefaultLeeway, a negative value none. At most MaxLeeway.
	Leeway time.Duration
	// Roles maps the values of the token's "roles" claim (an array of
	// strings) to permissions, added to those of its "permissions" claim.
	// Roles not in the map grant nothing.
	Roles map[string][]string
	// JWKSRefresh is how often the key set is fetched again (zero:
	// DefaultJWKSRefresh). A token naming an unknown "kid" also triggers a
	// fetch, at most once per JWKSMinRefresh (zero: DefaultJWKSMinRefresh).
	JWKSRefresh    time.Duration
	JWKSMinRefresh time.Duration
	// HTTPClient fetches the JWKS (nil: a client with DefaultJWKSTimeout).
	// Each fetch is bounded by DefaultJWKSTimeout in any case.
	HTTPClient *http.Client
	// Logger receives the JWKS fetch failures (nil: discarded).
	Logger *slog.Logger
	// Now is the clock (nil: time.Now), for tests.
	Now func() time.Time
}

// JWT is an Authenticator for JSON Web Tokens (RFC 7519) carried as
// "Authorization: Bearer <token>". See NewJWT.
type JWT struct {
	secret   []byte
	keys     *keySet
	algs     []string
	parser   *jwt.Parser
	roles    map[string][]string
	now      func() time.Time
	issuer   string
	audience string
}

var (
	hmacAlgs = []string{"HS256"}
	rsaAlgs  = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	ecAlgs   = []string{"ES256", "ES384", "ES512"}
)

// NewJWT returns a JWT authenticator. A token is accepted when it is
// signed with an accepted algorithm by the configured key, is not expired
// (the "exp" claim is required) and not before its "nbf", both within the
// leeway, matches Issuer and Audience when they are set, and names its
// subject in "sub". The principal has Method MethodJWT, Subject "sub", and
// the permissions of the "permissions" claim plus those Roles maps the
// "roles" claim to.
//
// Authenticate answers ErrNoCredential for requests without a bearer
// credential and for bearer values that are not shaped like a JWT (three
// dot-separated parts), so that Chain(jwt, apiTokens) works.
//
// With a JWKS, NewJWT does not fetch the keys: the first request does (call
// Refresh to fetch them at start and see an error). When a fetch fails the
// keys last fetched stay in use; until keys are fetched every token is
// refused as an invalid credential.
func NewJWT(cfg JWTConfig) (*JWT, error) {
	j := &JWT{now: cfg.Now, issuer: cfg.Issuer, audience: cfg.Audience}
	if j.now == nil {
		j.now = time.Now
	}
	switch {
	case len(cfg.Secret) > 0 && cfg.JWKSURL != "":
		return nil, errors.New("JWTConfig: set either Secret (HS256) or JWKSURL (RS256/ES256), not both")
	case len(cfg.Secret) > 0:
		if len(cfg.Secret) < MinSecretBytes {
			return nil, fmt.Errorf("JWTConfig.Secret: the secret is %d bytes; use at least %d random bytes (for example the output of `openssl rand -base64 48`)", len(cfg.Secret), MinSecretBytes)
		}
		j.secret = slices.Clone(cfg.Secret)
		j.algs = hmacAlgs
	case cfg.JWKSURL != "":
		if err := checkJWKSURL(cfg.JWKSURL, cfg.InsecureJWKS); err != nil {
			return nil, err
		}
		refresh := cmpDuration(cfg.JWKSRefresh, DefaultJWKSRefresh)
		minRefresh := cmpDuration(cfg.JWKSMinRefresh, DefaultJWKSMinRefresh)
		if refresh < 0 || minRefresh < 0 {
			return nil, errors.New("JWTConfig.JWKSRefresh, JWKSMinRefresh: must not be negative")
		}
		client := cfg.HTTPClient
		if client == nil {
			client = &http.Client{Timeout: DefaultJWKSTimeout}
		}
		logger := cfg.Logger
		if logger == nil {
			logger = slog.New(slog.DiscardHandler)
		}
		j.keys = &keySet{
			url: cfg.JWKSURL, client: client, logger: logger, now: j.now,
			refresh: refresh, minRefresh: minRefresh,
		}
		j.algs = slices.Concat(rsaAlgs, ecAlgs)
	default:
		return nil, errors.New("JWTConfig: set Secret (HS256 shared secret) or JWKSURL (RS256/ES256 key set)")
	}

	leeway := cfg.Leeway
	switch {
	case leeway == 0:
		leeway = DefaultLeeway
	case leeway < 0:
		leeway = 0
	case leeway > MaxLeeway:
		return nil, fmt.Errorf("JWTConfig.Leeway: %s is more than the maximum %s", cfg.Leeway, MaxLeeway)
	}

	var err error
	if j.roles, err = checkRoles("JWTConfig.Roles", cfg.Roles); err != nil {
		return nil, err
	}

	opts := []jwt.ParserOption{
		jwt.WithValidMethods(j.algs),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(j.now),
		jwt.WithExpirationRequired(),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	j.parser = jwt.NewParser(opts...)
	return j, nil
}

func cmpDuration(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func checkJWKSURL(raw string, insecure bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("JWTConfig.JWKSURL: %q is not an http(s) URL; use the key set address of your identity provider, such as https://idp.example.com/.well-known/jwks.json", raw)
	}
	if u.Scheme == "http" && !insecure && !isLoopback(u.Hostname()) {
		return fmt.Errorf("JWTConfig.JWKSURL: %q is plain http on a non-loopback host, so anyone on the path could forge tokens; use https", raw)
	}
	return nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Refresh fetches the JWKS now (a no-op for an HS256 configuration). Its
// error carries the detail an operator needs (address, status); it is not
// for callers of the API.
func (j *JWT) Refresh(ctx context.Context) error {
	if j.keys == nil {
		return nil
	}
	return j.keys.fetchNow(ctx)
}

// Authenticate implements Authenticator.
func (j *JWT) Authenticate(r *http.Request) (*Principal, error) {
	raw, err := BearerToken(r)
	if err != nil {
		return nil, err
	}
	return j.authenticateToken(r.Context(), raw)
}

// jwtShaped reports whether raw has the form of a JWS compact
// serialisation: three non-empty base64url parts (the signature part may be
// empty only for "alg: none", which is refused later, so it is allowed
// here to give that token a clear answer).
func jwtShaped(raw string) bool {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return false
	}
	for _, p := range parts {
		for i := 0; i < len(p); i++ {
			if !isBase64URL(p[i]) {
				return false
			}
		}
	}
	return true
}

func isBase64URL(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '=':
		return true
	}
	return false
}

type tokenClaims struct {
	jwt.RegisteredClaims
	Permissions []string `json:"permissions"`
	Roles       []string `json:"roles"`
}

func (j *JWT) authenticateToken(ctx context.Context, raw string) (*Principal, error) {
	if !jwtShaped(raw) {
		return nil, ErrNoCredential
	}
	var claims tokenClaims
	tok, err := j.parser.ParseWithClaims(raw, &claims, func(t *jwt.Token) (any, error) {
		return j.key(ctx, t)
	})
	if err != nil {
		return nil, j.explain(tok, err)
	}
	sub := claims.Subject
	if sub == "" {
		return nil, InvalidCredential(`the token has no subject (claim "sub")`)
	}
	if !printableSubject(sub) {
		return nil, InvalidCredential(`the token's subject (claim "sub") must be printable UTF-8 of at most 255 bytes`)
	}
	return &Principal{Subject: sub, Method: MethodJWT, Permissions: grants(claims.Permissions, j.roles, claims.Roles)}, nil
}

// printableSubject reports whether sub can name an actor in the audit
// trail: printable UTF-8 of at most maxSubjectBytes.
func printableSubject(sub string) bool {
	return len(sub) <= maxSubjectBytes && utf8.ValidString(sub) && !strings.ContainsFunc(sub, unicode.IsControl)
}

// checkRoles validates a map of role names to permissions (field names it
// in errors) and returns a copy.
func checkRoles(field string, roles map[string][]string) (map[string][]string, error) {
	if len(roles) == 0 {
		return nil, nil
	}
	out := make(map[string][]string, len(roles))
	for role, perms := range roles {
		if role == "" {
			return nil, fmt.Errorf("%s: a role name is empty", field)
		}
		for _, p := range perms {
			if err := ValidatePermission(p); err != nil {
				return nil, fmt.Errorf("%s[%q]: %w", field, role, err)
			}
		}
		out[role] = slices.Clone(perms)
	}
	return out, nil
}

// grants are direct permissions plus those roles maps the held roles to,
// sorted, without repeats.
func grants(direct []string, roles map[string][]string, held []string) []string {
	perms := slices.Clone(direct)
	for _, role := range held {
		perms = append(perms, roles[role]...)
	}
	slices.Sort(perms)
	return slices.Compact(perms)
}

// key is the jwt.Keyfunc: it pins the algorithm and finds the key.
func (j *JWT) key(ctx context.Context, t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	if !slices.Contains(j.algs, alg) {
		return nil, errAlgorithm
	}
	if j.secret != nil {
		return j.secret, nil
	}
	kid, ok := t.Header["kid"].(string)
	if _, present := t.Header["kid"]; present && !ok {
		return nil, errUnknownKey
	}
	return j.keys.lookup(ctx, kid, alg)
}

var (
	errAlgorithm  = errors.New("signing algorithm not accepted")
	errUnknownKey = errors.New("signing key not in the key set")
	errNoKeys     = errors.New("signing keys unavailable")
)

// explain turns a parse error into an invalid-credential error whose
// message is safe to show: it names the reason, never the token's content.
func (j *JWT) explain(tok *jwt.Token, err error) error {
	switch {
	case errors.Is(err, errNoKeys):
		return invalid("cannot verify the token: the signing keys are unavailable", err)
	case errors.Is(err, errUnknownKey):
		return invalid(`the token's signing key (header "kid") is not in the key set`, err)
	case errors.Is(err, errAlgorithm) || !j.algAccepted(tok):
		return invalid(fmt.Sprintf("the token's signing algorithm is not accepted (accepted: %s)", strings.Join(j.algs, ", ")), err)
	case errors.Is(err, jwt.ErrTokenMalformed):
		return invalid("the token is malformed", err)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return invalid("the token's signature is invalid", err)
	case errors.Is(err, jwt.ErrTokenExpired):
		return invalid("the token has expired", err)
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return invalid("the token is not valid yet", err)
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return invalid(fmt.Sprintf("the token's issuer (claim \"iss\") is not %q", j.issuer), err)
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return invalid(fmt.Sprintf("the token's audience (claim \"aud\") does not include %q", j.audience), err)
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return invalid(`the token lacks a required claim ("exp", or "iss"/"aud" when they are checked)`, err)
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		return invalid("the token's claims are invalid", err)
	default:
		return invalid("the token is not valid", err)
	}
}

// algAccepted reports whether tok's header names an accepted algorithm
// (true when the header could not be read: that is a malformed token).
func (j *JWT) algAccepted(tok *jwt.Token) bool {
	if tok == nil || tok.Header == nil {
		return true
	}
	alg, _ := tok.Header["alg"].(string)
	return slices.Contains(j.algs, alg)
}
