package taskerotel_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/taskerotel"
)

// otelVars are every variable NewTraces reads; each test starts from none.
var otelVars = []string{
	"OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
	"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SERVICE_NAME",
	"OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG",
}

func setEnv(t *testing.T, kv ...string) {
	t.Helper()
	for _, k := range otelVars {
		t.Setenv(k, "")
	}
	for i := 0; i+1 < len(kv); i += 2 {
		t.Setenv(kv[i], kv[i+1])
	}
}

func TestOffByDefault(t *testing.T) {
	for _, v := range []string{"", "none", " NONE "} {
		setEnv(t, "OTEL_TRACES_EXPORTER", v)
		tr, err := taskerotel.NewTraces(t.Context(), nil)
		require.NoError(t, err)
		require.Nil(t, tr.TracerProvider(), "exporter %q", v)
		require.Empty(t, tr.Exporters())
		require.NoError(t, tr.Shutdown(t.Context()))
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	cases := []struct {
		env  []string
		want string
	}{
		{[]string{"OTEL_TRACES_EXPORTER", "zipkin"}, "OTEL_TRACES_EXPORTER"},
		{[]string{"OTEL_TRACES_EXPORTER", "otlp,none"}, "OTEL_TRACES_EXPORTER"},
		{[]string{"OTEL_TRACES_EXPORTER", "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"}, "OTEL_EXPORTER_OTLP_PROTOCOL"},
		{[]string{"OTEL_TRACES_EXPORTER", "otlp", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "udp"}, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"},
		{[]string{"OTEL_TRACES_EXPORTER", "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{[]string{"OTEL_TRACES_EXPORTER", "otlp", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "::"}, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
		{[]string{"OTEL_TRACES_EXPORTER", "console", "OTEL_TRACES_SAMPLER", "sometimes"}, "OTEL_TRACES_SAMPLER"},
		{[]string{"OTEL_TRACES_EXPORTER", "console", "OTEL_TRACES_SAMPLER", "traceidratio", "OTEL_TRACES_SAMPLER_ARG", "2"}, "OTEL_TRACES_SAMPLER_ARG"},
		{[]string{"OTEL_TRACES_EXPORTER", "console", "OTEL_RESOURCE_ATTRIBUTES", "novalue"}, "OTEL_RESOURCE_ATTRIBUTES"},
	}
	for _, c := range cases {
		setEnv(t, c.env...)
		_, err := taskerotel.NewTraces(t.Context(), nil)
		require.Error(t, err, "%v", c.env)
		require.Contains(t, err.Error(), c.want, "%v", c.env)
	}
}

// The console exporter writes the spans, with the resource of the
// environment, when the provider shuts down; the sampler is obeyed.
func TestConsoleExporterAndSampler(t *testing.T) {
	setEnv(t, "OTEL_TRACES_EXPORTER", "console", "OTEL_SERVICE_NAME", "svc-from-env",
		"OTEL_RESOURCE_ATTRIBUTES", "team=ops")
	var out bytes.Buffer
	tr, err := taskerotel.NewTraces(t.Context(), &taskerotel.Options{Console: &out})
	require.NoError(t, err)
	require.Equal(t, []string{"console"}, tr.Exporters())
	_, span := tr.TracerProvider().Tracer("t").Start(context.Background(), "hello")
	span.End()
	require.NoError(t, tr.Shutdown(t.Context()))
	require.Contains(t, out.String(), `"Name":"hello"`)
	require.Contains(t, out.String(), "svc-from-env")
	require.Contains(t, out.String(), "team")

	setEnv(t, "OTEL_TRACES_EXPORTER", "console", "OTEL_TRACES_SAMPLER", "always_off")
	out.Reset()
	tr, err = taskerotel.NewTraces(t.Context(), &taskerotel.Options{Console: &out})
	require.NoError(t, err)
	_, span = tr.TracerProvider().Tracer("t").Start(context.Background(), "dropped")
	require.False(t, span.SpanContext().IsSampled())
	span.End()
	require.NoError(t, tr.Shutdown(t.Context()))
	require.NotContains(t, out.String(), "dropped")
}

// Default service name, and both OTLP protocols build an exporter.
func TestOTLPProtocols(t *testing.T) {
	for _, proto := range []string{"", "http/protobuf", "grpc"} {
		setEnv(t, "OTEL_TRACES_EXPORTER", "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL", proto, "OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
		tr, err := taskerotel.NewTraces(t.Context(), nil)
		require.NoError(t, err, proto)
		require.NotNil(t, tr.TracerProvider())
		ctx, cancel := context.WithCancel(t.Context())
		cancel() // nothing to flush; do not wait on the unreachable endpoint
		_ = tr.Shutdown(ctx)
		require.True(t, strings.Contains(strings.Join(tr.Exporters(), ","), "otlp"))
	}
}
