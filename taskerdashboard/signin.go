package taskerdashboard

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/tasker-go/tasker/taskerauth"
)

var signInTemplate = template.Must(template.ParseFS(assets, "assets/sign-in.html"))

// signInData fills the sign-in page.
type signInData struct {
	Next    string
	Message string
}

// maxSignInBytes bounds the sign-in form (a JWT is at most 8 KiB).
const maxSignInBytes = 16 << 10

func (h *handler) signInPage(w http.ResponseWriter, r *http.Request) {
	h.renderSignIn(w, http.StatusOK, signInData{Next: localPath(r.URL.Query().Get("next"))})
}

func (h *handler) renderSignIn(w http.ResponseWriter, status int, d signInData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = signInTemplate.Execute(w, d)
}

// signIn checks the pasted credential as the API would and keeps it in the
// session cookie: HttpOnly (no script reads it), SameSite=Strict (no other
// site's request carries it), Secure over TLS, for the browser's session.
func (h *handler) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxSignInBytes)
	if err := r.ParseForm(); err != nil {
		h.renderSignIn(w, http.StatusBadRequest, signInData{Message: "The form could not be read: paste the token again."})
		return
	}
	next := localPath(r.PostForm.Get("next"))
	token := strings.TrimSpace(r.PostForm.Get("token"))
	if token == "" {
		h.renderSignIn(w, http.StatusBadRequest, signInData{Next: next, Message: "Paste an API token (tasker token create) or a JWT into the token field."})
		return
	}
	if h.cfg.Authenticator == nil {
		http.Redirect(w, r, next, http.StatusSeeOther) // nothing to sign in to
		return
	}
	probe := r.Clone(r.Context())
	probe.Header = http.Header{"Authorization": {"Bearer " + token}}
	p, err := h.cfg.Authenticator.Authenticate(probe)
	switch {
	case err == nil && p != nil:
	case err == nil, errors.Is(err, taskerauth.ErrNoCredential), errors.Is(err, taskerauth.ErrInvalidCredential):
		msg := "This token was not accepted: it may be mistyped, expired or revoked."
		if err != nil {
			msg = "This token was not accepted: " + err.Error() + "."
		}
		h.renderSignIn(w, http.StatusUnauthorized, signInData{Next: next, Message: msg})
		return
	default:
		h.unavailable(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: taskerauth.SessionCookie, Value: token, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// signOut forgets the session's cookie.
func (h *handler) signOut(w http.ResponseWriter, r *http.Request) {
	clearSession(w, r)
	http.Redirect(w, r, "/sign-in", http.StatusSeeOther)
}

func clearSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: taskerauth.SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}

// localPath returns p when it is a path of this server (not another
// site's, not the sign-in page's), else "/": a sign-in link cannot send
// the user elsewhere.
func localPath(p string) string {
	u, err := url.Parse(p)
	if err != nil || p == "" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.Contains(p, `\`) ||
		u.Scheme != "" || u.Host != "" || strings.HasPrefix(u.Path, "/sign-in") {
		return "/"
	}
	return u.RequestURI()
}
