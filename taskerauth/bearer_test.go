package taskerauth_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerauth"
)

func TestBearerToken(t *testing.T) {
	t.Parallel()
	type want struct {
		token string
		err   error
	}
	cases := map[string]want{
		"Bearer abc.def-ghi_jkl":   {token: "abc.def-ghi_jkl"},
		"bearer abc":               {token: "abc"},
		"BEARER abc":               {token: "abc"},
		"  Bearer    abc  ":        {token: "abc"},
		"Bearer tok=+/~":           {token: "tok=+/~"},
		"":                         {err: taskerauth.ErrNoCredential},
		"   ":                      {err: taskerauth.ErrNoCredential},
		"Basic YWxhZGRpbjpvcGVuc2": {err: taskerauth.ErrNoCredential},
		"Token abc":                {err: taskerauth.ErrNoCredential},
		"Bearer":                   {err: taskerauth.ErrInvalidCredential},
		"Bearer   ":                {err: taskerauth.ErrInvalidCredential},
		"Bearer a b":               {err: taskerauth.ErrInvalidCredential},
		"Bearer\tabc":              {err: taskerauth.ErrInvalidCredential},
		"Bearer abc\x00":           {err: taskerauth.ErrInvalidCredential},
		"Bearer abc\x7f":           {err: taskerauth.ErrInvalidCredential},
		"Bearer h\u00e9llo":        {err: taskerauth.ErrInvalidCredential},
		"Bearer \xff\xfe":          {err: taskerauth.ErrInvalidCredential},
		"B\xffarer abc":            {err: taskerauth.ErrInvalidCredential},
		"Bearer " + strings.Repeat("a", taskerauth.MaxCredentialBytes): {err: taskerauth.ErrInvalidCredential},
	}
	for header, w := range cases {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		got, err := taskerauth.BearerToken(r)
		if w.err != nil {
			require.ErrorIs(t, err, w.err, "%q", header)
			require.Empty(t, got)
			// The message never echoes the credential.
			if cred := strings.TrimSpace(header); errors.Is(err, taskerauth.ErrInvalidCredential) && len(cred) > 8 {
				require.NotContains(t, err.Error(), cred[7:], "%q", header)
			}
			continue
		}
		require.NoError(t, err, "%q", header)
		require.Equal(t, w.token, got, "%q", header)
	}

	// A token of exactly the longest length passes.
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	long := strings.Repeat("a", taskerauth.MaxCredentialBytes-len("Bearer "))
	r.Header.Set("Authorization", "Bearer "+long)
	got, err := taskerauth.BearerToken(r)
	require.NoError(t, err)
	require.Equal(t, long, got)

	// Two Authorization headers are ambiguous.
	r = httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Add("Authorization", "Bearer a")
	r.Header.Add("Authorization", "Bearer b")
	_, err = taskerauth.BearerToken(r)
	require.ErrorIs(t, err, taskerauth.ErrInvalidCredential)
}
