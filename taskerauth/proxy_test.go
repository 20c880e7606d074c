package taskerauth_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerauth"
)

func newProxy(t *testing.T, cfg taskerauth.TrustedProxyConfig) *taskerauth.TrustedProxy {
	t.Helper()
	if cfg.Header == "" {
		cfg.Header = "X-Forwarded-User"
	}
	if cfg.Trusted == nil {
		var err error
		cfg.Trusted, err = taskerauth.ParsePrefixes([]string{"10.1.0.0/16", "::1"})
		require.NoError(t, err)
	}
	p, err := taskerauth.NewTrustedProxy(cfg)
	require.NoError(t, err)
	return p
}

func proxied(from string, headers ...string) *http.Request {
	r := httptest.NewRequest("GET", "/tasker/tasks", nil)
	r.RemoteAddr = from
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

func TestTrustedProxy(t *testing.T) {
	t.Parallel()
	p := newProxy(t, taskerauth.TrustedProxyConfig{
		GroupsHeader: "X-Forwarded-Groups",
		Permissions:  []string{"tasker.task:index"},
		Roles:        map[string][]string{"ops": {"tasker.task:*", "tasker.workflow_step:*"}, "auditors": {"tasker.task:show"}},
	})
	require.Equal(t, "X-Forwarded-User", p.Header())

	// From the proxy: the user, with the base grants and their groups'.
	pr, err := p.Authenticate(proxied("10.1.2.3:5000", "X-Forwarded-User", " ada@example.com ", "X-Forwarded-Groups", "ops, unknown,"))
	require.NoError(t, err)
	require.Equal(t, &taskerauth.Principal{Subject: "ada@example.com", Method: taskerauth.MethodProxy,
		Permissions: []string{"tasker.task:*", "tasker.task:index", "tasker.workflow_step:*"}}, pr)
	require.True(t, pr.Can("tasker.task:cancel"))
	require.False(t, pr.Can("tasker.dead_letter:replay"))

	// IPv6 loopback, no groups: the base grants only.
	pr, err = p.Authenticate(proxied("[::1]:5000", "X-Forwarded-User", "bob"))
	require.NoError(t, err)
	require.Equal(t, []string{"tasker.task:index"}, pr.Permissions)
	// An IPv4 peer seen as IPv4-mapped IPv6 is the same address.
	_, err = p.Authenticate(proxied("[::ffff:10.1.9.9]:5000", "X-Forwarded-User", "bob"))
	require.NoError(t, err)

	// No header: no credential of this kind (a chain goes on).
	_, err = p.Authenticate(proxied("10.1.2.3:5000"))
	require.ErrorIs(t, err, taskerauth.ErrNoCredential)

	// Refused: the header from elsewhere (a forwarded-for header changes
	// nothing), twice, empty, unprintable or too long, too many groups.
	for name, r := range map[string]*http.Request{
		"not the proxy":     proxied("192.0.2.7:5000", "X-Forwarded-User", "mallory", "X-Forwarded-For", "10.1.2.3"),
		"twice":             proxied("10.1.2.3:5000", "X-Forwarded-User", "ada", "X-Forwarded-User", "root"),
		"empty":             proxied("10.1.2.3:5000", "X-Forwarded-User", "  "),
		"control character": proxied("10.1.2.3:5000", "X-Forwarded-User", "ada\x07"),
		"too long":          proxied("10.1.2.3:5000", "X-Forwarded-User", strings.Repeat("a", 256)),
		"too many groups":   proxied("10.1.2.3:5000", "X-Forwarded-User", "ada", "X-Forwarded-Groups", strings.Repeat("g,", 101)),
		"unparsable peer":   proxied("somewhere", "X-Forwarded-User", "ada"),
	} {
		_, err := p.Authenticate(r)
		require.ErrorIs(t, err, taskerauth.ErrInvalidCredential, name)
		require.NotContains(t, err.Error(), "mallory", "%s: the message never echoes the header's value", name)
	}
	_, err = p.Authenticate(proxied("192.0.2.7:5000", "X-Forwarded-User", "mallory"))
	require.ErrorContains(t, err, "accepted only from the trusted proxy")

	// In a chain before API tokens: a request without the header reaches
	// the next authenticator.
	next := taskerauth.AuthenticatorFunc(func(*http.Request) (*taskerauth.Principal, error) {
		return &taskerauth.Principal{Subject: "token", Method: taskerauth.MethodToken}, nil
	})
	pr, err = taskerauth.Chain(p, next).Authenticate(proxied("192.0.2.7:5000"))
	require.NoError(t, err)
	require.Equal(t, "token", pr.Subject)
}

func TestTrustedProxyConfig(t *testing.T) {
	t.Parallel()
	loop, err := taskerauth.ParsePrefixes([]string{"127.0.0.1"})
	require.NoError(t, err)
	require.Equal(t, []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, loop)
	_, err = taskerauth.ParsePrefixes([]string{"10.0.0.0/8", "proxy.local"})
	require.ErrorContains(t, err, `"proxy.local" is neither an address nor a CIDR prefix`)

	for _, tc := range []struct {
		cfg  taskerauth.TrustedProxyConfig
		want string
	}{
		{taskerauth.TrustedProxyConfig{Trusted: loop}, "TrustedProxyConfig.Header: name the header"},
		{taskerauth.TrustedProxyConfig{Header: "authorization", Trusted: loop}, "carries credentials"},
		{taskerauth.TrustedProxyConfig{Header: "X-User"}, "TrustedProxyConfig.Trusted: give the proxy's addresses"},
		{taskerauth.TrustedProxyConfig{Header: "X-User", GroupsHeader: "x-user", Trusted: loop}, "GroupsHeader: it must differ"},
		{taskerauth.TrustedProxyConfig{Header: "X-User", Trusted: []netip.Prefix{{}}}, "Trusted[0]: not a valid prefix"},
		{taskerauth.TrustedProxyConfig{Header: "X-User", Trusted: loop, Permissions: []string{"tasker.task"}}, "TrustedProxyConfig.Permissions"},
		{taskerauth.TrustedProxyConfig{Header: "X-User", Trusted: loop, GroupsHeader: "X-Groups", Roles: map[string][]string{"": {"*"}}},
			"TrustedProxyConfig.Roles: a role name is empty"},
		{taskerauth.TrustedProxyConfig{Header: "X-User", Trusted: loop, Roles: map[string][]string{"ops": {"*"}}}, "set GroupsHeader too"},
	} {
		_, err := taskerauth.NewTrustedProxy(tc.cfg)
		require.ErrorContains(t, err, tc.want)
	}
}
