package taskerhttp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskerauth"
)

// maxTokenLifetimeSeconds bounds expires_in_seconds (100 years): a longer
// lifetime is a token that never expires, which is written as 0.
const maxTokenLifetimeSeconds = 100 * 365 * 24 * 3600

// tokenView is an API token as the API shows it: never its secret nor its
// hash.
type tokenView struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Status      string     `json:"status"`
	Permissions []string   `json:"permissions"`
	CreatedBy   string     `json:"created_by,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`
}

func newTokenView(t *tasker.APIToken) *tokenView {
	return &tokenView{ID: t.ID, Name: t.Name, Status: t.Status(), Permissions: t.Permissions, CreatedBy: t.CreatedBy,
		CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, RevokedAt: t.RevokedAt}
}

// listTokens answers GET /tasker/tokens: every token, revoked and expired
// ones included, oldest first, without secrets.
func (s *server) listTokens(w http.ResponseWriter, r *http.Request) error {
	toks, err := s.c.Tokens(r.Context())
	if err != nil {
		return err
	}
	out := make([]*tokenView, len(toks))
	for i := range toks {
		out[i] = newTokenView(&toks[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
	return nil
}

// createToken answers POST /tasker/tokens {"name", "permissions",
// "expires_in_seconds"}: 201 with the token (its secret, this only time)
// and its description. The token may grant only what the caller holds.
func (s *server) createToken(w http.ResponseWriter, r *http.Request) error {
	d, err := s.readFields(w, r, "name", "permissions", "expires_in_seconds")
	if err != nil {
		return err
	}
	p := tasker.TokenParams{Name: d.str("name")}
	p.Permissions, _ = d.strings("permissions")
	if d.has("expires_in_seconds") {
		var secs float64
		raw := bytes.TrimSpace(d.m["expires_in_seconds"])
		if err := json.Unmarshal(raw, &secs); err != nil || secs < 0 || secs > maxTokenLifetimeSeconds {
			d.problem("expires_in_seconds", "must be a number of seconds from 0 (never expires) to "+strconv.Itoa(maxTokenLifetimeSeconds)+" (100 years), such as 2592000 for 30 days")
		} else {
			p.ExpiresIn = time.Duration(secs * float64(time.Second))
		}
	}
	if err := d.err(); err != nil {
		return err
	}
	creator, err := s.tokenCreator(r, p.Permissions)
	if err != nil {
		return err
	}
	p.CreatedBy = creator
	secret, tok, err := s.c.CreateToken(r.Context(), p)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store") // the secret must not rest in a cache
	writeJSON(w, http.StatusCreated, map[string]any{"token": newTokenView(tok), "secret": secret})
	return nil
}

// tokenCreator checks that the caller may give every well-formed permission
// of perms (the malformed ones are the client's to name: 400) and returns
// the name to record as the token's creator. The caller is the request's
// principal (Options.Authenticator), which must hold what it grants. A
// server without an Authenticator has no principal: without
// Options.Authorize it is open (every request may do everything), so any
// permission may be given; with Authorize alone, what the caller holds is
// unknown, so no token is made.
func (s *server) tokenCreator(r *http.Request, perms []string) (string, error) {
	p, ok := taskerauth.PrincipalFrom(r.Context())
	if !ok {
		if s.opts.Authorize != nil {
			return "", &apiError{Status: http.StatusForbidden, Code: "forbidden",
				Message: "this server cannot create API tokens: it has no Authenticator (taskerhttp.Options.Authenticator), so it cannot check that a token grants no more than its creator holds"}
		}
		return "", nil
	}
	for i, perm := range perms {
		if taskerauth.ValidatePermission(perm) == nil && !p.CanGrant(perm) {
			field := fmt.Sprintf("permissions[%d]", i)
			return "", &apiError{Status: http.StatusForbidden, Code: "forbidden",
				Message: fmt.Sprintf("%s: the token would grant %q, which this credential (%s) does not hold: a token may grant only permissions its creator holds", field, perm, p.Subject),
				Fields:  map[string]string{field: "grants more than this credential holds"}}
		}
	}
	return p.Subject, nil
}

// revokeToken answers DELETE /tasker/tokens/{name}: the token of that name
// that is not revoked yet is revoked; every server on the database refuses
// it from the next request on.
func (s *server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := s.c.RevokeToken(r.Context(), name); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"revoked": true, "name": name})
	return nil
}
