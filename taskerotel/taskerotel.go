package taskerotel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// Options adjust NewTraces; nil means the defaults.
type Options struct {
	// ServiceName is the service.name when neither OTEL_SERVICE_NAME nor
	// OTEL_RESOURCE_ATTRIBUTES gives one. Default "tasker".
	ServiceName string
	// ServiceVersion, when set, is the service.version.
	ServiceVersion string
	// Console receives the spans of the console exporter. Default os.Stdout.
	Console io.Writer
}

// Traces is the tracing configured by the environment.
type Traces struct {
	provider  *tracerProvider
	exporters []string
}

// NewTraces reads the environment and builds the TracerProvider it asks
// for; with OTEL_TRACES_EXPORTER unset or none, tracing is off
// (TracerProvider returns nil). The provider's spans behave as the SDK's
// and cost less (see tracerProvider); they go through a batch span
// processor configured by OTEL_BSP_* as the SDK's is (see batcher).
func NewTraces(ctx context.Context, opts *Options) (*Traces, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.ServiceName == "" {
		o.ServiceName = "tasker"
	}
	if o.Console == nil {
		o.Console = os.Stdout
	}
	names, err := exporterNames()
	if err != nil || len(names) == 0 {
		return &Traces{}, err
	}
	sampler, err := sampler()
	if err != nil {
		return nil, err
	}
	res, err := newResource(ctx, o)
	if err != nil {
		return nil, err
	}
	bsp := bspFromEnv()
	var procs []*batcher
	for _, name := range names {
		exp, err := newExporter(ctx, name, o)
		if err != nil {
			for _, p := range procs {
				_ = p.Shutdown(ctx)
			}
			return nil, err
		}
		procs = append(procs, newBatcher(exp, bsp))
	}
	return &Traces{provider: newTracerProvider(sampler, res, procs), exporters: names}, nil
}

// TracerProvider is the provider to give tasker.Config.TracerProvider (and
// any other instrumentation); nil when tracing is off.
func (t *Traces) TracerProvider() trace.TracerProvider {
	if t == nil || t.provider == nil {
		return nil
	}
	return t.provider
}

// Exporters names the exporters in use ("otlp", "console"); empty when
// tracing is off.
func (t *Traces) Exporters() []string { return slices.Clone(t.exporters) }

// Shutdown exports the spans not yet exported and stops the exporters.
func (t *Traces) Shutdown(ctx context.Context) error {
	if t == nil || t.provider == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}

// ForceFlush exports the spans not yet exported.
func (t *Traces) ForceFlush(ctx context.Context) error {
	if t == nil || t.provider == nil {
		return nil
	}
	return t.provider.ForceFlush(ctx)
}

func exporterNames() ([]string, error) {
	v := strings.TrimSpace(os.Getenv("OTEL_TRACES_EXPORTER"))
	var names []string
	for part := range strings.SplitSeq(v, ",") {
		switch name := strings.ToLower(strings.TrimSpace(part)); name {
		case "", "none":
		case "otlp", "console":
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
		default:
			return nil, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: %q is not supported: use otlp, console or none (the default)", v, name)
		}
	}
	if len(names) > 0 && slices.Contains(strings.Split(strings.ToLower(strings.ReplaceAll(v, " ", "")), ","), "none") {
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: none cannot be combined with other exporters", v)
	}
	return names, nil
}

func newExporter(ctx context.Context, name string, o Options) (spanExporter, error) {
	if name == "console" {
		exp, err := stdouttrace.New(stdouttrace.WithWriter(o.Console))
		if err != nil {
			return nil, err
		}
		return sdkExporter{exp}, nil
	}
	protoVar, proto := "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", strings.TrimSpace(os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"))
	if proto == "" {
		protoVar, proto = "OTEL_EXPORTER_OTLP_PROTOCOL", strings.TrimSpace(os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL"))
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		if err := checkEndpoint(name); err != nil {
			return nil, err
		}
	}
	// The exporters' clients, with the spans encoded by otlpExporter; with
	// the exporters' experimental self-observability on, their own
	// exporters (which count the spans of the structs they build).
	stock := os.Getenv("OTEL_GO_X_OBSERVABILITY") != ""
	switch proto {
	case "", "http/protobuf":
		return clientExporter(ctx, otlptracehttp.NewClient(), stock, "OTLP/HTTP")
	case "grpc":
		return clientExporter(ctx, otlptracegrpc.NewClient(), stock, "OTLP/gRPC")
	}
	return nil, fmt.Errorf("%s=%q is not supported: use http/protobuf (the default) or grpc", protoVar, proto)
}

// clientExporter is the exporter that sends spans through client: the
// stock one when stock (otlptracehttp.New and otlptracegrpc.New are
// otlptrace.New of their client), else otlpExporter; what names the
// protocol in an error.
func clientExporter(ctx context.Context, client otlptrace.Client, stock bool, what string) (spanExporter, error) {
	var (
		exp spanExporter
		err error
	)
	if stock {
		var sexp *otlptrace.Exporter
		sexp, err = otlptrace.New(ctx, client)
		exp = sdkExporter{sexp}
	} else {
		exp, err = newOTLPExporter(ctx, client)
	}
	if err != nil {
		return nil, fmt.Errorf("%s trace exporter: %w", what, err)
	}
	return exp, nil
}

// checkEndpoint refuses an endpoint the exporters would silently ignore.
func checkEndpoint(name string) error {
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s=%q is not a URL the exporter can use: give one such as http://127.0.0.1:4318 (http or https, with a host)", name, v)
	}
	return nil
}

func sampler() (sdktrace.Sampler, error) {
	name := strings.ToLower(strings.TrimSpace(os.Getenv("OTEL_TRACES_SAMPLER")))
	arg := strings.TrimSpace(os.Getenv("OTEL_TRACES_SAMPLER_ARG"))
	ratio := func() (sdktrace.Sampler, error) {
		if arg == "" {
			return sdktrace.TraceIDRatioBased(1), nil
		}
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG=%q is not a ratio: give a number from 0 to 1, such as 0.25", arg)
		}
		return sdktrace.TraceIDRatioBased(r), nil
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "traceidratio":
		return ratio()
	case "parentbased_traceidratio":
		s, err := ratio()
		if err != nil {
			return nil, err
		}
		return sdktrace.ParentBased(s), nil
	}
	return nil, fmt.Errorf("OTEL_TRACES_SAMPLER=%q is not supported: use always_on, always_off, traceidratio, parentbased_always_on (the default), parentbased_always_off or parentbased_traceidratio", name)
}

func newResource(ctx context.Context, o Options) (*resource.Resource, error) {
	attrs := []resource.Option{resource.WithAttributes(semconv.ServiceName(o.ServiceName))}
	if o.ServiceVersion != "" {
		attrs = []resource.Option{resource.WithAttributes(semconv.ServiceName(o.ServiceName), semconv.ServiceVersion(o.ServiceVersion))}
	}
	// Later options win: the defaults, then the environment.
	res, err := resource.New(ctx, append(attrs, resource.WithTelemetrySDK(), resource.WithFromEnv())...)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES=%q is malformed: give comma-separated key=value pairs (values percent-encoded), such as deployment.environment=prod,team=ops (%w)", os.Getenv("OTEL_RESOURCE_ATTRIBUTES"), err)
	}
	return res, nil
}
