package envsubst_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/envsubst"
)

func lookup(k string) (string, bool) {
	v, ok := map[string]string{"HOST": "api.example", "EMPTY": ""}[k]
	return v, ok
}

func TestExpand(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, out  string
		changed  bool
		problems []envsubst.Problem
	}{
		{in: "plain $5", out: "plain $5"},
		{in: "https://${HOST}/v1", out: "https://api.example/v1", changed: true},
		{in: "${EMPTY:-fallback}", out: "fallback", changed: true},
		{in: "${HOST:-x}", out: "api.example", changed: true},
		{in: "$${HOST}", out: "${HOST}", changed: true},
		{in: "a${MISSING}b", out: "ab", changed: true, problems: []envsubst.Problem{{Ref: "${MISSING}", Name: "MISSING"}}},
		{in: "${1X}", out: "${1X}", changed: true, problems: []envsubst.Problem{{Ref: "${1X}"}}},
		{in: "x ${HOST", out: "x ${HOST", changed: true, problems: []envsubst.Problem{{Ref: "${HOST"}}},
	} {
		out, changed, problems := envsubst.Expand(tc.in, lookup)
		require.Equal(t, tc.out, out, tc.in)
		require.Equal(t, tc.changed, changed, tc.in)
		require.Equal(t, tc.problems, problems, tc.in)
	}
}

func TestProblemDescribe(t *testing.T) {
	t.Parallel()
	p, fix := envsubst.Problem{Ref: "${K}", Name: "K"}.Describe()
	require.Equal(t, "environment variable K is not set", p)
	require.Equal(t, "set K or write ${K:-default}", fix)
	p, fix = envsubst.Problem{Ref: "${1X}"}.Describe()
	require.Equal(t, `malformed variable reference "${1X}"`, p)
	require.Equal(t, envsubst.MalformedFix, fix)
}

func TestMapCopiesAndExpandsStringsOnly(t *testing.T) {
	t.Parallel()
	in := map[string]any{
		"url":     "${HOST}",
		"${HOST}": "keys are kept",
		"n":       3,
		"list":    []any{"${HOST}", true},
		"nested":  map[string]any{"k": "${MISSING:-d}"},
	}
	require.True(t, envsubst.Contains(in))
	out, problems := envsubst.Map(in, lookup)
	require.Empty(t, problems)
	require.Equal(t, map[string]any{
		"url": "api.example", "${HOST}": "keys are kept", "n": 3,
		"list": []any{"api.example", true}, "nested": map[string]any{"k": "d"},
	}, out)
	require.Equal(t, "${HOST}", in["url"], "the input is not modified")
	require.Equal(t, "${HOST}", in["list"].([]any)[0])
	require.False(t, envsubst.Contains(map[string]any{"a": "$5", "b": []any{1}}))
	m, problems := envsubst.Map(nil, lookup)
	require.Nil(t, m)
	require.Empty(t, problems)
}

func TestRedactor(t *testing.T) {
	t.Parallel()
	vals := map[string]string{"TOKEN": "tok-123456", "LONG": "tok-123456-and-more", "SHORT": "3"}
	look := func(k string) (string, bool) { v, ok := vals[k]; return v, ok }
	require.Nil(t, envsubst.Redactor(map[string]any{"a": "plain", "b": "$${TOKEN}"}, look))
	r := envsubst.Redactor(map[string]any{"h": []any{"Bearer ${TOKEN}", "${LONG} ${SHORT} ${UNSET} ${1X}"}}, look)
	require.NotNil(t, r)
	require.Equal(t, "sent ${LONG} then ${TOKEN}, 3 retries", r("sent tok-123456-and-more then tok-123456, 3 retries"))

	// A value JSON escapes is also found inside JSON text (an error's
	// details), in both of encoding/json's forms.
	vals["ODD"] = `p"a\ss<&>word`
	r = envsubst.Redactor(map[string]any{"h": "${ODD}"}, look)
	{
		v := map[string]string{"echo": vals["ODD"]}
		escaped, err := json.Marshal(v)
		require.NoError(t, err)
		require.JSONEq(t, `{"echo": "${ODD}"}`, r(string(escaped)))
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		require.NoError(t, enc.Encode(v))
		require.JSONEq(t, `{"echo": "${ODD}"}`, r(b.String()))
	}
	require.Equal(t, "got ${ODD}", r("got "+vals["ODD"]))
}
