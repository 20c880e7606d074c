package taskerauth

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// MethodProxy is the method of the principals TrustedProxy makes.
const MethodProxy = "proxy"

// maxGroups bounds the groups TrustedProxy reads from one request.
const maxGroups = 100

// TrustedProxyConfig configures NewTrustedProxy.
type TrustedProxyConfig struct {
	// Header names the request header in which the proxy (an OAuth2 or
	// OIDC proxy, a load balancer with single sign-on) sends the name of the
	// user it authenticated, such as "X-Forwarded-User" or
	// "X-Auth-Request-Email". Required.
	Header string
	// GroupsHeader, when set, names the header of the user's groups,
	// separated by commas, such as "X-Forwarded-Groups"; Roles maps them to
	// permissions.
	GroupsHeader string
	// Trusted are the addresses of the proxies (CIDR prefixes; a single
	// address is a /32 or /128). A request carrying Header from any other
	// address is refused: anyone could send the header. Required.
	Trusted []netip.Prefix
	// Permissions are granted to every user the proxy names.
	Permissions []string
	// Roles maps group names to the permissions they grant.
	Roles map[string][]string
}

// TrustedProxy is an Authenticator that believes the user named by a
// header, on requests that come from a trusted proxy's address (the TCP
// peer, http.Request.RemoteAddr; never a forwarded-for header, which the
// client can write). A request without the header has no credential of
// this kind (ErrNoCredential), so that a chain can go on to API tokens or
// JWTs for programs that reach the server directly.
type TrustedProxy struct {
	header, groups string
	trusted        []netip.Prefix
	perms          []string
	roles          map[string][]string
}

// NewTrustedProxy checks cfg and returns its authenticator.
func NewTrustedProxy(cfg TrustedProxyConfig) (*TrustedProxy, error) {
	header := http.CanonicalHeaderKey(strings.TrimSpace(cfg.Header))
	if header == "" {
		return nil, errors.New("TrustedProxyConfig.Header: name the header in which the proxy sends the user, such as X-Forwarded-User")
	}
	if strings.EqualFold(header, "Authorization") || strings.EqualFold(header, "Cookie") {
		return nil, fmt.Errorf("TrustedProxyConfig.Header: %s carries credentials, not a user's name; name the proxy's user header, such as X-Forwarded-User", header)
	}
	groups := http.CanonicalHeaderKey(strings.TrimSpace(cfg.GroupsHeader))
	if groups == header {
		return nil, errors.New("TrustedProxyConfig.GroupsHeader: it must differ from Header")
	}
	if len(cfg.Trusted) == 0 {
		return nil, errors.New("TrustedProxyConfig.Trusted: give the proxy's addresses (CIDR prefixes): without them anyone could send the header")
	}
	trusted := make([]netip.Prefix, len(cfg.Trusted))
	for i, p := range cfg.Trusted {
		if !p.IsValid() {
			return nil, fmt.Errorf("TrustedProxyConfig.Trusted[%d]: not a valid prefix", i)
		}
		trusted[i] = p.Masked()
	}
	for _, p := range cfg.Permissions {
		if err := ValidatePermission(p); err != nil {
			return nil, fmt.Errorf("TrustedProxyConfig.Permissions: %w", err)
		}
	}
	roles, err := checkRoles("TrustedProxyConfig.Roles", cfg.Roles)
	if err != nil {
		return nil, err
	}
	if len(roles) > 0 && groups == "" {
		return nil, errors.New("TrustedProxyConfig.Roles: roles are matched against the user's groups: set GroupsHeader too")
	}
	return &TrustedProxy{header: header, groups: groups, trusted: trusted, perms: slices.Clone(cfg.Permissions), roles: roles}, nil
}

// ParsePrefixes parses a list of CIDR prefixes or single addresses
// ("10.0.0.0/8", "127.0.0.1", "::1"), as TrustedProxyConfig.Trusted takes
// them.
func ParsePrefixes(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p)
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an address nor a CIDR prefix (such as 10.0.0.0/8)", s)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Header is the name of the user header.
func (t *TrustedProxy) Header() string { return t.header }

// Authenticate implements Authenticator.
func (t *TrustedProxy) Authenticate(r *http.Request) (*Principal, error) {
	values := r.Header.Values(t.header)
	if len(values) == 0 {
		return nil, ErrNoCredential
	}
	if !t.fromProxy(r.RemoteAddr) {
		return nil, InvalidCredential(fmt.Sprintf("the %s header is accepted only from the trusted proxy; send requests through it, or authenticate with a bearer token", t.header))
	}
	if len(values) > 1 {
		return nil, InvalidCredential(fmt.Sprintf("the %s header appears more than once", t.header))
	}
	user := strings.TrimSpace(values[0])
	if user == "" || !printableSubject(user) {
		return nil, InvalidCredential(fmt.Sprintf("the %s header must name the user: printable UTF-8 of at most %d bytes", t.header, maxSubjectBytes))
	}
	var held []string
	if t.groups != "" {
		for _, v := range r.Header.Values(t.groups) {
			for g := range strings.SplitSeq(v, ",") {
				if g = strings.TrimSpace(g); g != "" {
					held = append(held, g)
				}
			}
		}
		if len(held) > maxGroups {
			return nil, InvalidCredential(fmt.Sprintf("the %s header names more than %d groups", t.groups, maxGroups))
		}
	}
	return &Principal{Subject: user, Method: MethodProxy, Permissions: grants(t.perms, t.roles, held)}, nil
}

// fromProxy reports whether remoteAddr (host:port) is a trusted proxy's.
func (t *TrustedProxy) fromProxy(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range t.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
