package taskerhttp_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/testio"
	"github.com/tasker-go/tasker/taskerhttp"
)

// The request id: a client's X-Request-Id is echoed when it is short and
// made of safe characters, else replaced by a new one; the request's log
// record carries the id answered (through the request's context).
func TestRequestIDEchoValidationAndLog(t *testing.T) {
	log := &testio.Buffer{}
	e := newEnvOpts(t, &taskerhttp.Options{Logger: slog.New(slog.NewJSONHandler(log, nil))})
	generated := regexp.MustCompile(`^[0-9a-f]{32}$`)
	for _, tc := range []struct {
		sent string
		echo bool
	}{
		{"", false},
		{"abc-123", true},
		{"4bf92f35-77b3-4da6-a3ce-929d0e0e4736", true},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true},
		{"svc/a:b.c_d+e=f@g", true},
		{strings.Repeat("x", 128), true},
		{strings.Repeat("x", 129), false},
		{`a"b`, false},            // a quote could close a quoted log value
		{`a b`, false},            // a space could start a fake key=value
		{`a=1 msg=forged`, false}, // a forged attribute
		{"caf\u00e9", false},      // not ASCII
		{`a\b`, false},
		{"a\tb", false},
		{"<script>", false},
	} {
		var headers []string
		if tc.sent != "" {
			headers = []string{"X-Request-Id", tc.sent}
		}
		res := e.do("GET", "/tasker/health/live", nil, headers...).want(t, http.StatusOK)
		got := res.Header.Get("X-Request-Id")
		if tc.echo {
			require.Equal(t, tc.sent, got, "echoed")
		} else {
			require.Regexp(t, generated, got, "a new id for %q", tc.sent)
		}
		var last map[string]any
		for line := range strings.Lines(log.String()) {
			require.NoError(t, json.Unmarshal([]byte(line), &last))
		}
		require.Equal(t, "http request", last["msg"])
		require.Equal(t, got, last["request_id"], "the request's record carries the id answered")
	}
}
