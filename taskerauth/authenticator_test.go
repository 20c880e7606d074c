package taskerauth_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerauth"
)

func TestChain(t *testing.T) {
	t.Parallel()
	var calls []string
	fixed := func(name string, p *taskerauth.Principal, err error) taskerauth.Authenticator {
		return taskerauth.AuthenticatorFunc(func(*http.Request) (*taskerauth.Principal, error) {
			calls = append(calls, name)
			return p, err
		})
	}
	alice := &taskerauth.Principal{Subject: "alice", Method: "a"}
	bob := &taskerauth.Principal{Subject: "bob", Method: "b"}
	boom := errors.New("database down")
	r := httptest.NewRequest(http.MethodGet, "/", nil)

	run := func(a taskerauth.Authenticator) (*taskerauth.Principal, error) {
		calls = nil
		return a.Authenticate(r)
	}

	// The first answer that is not "no credential" wins.
	p, err := run(taskerauth.Chain(fixed("none", nil, taskerauth.ErrNoCredential), fixed("a", alice, nil), fixed("b", bob, nil)))
	require.NoError(t, err)
	require.Same(t, alice, p)
	require.Equal(t, []string{"none", "a"}, calls)

	// An invalid credential stops the chain: a later authenticator must not
	// rescue a credential the earlier one refused.
	bad := taskerauth.InvalidCredential("the token has expired")
	_, err = run(taskerauth.Chain(fixed("bad", nil, bad), fixed("b", bob, nil)))
	require.ErrorIs(t, err, taskerauth.ErrInvalidCredential)
	require.Equal(t, "the token has expired", err.Error())
	require.Equal(t, []string{"bad"}, calls)

	// A failure stops it too.
	_, err = run(taskerauth.Chain(fixed("boom", nil, boom), fixed("b", bob, nil)))
	require.ErrorIs(t, err, boom)
	require.NotErrorIs(t, err, taskerauth.ErrInvalidCredential)

	// Nobody handles it: no credential. Nil entries are skipped.
	_, err = run(taskerauth.Chain(nil, fixed("none", nil, taskerauth.ErrNoCredential)))
	require.ErrorIs(t, err, taskerauth.ErrNoCredential)
	_, err = run(taskerauth.Chain())
	require.ErrorIs(t, err, taskerauth.ErrNoCredential)

	// A wrapped ErrNoCredential counts as "not mine".
	p, err = run(taskerauth.Chain(fixed("w", nil, errors.Join(taskerauth.ErrNoCredential)), fixed("b", bob, nil)))
	require.NoError(t, err)
	require.Same(t, bob, p)

	// A broken authenticator (no principal, no error) never authenticates.
	p, err = run(taskerauth.Chain(fixed("broken", nil, nil), fixed("b", bob, nil)))
	require.Error(t, err)
	require.Nil(t, p)
	require.NotErrorIs(t, err, taskerauth.ErrNoCredential)
}
