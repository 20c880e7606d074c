package tasker

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tasker-go/tasker/internal/permission"
	"github.com/tasker-go/tasker/taskerdriver"
)

// API token errors.
var (
	// ErrTokenExists is returned by CreateToken when a token that is not
	// revoked already has the name.
	ErrTokenExists = errors.New("api token name taken")
	// ErrTokenNotFound is returned by RevokeToken when no token that is not
	// revoked has the name. It matches ErrNotFound too.
	ErrTokenNotFound = fmt.Errorf("api token %w", ErrNotFound)
	// ErrTokenInvalid is returned by AuthenticateToken for any credential
	// that does not authenticate: malformed, unknown, a wrong secret,
	// revoked or expired (the reason follows in the message only when the
	// secret was right).
	ErrTokenInvalid = errors.New("invalid api token")
)

// The statuses of an API token (APIToken.Status).
const (
	TokenStatusActive  = "active"
	TokenStatusExpired = "expired"
	TokenStatusRevoked = "revoked"
)

// API token format: "tkr_" + lookup id (16 lowercase hex digits, 8 random
// bytes: public, it finds the row) + "_" + secret (base64url without padding
// of 32 random bytes). Only the SHA-256 of the secret part is stored.
const (
	tokenPrefix      = "tkr_"
	tokenLookupBytes = 8
	tokenSecretBytes = 32
	tokenLookupLen   = 2 * tokenLookupBytes
	tokenSecretLen   = (tokenSecretBytes*8 + 5) / 6 // 43
	tokenLen         = len(tokenPrefix) + tokenLookupLen + 1 + tokenSecretLen

	maxTokenNameLen      = 64
	maxTokenPermissions  = 64
	maxTokenCreatedByLen = 256
)

// tokenSecretEncoding is strict: a secret part whose unused trailing bits
// are not zero is malformed rather than another spelling of the same bytes.
var tokenSecretEncoding = base64.RawURLEncoding.Strict()

// APIToken describes an API token. It never holds the token's secret nor
// its hash.
type APIToken struct {
	// ID is the token's public lookup id, the 16 hex digits after "tkr_" in
	// the token: it tells tokens of the same name apart (a revoked token's
	// name may be reused) and is safe to show and log.
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Permissions []string   `json:"permissions"`
	CreatedBy   string     `json:"created_by,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`

	// status is the status when the client read the token, by its clock.
	status string
}

// Status is "revoked", "expired" or "active", as of when the Client read the
// token (by its clock, Config.Now); for an APIToken made by hand, as of now.
func (t *APIToken) Status() string {
	if t.status != "" {
		return t.status
	}
	return t.StatusAt(time.Now())
}

// StatusAt is the token's status at now: "revoked" once revoked, else
// "expired" from its expiry time on, else "active".
func (t *APIToken) StatusAt(now time.Time) string {
	switch {
	case t.RevokedAt != nil:
		return TokenStatusRevoked
	case t.ExpiresAt != nil && !now.Before(*t.ExpiresAt):
		return TokenStatusExpired
	default:
		return TokenStatusActive
	}
}

// TokenParams describes a new API token.
type TokenParams struct {
	// Name names the token in lists, revocation and the audit trail (the
	// actor of the changes it makes): 1 to 64 of A-Z a-z 0-9 . _ -; unique
	// among the tokens not revoked.
	Name string
	// Permissions are what the token grants: "*" (everything) or
	// "resource:action" names such as "tasker.task:index", with "*" as the
	// action for all of a resource's ("tasker.task:*"). At least one.
	Permissions []string
	// ExpiresIn is the token's lifetime; 0 means it never expires.
	ExpiresIn time.Duration
	// CreatedBy records who made the token (free text, for the audit).
	CreatedBy string
}

// CreateToken makes an API token and returns its secret, the only time the
// secret is available: the database keeps only its SHA-256. The token is
// usable at once by every Client (every serve process) on the database.
func (c *Client) CreateToken(ctx context.Context, p TokenParams) (string, *APIToken, error) {
	perms, err := p.validate()
	if err != nil {
		return "", nil, err
	}
	var raw [tokenLookupBytes + tokenSecretBytes]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", nil, fmt.Errorf("tasker: api token randomness: %w", err)
	}
	lookup := hex.EncodeToString(raw[:tokenLookupBytes])
	secret := tokenSecretEncoding.EncodeToString(raw[tokenLookupBytes:])
	now := c.cfg.Now().UTC()
	ip := &taskerdriver.TokenInsertParams{
		Name: p.Name, LookupID: lookup, SecretHash: hashTokenSecret(secret), Permissions: perms,
		CreatedBy: p.CreatedBy, Now: now,
	}
	if p.ExpiresIn > 0 {
		ip.ExpiresAt = now.Add(p.ExpiresIn)
	}
	row, err := c.exec.TokenInsert(ctx, ip)
	if errors.Is(err, taskerdriver.ErrAlreadyExists) {
		return "", nil, fmt.Errorf("%w: a token named %q exists: revoke it first (tasker token revoke %s) or choose another name",
			ErrTokenExists, p.Name, p.Name)
	}
	if err != nil {
		return "", nil, fmt.Errorf("tasker: create api token: %w", err)
	}
	return tokenPrefix + lookup + "_" + secret, c.apiToken(row, now), nil
}

// hashTokenSecret is the stored form of a secret part. A token's secret is
// 32 bytes from crypto/rand (256 bits of entropy), so nobody can guess it or
// search for it from its hash, however fast the hash: a slow password hash
// (bcrypt, argon2) protects low-entropy secrets chosen by people and would
// only add milliseconds to every authenticated request.
func hashTokenSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Tokens lists every API token, revoked and expired ones included (for the
// audit), oldest first. No secret nor hash is in the list.
func (c *Client) Tokens(ctx context.Context) ([]APIToken, error) {
	rows, err := c.exec.TokenList(ctx, &taskerdriver.TokenListParams{})
	if err != nil {
		return nil, fmt.Errorf("tasker: list api tokens: %w", err)
	}
	now := c.cfg.Now().UTC()
	out := make([]APIToken, len(rows))
	for i, r := range rows {
		out[i] = *c.apiToken(r, now)
	}
	return out, nil
}

// RevokeToken revokes the token of name that is not revoked yet
// (ErrTokenNotFound when there is none). Every Client on the database
// refuses it from then on. The token stays listed, as revoked, and its name
// may be given to a new token.
func (c *Client) RevokeToken(ctx context.Context, name string) error {
	if msg := tokenNameProblem(name); msg != "" {
		return &ValidationError{Message: "invalid api token name", Fields: map[string]string{"name": msg}}
	}
	_, err := c.exec.TokenRevoke(ctx, &taskerdriver.TokenRevokeParams{Name: name, Now: c.cfg.Now().UTC()})
	if errors.Is(err, taskerdriver.ErrNotFound) {
		return fmt.Errorf("%w: no token named %q that is not revoked (tasker token list shows them)", ErrTokenNotFound, name)
	}
	if err != nil {
		return fmt.Errorf("tasker: revoke api token: %w", err)
	}
	return nil
}

// TokensExist reports whether an API token was ever created on the database
// (revoked ones count, so that revoking every token never opens a server
// that required credentials).
func (c *Client) TokensExist(ctx context.Context) (bool, error) {
	ok, err := c.exec.TokenAny(ctx)
	if err != nil {
		return false, fmt.Errorf("tasker: api tokens exist: %w", err)
	}
	return ok, nil
}

// AuthenticateToken returns the token whose secret is token, or an error
// matching ErrTokenInvalid when it is malformed, unknown, has a wrong secret,
// is revoked or expired (by the Client's clock); other errors are the
// database's. Nothing is cached: every call reads the token's row by its
// lookup id (a unique index), so a token created or revoked by any process
// on the database counts at once.
func (c *Client) AuthenticateToken(ctx context.Context, token string) (*APIToken, error) {
	lookup, secret, ok := parseToken(token)
	if !ok {
		return nil, fmt.Errorf("%w: not a tasker api token (tkr_...)", ErrTokenInvalid)
	}
	row, err := c.exec.TokenGet(ctx, lookup)
	if errors.Is(err, taskerdriver.ErrNotFound) {
		// The lookup id is public: answering faster for an unknown one
		// reveals nothing about any secret.
		return nil, fmt.Errorf("%w: unknown token or wrong secret", ErrTokenInvalid)
	}
	if err != nil {
		return nil, fmt.Errorf("tasker: authenticate api token: %w", err)
	}
	if subtle.ConstantTimeCompare(hashTokenSecret(secret), row.SecretHash) != 1 {
		return nil, fmt.Errorf("%w: unknown token or wrong secret", ErrTokenInvalid)
	}
	t := c.apiToken(row, c.cfg.Now().UTC())
	switch t.status {
	case TokenStatusRevoked:
		return nil, fmt.Errorf("%w: token %q is revoked", ErrTokenInvalid, t.Name)
	case TokenStatusExpired:
		return nil, fmt.Errorf("%w: token %q expired at %s", ErrTokenInvalid, t.Name, t.ExpiresAt.Format(time.RFC3339))
	}
	return t, nil
}

// parseToken splits a token into its lookup id and secret part, and reports
// whether it has the exact form CreateToken makes. It looks at nothing else
// when the length is wrong, so a huge input costs nothing.
func parseToken(s string) (lookup, secret string, ok bool) {
	if len(s) != tokenLen || !strings.HasPrefix(s, tokenPrefix) || s[len(tokenPrefix)+tokenLookupLen] != '_' {
		return "", "", false
	}
	lookup = s[len(tokenPrefix) : len(tokenPrefix)+tokenLookupLen]
	secret = s[len(tokenPrefix)+tokenLookupLen+1:]
	for i := range len(lookup) {
		if b := lookup[i]; (b < '0' || b > '9') && (b < 'a' || b > 'f') {
			return "", "", false
		}
	}
	if raw, err := tokenSecretEncoding.DecodeString(secret); err != nil || len(raw) != tokenSecretBytes {
		return "", "", false
	}
	return lookup, secret, true
}

// apiToken is the public view of a stored token, with its status at now.
func (c *Client) apiToken(r *taskerdriver.Token, now time.Time) *APIToken {
	t := &APIToken{ID: r.LookupID, Name: r.Name, Permissions: r.Permissions, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt}
	if !r.ExpiresAt.IsZero() {
		e := r.ExpiresAt
		t.ExpiresAt = &e
	}
	if !r.RevokedAt.IsZero() {
		rv := r.RevokedAt
		t.RevokedAt = &rv
	}
	t.status = t.StatusAt(now)
	return t
}

// validate checks the params and returns the permissions without
// duplicates, in their order.
func (p *TokenParams) validate() ([]string, error) {
	fields := map[string]string{}
	if msg := tokenNameProblem(p.Name); msg != "" {
		fields["name"] = msg
	}
	var perms []string
	seen := map[string]bool{}
	switch {
	case len(p.Permissions) == 0:
		fields["permissions"] = `give at least one, such as "tasker.task:index", "tasker.task:*" or "*" (everything)`
	case len(p.Permissions) > maxTokenPermissions:
		fields["permissions"] = fmt.Sprintf("at most %d; use a wildcard such as \"tasker.task:*\" instead of listing every action", maxTokenPermissions)
	default:
		for i, perm := range p.Permissions {
			if msg := permission.Problem(perm); msg != "" {
				fields[fmt.Sprintf("permissions[%d]", i)] = msg
				continue
			}
			if !seen[perm] {
				seen[perm] = true
				perms = append(perms, perm)
			}
		}
	}
	if p.ExpiresIn < 0 {
		fields["expires_in"] = "must be positive (such as 720h), or 0 for a token that never expires"
	}
	switch {
	case len(p.CreatedBy) > maxTokenCreatedByLen:
		fields["created_by"] = fmt.Sprintf("at most %d bytes", maxTokenCreatedByLen)
	case !utf8.ValidString(p.CreatedBy) || strings.ContainsFunc(p.CreatedBy, isControl):
		fields["created_by"] = "must be UTF-8 text without control characters"
	}
	if len(fields) > 0 {
		return nil, &ValidationError{Message: "invalid api token", Fields: fields}
	}
	return perms, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// tokenNameProblem says what is wrong with a token name, or "".
func tokenNameProblem(name string) string { return nameProblem(name, maxTokenNameLen, "ci-deploy") }

// nameProblem says what is wrong with a name of up to maxLen bytes (an API
// token's, an annotation type's), or "": names are made of the characters
// A-Z a-z 0-9 . _ -; example is shown in the fix.
func nameProblem(name string, maxLen int, example string) string {
	fix := fmt.Sprintf("use 1 to %d of the characters A-Z a-z 0-9 . _ - (such as %s)", maxLen, example)
	if name == "" {
		return "is required: " + fix
	}
	if len(name) > maxLen {
		return "is too long: " + fix
	}
	for i := range len(name) {
		if !isNameByte(name[i]) {
			return "has a character not allowed: " + fix
		}
	}
	return ""
}

func isNameByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '_' || b == '-'
}
