package httpstep

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	srv := echo(t)
	authorization := func(cfg map[string]any, vars map[string]string) (string, error) {
		c := mustParse(t, cfg)
		resp, err := Do(t.Context(), c, &Input{Step: "fetch", LookupEnv: env(vars)})
		if err != nil {
			return "", err
		}
		var e echoed
		require.NoError(t, json.Unmarshal(resp.Body, &e))
		return e.Headers.Get("Authorization"), nil
	}
	bearer := map[string]any{"url": srv.URL, "auth": map[string]any{"type": "bearer", "token_env": "PAYMENTS_TOKEN"}}
	got, err := authorization(bearer, map[string]string{"PAYMENTS_TOKEN": "s3cr3t"})
	require.NoError(t, err)
	require.Equal(t, "Bearer s3cr3t", got)

	basic := map[string]any{"url": srv.URL, "auth": map[string]any{"type": "basic", "username_env": "API_USER", "password_env": "API_PASSWORD"}}
	got, err = authorization(basic, map[string]string{"API_USER": "ada", "API_PASSWORD": "pa:ss"})
	require.NoError(t, err)
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", got)
	user, pass, ok := req.BasicAuth()
	require.True(t, ok)
	require.Equal(t, "ada", user)
	require.Equal(t, "pa:ss", pass)

	// A missing or empty variable is permanent, names the variable and the
	// fix, and never shows a secret.
	for _, tc := range []struct {
		cfg  map[string]any
		vars map[string]string
		want string
	}{
		{bearer, nil, "handler_config.auth.token_env: environment variable PAYMENTS_TOKEN is not set or empty: set it to the bearer token in the environment of every worker that runs this step"},
		{bearer, map[string]string{"PAYMENTS_TOKEN": ""}, "handler_config.auth.token_env: environment variable PAYMENTS_TOKEN is not set or empty: set it to the bearer token in the environment of every worker that runs this step"},
		{bearer, map[string]string{"PAYMENTS_TOKEN": "s3cr3t\nX-Evil: 1"}, "handler_config.auth.token_env: environment variable PAYMENTS_TOKEN holds a control character (such as a line break): remove it"},
		{basic, map[string]string{"API_PASSWORD": "s3cr3t"}, "handler_config.auth.username_env: environment variable API_USER is not set or empty: set it to the user name in the environment of every worker that runs this step"},
		{basic, map[string]string{"API_USER": "ada"}, "handler_config.auth.password_env: environment variable API_PASSWORD is not set or empty: set it to the password in the environment of every worker that runs this step"},
	} {
		_, err := authorization(tc.cfg, tc.vars)
		require.EqualError(t, err, tc.want)
		require.NotContains(t, err.Error(), "s3cr3t")
		var ce *ConfigError
		require.ErrorAs(t, err, &ce)
		permanent, _ := Decide(err)
		require.True(t, permanent)
	}
}
