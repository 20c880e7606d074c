// Package taskerotel configures OpenTelemetry tracing from the standard
// environment variables, for the tasker command (serve, worker) and for Go
// programs that want the same behaviour:
//
//	traces, err := taskerotel.NewTraces(ctx, nil)
//	if err != nil { ... }            // names the variable at fault
//	defer traces.Shutdown(ctx)       // flushes the spans not yet exported
//	client, err := tasker.NewClient(ctx, driver, &tasker.Config{TracerProvider: traces.TracerProvider()})
//
// The variables:
//
//   - OTEL_TRACES_EXPORTER: otlp, console or none (the default), or a
//     comma-separated list of them.
//   - OTEL_EXPORTER_OTLP_PROTOCOL (or OTEL_EXPORTER_OTLP_TRACES_PROTOCOL):
//     http/protobuf (the default) or grpc.
//   - OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
//     OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_TIMEOUT and the other
//     OTEL_EXPORTER_OTLP_* variables, read by the OTLP exporters' clients
//     themselves (the spans are encoded by this package: otlpExporter).
//   - OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES: the resource (the
//     service name defaults to "tasker").
//   - OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG: always_on,
//     always_off, traceidratio, parentbased_always_on (the default),
//     parentbased_always_off, parentbased_traceidratio.
//   - OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_EXPORT_TIMEOUT,
//     OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_MAX_EXPORT_BATCH_SIZE: the batch
//     span processor's settings, with the SDK's defaults and rules (the
//     processor is this package's: batcher).
//   - OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT and the other span limits, read by
//     sdktrace.NewSpanLimits.
//
// The provider is this package's (tracerProvider): its spans behave as the
// SDK's and cost less to make and export. A value this package cannot use
// is an error naming the variable and the values it takes. The global
// TracerProvider is never set.
package taskerotel
