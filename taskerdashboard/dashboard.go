package taskerdashboard

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskerauth"
)

// Config configures the dashboard. The zero value serves it without
// authentication (every page open, as the API without an Authenticator).
type Config struct {
	// Authenticator establishes who sent each request, from the session
	// cookie (or an Authorization header): the API's. Nil: no sign-in.
	Authenticator taskerauth.Authenticator
	// Authorizer tells which permissions the signed-in user holds, so that
	// pages disable what the user may not do (the API checks again);
	// default taskerauth.PermissionAuthorizer.
	Authorizer taskerauth.Authorizer
	// TraceURL, when set, links a task to its trace: "{trace_id}" in it
	// is replaced by the task's trace id (for example
	// "https://jaeger.example.com/trace/{trace_id}").
	TraceURL string
	// MaxLiveConnections bounds the live feeds (/_/live) one user holds
	// open at once; default 8.
	MaxLiveConnections int
	// LivePoll is how often the live feeds read the database's change
	// feed (tasker.Client.ReadChanges: every process's changes), while at
	// least one is open; default 250ms. Changes made through this process
	// are read at once.
	LivePoll time.Duration
	// Logger receives the errors of the dashboard's own routes; default:
	// discard.
	Logger *slog.Logger
}

// Defaults of Config.
const (
	DefaultMaxLiveConnections = 8
	DefaultLivePoll           = 250 * time.Millisecond
)

//go:embed assets
var assets embed.FS

// pages are the paths of the dashboard's pages: each answers the same
// document, whose script draws the page of its URL.
var pages = []string{
	"GET /{$}",
	"GET /tasks",
	"GET /tasks/{task_id}",
	"GET /templates",
	"GET /templates/{namespace}/{name}/{version}",
	"GET /dead-letters",
}

// Patterns returns the route patterns the dashboard serves (for a mux that
// forwards them to its handler, as taskerhttp's does).
func Patterns() []string {
	return append(append([]string(nil), pages...), "GET /sign-in", "POST /sign-in", "POST /sign-out", "GET /assets/{file}",
		"GET /_/session", "GET /_/live")
}

type handler struct {
	c      *tasker.Client
	cfg    Config
	mux    *http.ServeMux
	static fs.FS
	etags  map[string]string
	live   *liveLimiter
	hub    *changeHub
}

// NewHandler returns the dashboard of c. Mount it at the root of the
// server beside the API (taskerhttp.NewHandler does, Options.Dashboard).
func NewHandler(c *tasker.Client, cfg *Config) http.Handler {
	h := &handler{c: c, mux: http.NewServeMux()}
	if cfg != nil {
		h.cfg = *cfg
	}
	if h.cfg.Authorizer == nil {
		h.cfg.Authorizer = taskerauth.PermissionAuthorizer{}
	}
	if h.cfg.MaxLiveConnections <= 0 {
		h.cfg.MaxLiveConnections = DefaultMaxLiveConnections
	}
	if h.cfg.Logger == nil {
		h.cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if h.cfg.LivePoll <= 0 {
		h.cfg.LivePoll = DefaultLivePoll
	}
	h.live = newLiveLimiter(h.cfg.MaxLiveConnections)
	h.hub = &changeHub{c: c, every: h.cfg.LivePoll, log: h.cfg.Logger, subs: map[chan tasker.Change]struct{}{}}
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded directory exists: a build without it is broken
	}
	h.static = static
	h.etags = etags(static)
	for _, p := range pages {
		h.mux.HandleFunc(p, h.page)
	}
	h.mux.HandleFunc("GET /sign-in", h.signInPage)
	h.mux.HandleFunc("POST /sign-in", h.signIn)
	h.mux.HandleFunc("POST /sign-out", h.signOut)
	h.mux.HandleFunc("GET /assets/{file}", h.asset)
	h.mux.HandleFunc("GET /_/session", h.session)
	h.mux.HandleFunc("GET /_/live", h.liveFeed)
	return h
}

// csp allows scripts, styles, images and connections of this origin only:
// no inline script or style, no eval, no frame.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("X-Frame-Options", "DENY")
	h.mux.ServeHTTP(w, r)
}

// principal authenticates r: the signed-in user, nil and no error when
// nobody is signed in (or the session's credential no longer holds), an
// error when the server could not tell.
func (h *handler) principal(r *http.Request) (*taskerauth.Principal, error) {
	if h.cfg.Authenticator == nil {
		return &taskerauth.Principal{Subject: "anonymous", Method: taskerauth.MethodAnonymous, Permissions: []string{taskerauth.Wildcard}}, nil
	}
	p, err := h.cfg.Authenticator.Authenticate(r)
	switch {
	case err == nil && p != nil:
		return p, nil
	case err == nil, errors.Is(err, taskerauth.ErrNoCredential), errors.Is(err, taskerauth.ErrInvalidCredential):
		return nil, nil
	}
	return nil, err
}

// page answers the document of every page to a signed-in user, and sends
// anyone else to /sign-in (back here once signed in).
func (h *handler) page(w http.ResponseWriter, r *http.Request) {
	p, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	if p == nil {
		if _, cerr := r.Cookie(taskerauth.SessionCookie); cerr == nil {
			clearSession(w, r) // expired or revoked
		}
		http.Redirect(w, r, "/sign-in?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	h.serveAsset(w, r, "index.html")
}

// signedIn returns the request's principal, nil when nobody is signed in;
// when the credential could not be checked (the database may be down), it
// has answered 503 and returns false.
func (h *handler) signedIn(w http.ResponseWriter, r *http.Request) (*taskerauth.Principal, bool) {
	p, err := h.principal(r)
	if err != nil {
		h.unavailable(w, r, err)
		return nil, false
	}
	return p, true
}

// unauthorized answers 401 to an API call of nobody signed in.
func unauthorized(w http.ResponseWriter) {
	writeJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]string{"code": "unauthorized", "message": "sign in at /sign-in"}})
}

func (h *handler) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	h.cfg.Logger.ErrorContext(r.Context(), "dashboard: could not authenticate", "error", err)
	w.Header().Set("Retry-After", "5")
	http.Error(w, "The server could not check your session (the database may be unavailable). Retry in a few seconds.",
		http.StatusServiceUnavailable)
}

// asset serves an embedded file, revalidated by its ETag.
func (h *handler) asset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if name == "index.html" || name == "sign-in.html" || strings.Contains(name, "..") {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	h.serveAsset(w, r, name)
}

func (h *handler) serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	tag, ok := h.etags[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("ETag", tag)
	if r.Header.Get("If-None-Match") == tag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	b, err := fs.ReadFile(h.static, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", contentType(name))
	_, _ = w.Write(b)
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	}
	return "application/octet-stream"
}

// etags are the strong validators of the embedded files.
func etags(static fs.FS) map[string]string {
	out := map[string]string{}
	_ = fs.WalkDir(static, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[p] = `"` + hex.EncodeToString(sum[:8]) + `"`
		return nil
	})
	return out
}

// sessionView is what a page knows of its user.
type sessionView struct {
	Subject string `json:"subject"`
	Method  string `json:"method"`
	// SignIn tells whether the user signed in here (a sign-out button makes
	// sense): not for anonymous use nor for a trusted proxy's users.
	SignIn bool `json:"sign_in"`
	// Permissions tells for every permission whether the user holds it.
	Permissions map[string]bool `json:"permissions"`
	TraceURL    string          `json:"trace_url,omitempty"`
}

// session answers the signed-in user and what they may do; 401 when
// nobody is.
func (h *handler) session(w http.ResponseWriter, r *http.Request) {
	p, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if p == nil {
		unauthorized(w)
		return
	}
	v := sessionView{Subject: p.Subject, Method: p.Method, SignIn: h.cfg.Authenticator != nil && p.Method != taskerauth.MethodAnonymous && p.Method != taskerauth.MethodProxy,
		Permissions: map[string]bool{}, TraceURL: h.cfg.TraceURL}
	ctx := taskerauth.WithPrincipal(r.Context(), p)
	for _, perm := range taskerauth.Permissions() {
		v.Permissions[perm] = h.cfg.Authorizer.Authorize(ctx, p, perm) == nil
	}
	writeJSON(w, http.StatusOK, v)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
