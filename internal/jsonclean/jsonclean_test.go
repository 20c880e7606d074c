package jsonclean

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestJSON(t *testing.T) {
	for in, want := range map[string]string{
		`{"a":"x\u0000y"}`:             `{"a":"x` + Replacement + `y"}`,
		`["\u0000",{"k\u0000":1.50}]`:  `["` + Replacement + `",{"k` + Replacement + `":1.50}]`,
		`{"escaped":"\\u0000"}`:        `{"escaped":"\\u0000"}`, // a backslash then u0000: no NUL
		`{"big":12345678901234567890}`: `{"big":12345678901234567890}`,
		`not json \u0000`:              `not json \u0000`,
		`{"html":"<b>\u0000</b>"}`:     `{"html":"<b>` + Replacement + `</b>"}`,
		`"plain"`:                      `"plain"`,
	} {
		got := JSON(json.RawMessage(in))
		require.Equal(t, want, string(got), in)
		require.Equal(t, in != want, HasNUL(json.RawMessage(in)), in)
	}
	require.Equal(t, "a"+Replacement+"b", String("a\x00b"))
	require.Equal(t, "ab", String("ab"))
	require.Equal(t, "Jos"+Replacement, String("Jos\xe9"))
}

func FuzzJSON(f *testing.F) {
	f.Add(`{"a":"x\u0000y"}`)
	f.Add(`[1,"\u0000",{"\u0000":null}]`)
	f.Add(`{"s":"\ud83d","t":"\ud83d\ude00","u":"\\ud800"}`)
	f.Add("{\"a\":\"\xff\"}")
	f.Fuzz(func(t *testing.T, in string) {
		out := JSON(json.RawMessage(in))
		if json.Valid([]byte(in)) {
			require.True(t, json.Valid(out), "%q → %q", in, out)
			require.False(t, HasNUL(out), "%q → %q", in, out)
			require.True(t, Storable(out), "%q → %q", in, out)
		}
	})
}
