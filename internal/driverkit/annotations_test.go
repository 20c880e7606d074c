package driverkit

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerdriver"
)

// The candidates hold every type of member whose text can equal the value:
// the string always, a boolean for true and false, a number for
// PostgreSQL's writing of one (never an exponent, a leading zero or a
// number out of numeric's range).
func TestAnnotationCandidates(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		value string
		want  []string
	}{
		{"abc", []string{`{"k":"abc"}`}},
		{"true", []string{`{"k":"true"}`, `{"k":true}`}},
		{"false", []string{`{"k":"false"}`, `{"k":false}`}},
		{"null", []string{`{"k":"null"}`}},
		{"100", []string{`{"k":"100"}`, `{"k":100}`}},
		{"-1.50", []string{`{"k":"-1.50"}`, `{"k":-1.50}`}},
		{"1e2", []string{`{"k":"1e2"}`}},
		{"01", []string{`{"k":"01"}`}},
		{"1.", []string{`{"k":"1."}`}},
		{".5", []string{`{"k":".5"}`}},
		{"", []string{`{"k":""}`}},
		{"<&>", []string{`{"k":"<&>"}`}},
		{"1" + strings.Repeat("0", 131072), []string{`{"k":"1` + strings.Repeat("0", 131072) + `"}`}},
	} {
		require.Equal(t, c.want, AnnotationCandidates(&taskerdriver.AnnotationFilter{Type: "t", Key: "k", Value: c.value}), "%.20s", c.value)
	}
}

func TestAnnotationJSON(t *testing.T) {
	t.Parallel()
	doc, err := AnnotationJSON(&taskerdriver.AnnotationInsertParams{Type: "t",
		Annotation: json.RawMessage(`{"b": [1e1, {"x": -0}], "a": "<é>", "a": "last"}`)})
	require.NoError(t, err)
	require.Equal(t, `{"a":"last","b":[10,{"x":0}]}`, doc)
	for _, bad := range []string{``, `[]`, `null`, `{} {}`, `{"a"}`} {
		_, err := AnnotationJSON(&taskerdriver.AnnotationInsertParams{Type: "t", Annotation: json.RawMessage(bad)})
		require.ErrorIs(t, err, taskerdriver.ErrValueRejected, bad)
	}
}
