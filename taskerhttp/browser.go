package taskerhttp

import (
	"net"
	"net/http"
	"slices"
	"strings"
)

// What a browser may do with the API. A page the operator opens must not
// use the operator's reach (a loopback address, a VPN, a cookie-less API
// that trusts its network) to change anything: the Host header is checked
// against an allow-list (DNS rebinding), state-changing requests of another
// origin are refused (Go's http.CrossOriginProtection: Sec-Fetch-Site, else
// Origin against Host), and every POST, PUT and PATCH must say
// Content-Type: application/json, which no HTML form can send. A separate
// front end is let in by Options.CORSOrigins, off by default.

// The CORS answers: what an allowed origin may send and read.
const (
	corsAllowMethods  = "GET, POST, PUT, PATCH, DELETE"
	corsAllowHeaders  = "Authorization, Content-Type, Idempotency-Key, X-Request-Id"
	corsExposeHeaders = "X-Request-Id, Retry-After, Location"
	corsMaxAge        = "600"
)

// browserGuard holds the checks of this file, built once by NewHandler.
type browserGuard struct {
	anyHost bool
	hosts   []string // lower case; "name", "name:port", ".suffix"
	origins []string // exact origins, "scheme://host[:port]"
	cop     *http.CrossOriginProtection
}

func newBrowserGuard(opts *Options) *browserGuard {
	g := &browserGuard{cop: http.NewCrossOriginProtection()}
	for _, h := range opts.AllowedHosts {
		h = strings.ToLower(strings.TrimSpace(h))
		switch {
		case h == "":
		case h == "*":
			g.anyHost = true
		case strings.HasPrefix(h, "*."):
			g.hosts = append(g.hosts, h[1:])
		default:
			g.hosts = append(g.hosts, strings.TrimSuffix(h, "."))
		}
	}
	for _, o := range opts.CORSOrigins {
		o = strings.TrimSuffix(strings.TrimSpace(o), "/")
		if o == "" {
			continue
		}
		if err := g.cop.AddTrustedOrigin(o); err != nil {
			opts.Logger.Warn("taskerhttp: CORS origin ignored", "origin", o, "error", err)
			continue
		}
		g.origins = append(g.origins, o)
	}
	return g
}

// ValidOrigin reports whether o can be a CORS origin of Options.CORSOrigins:
// "scheme://host" or "scheme://host:port", nothing after.
func ValidOrigin(o string) bool {
	return http.NewCrossOriginProtection().AddTrustedOrigin(strings.TrimSuffix(o, "/")) == nil
}

// hostAllowed reports whether r's Host header names this server: a loopback
// name or address (localhost, *.localhost, 127.0.0.0/8, ::1), the address
// the request came in on, or an entry of Options.AllowedHosts. A request
// without a Host (HTTP/1.0) is allowed: browsers always send one.
func (g *browserGuard) hostAllowed(r *http.Request) bool {
	if g.anyHost || r.Host == "" {
		return true
	}
	full := strings.ToLower(r.Host)
	name := full
	if h, _, err := net.SplitHostPort(full); err == nil {
		name = h
	}
	name = strings.TrimSuffix(strings.Trim(name, "[]"), ".")
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return true
	}
	if ip := net.ParseIP(name); ip != nil {
		if ip.IsLoopback() {
			return true
		}
		if la, ok := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr); ok && la.IP.Equal(ip) {
			return true
		}
	}
	for _, h := range g.hosts {
		switch {
		case strings.HasPrefix(h, "."):
			if strings.HasSuffix(name, h) {
				return true
			}
		case h == name || h == full || strings.Trim(h, "[]") == name:
			return true
		}
	}
	return false
}

// cors adds the CORS headers of an allowed origin to the answer, and
// answers a preflight (OPTIONS with Access-Control-Request-Method): 204
// with what the origin may send when it is allowed, else 403. It reports
// whether it answered.
func (g *browserGuard) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	if origin == "" {
		return false
	}
	if len(g.origins) > 0 {
		w.Header().Add("Vary", "Origin")
	}
	allowed := slices.Contains(g.origins, origin)
	if allowed {
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Set("Access-Control-Expose-Headers", corsExposeHeaders)
	}
	if !preflight {
		return false
	}
	if !allowed {
		msg := "cross-origin requests are not enabled on this server"
		if len(g.origins) > 0 {
			msg = "origin " + origin + " may not use this API"
		}
		writeError(w, http.StatusForbidden, "cors_origin_not_allowed",
			msg+": list the front end's origin in --cors-origins ($TASKER_CORS_ORIGINS, Options.CORSOrigins)", nil)
		return true
	}
	w.Header().Set("Access-Control-Allow-Methods", corsAllowMethods)
	w.Header().Set("Access-Control-Allow-Headers", corsAllowHeaders)
	w.Header().Set("Access-Control-Max-Age", corsMaxAge)
	w.WriteHeader(http.StatusNoContent)
	return true
}

// screen runs the checks a request meets before its route: the Host, CORS
// and the origin of a state-changing request. It reports whether it
// answered the request.
func (g *browserGuard) screen(w http.ResponseWriter, r *http.Request) bool {
	if !g.hostAllowed(r) {
		writeError(w, http.StatusMisdirectedRequest, "host_not_allowed",
			"Host "+r.Host+" is not a name of this server: add it to --allowed-hosts ($TASKER_ALLOWED_HOSTS, Options.AllowedHosts) if it is one", nil)
		return true
	}
	if g.cors(w, r) {
		return true
	}
	if err := g.cop.Check(r); err != nil {
		writeError(w, http.StatusForbidden, "cross_origin_refused",
			"cross-origin "+r.Method+" refused: a web page of another origin may not change anything here (a front end's origin can be allowed with --cors-origins)", nil)
		return true
	}
	return false
}

// needsJSON reports whether a request must carry a JSON Content-Type even
// without a body: every POST, PUT and PATCH (no HTML form can send one, and
// a cross-origin fetch that sets it needs a CORS preflight). DELETE is
// bodiless by design.
func needsJSON(r *http.Request) bool {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		return true
	}
	return false
}

// unsupportedMediaType is the 415 of a body that is not declared as JSON.
func unsupportedMediaType(r *http.Request) *apiError {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = "none"
	}
	return &apiError{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
		Message: "Content-Type " + ct + " is not supported: send \"Content-Type: application/json\" (with a JSON body, or none where the body is optional)"}
}
