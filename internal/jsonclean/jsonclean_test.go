package jsonclean

import (
	"encoding/json"
	"strings"
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

// NumberCases are numbers at and beyond the edges of PostgreSQL's numeric
// range, with whether it stores them (checked against PostgreSQL by the
// PostgreSQL driver's tests).
var NumberCases = map[string]bool{
	`1e131071`: true, `1e131072`: false, `1e999999`: false, `-1e999999`: false,
	`1e-16383`: true, `1e-16384`: false, `1e-99999`: false, `1.5e-16382`: true, `1.55e-16382`: false,
	`0e999999`: true, `0.0e-99999`: false, `0.001e131074`: true, `0.001e131075`: false,
	`1e99999999999`: false, `0e99999999999`: false, `12.5`: true, `-0`: true, `1E+3`: true,
}

func TestBadNumber(t *testing.T) {
	for n, ok := range NumberCases {
		got := BadNumber([]byte(`{"a": ["x1e999999", ` + n + `]}`))
		if ok {
			require.Empty(t, got, n)
		} else {
			require.Equal(t, n, got, n)
		}
	}
	require.Empty(t, BadNumber([]byte(`{"s": "1e999999", "k\"1e999999": 1}`)), "numbers in strings do not count")
	long := "1" + strings.Repeat("0", 200000)
	require.Equal(t, long[:37]+"...", BadNumber([]byte(`[`+long+`]`)), "a 200,000-digit integer")
}
