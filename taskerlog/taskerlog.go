package taskerlog

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/trace"
)

// The attribute keys Tasker puts in records.
const (
	KeyTraceID   = "trace_id"
	KeySpanID    = "span_id"
	KeyTaskID    = "task_id"
	KeyStep      = "step"
	KeyAttempt   = "attempt"
	KeyRequestID = "request_id"
)

type ctxKey struct{}

// With returns a copy of ctx carrying the attributes args (key-value pairs
// or slog.Attr values, as slog.Logger.With takes them) on top of those ctx
// already carries: every record logged with the returned context through a
// Handler gets them. A key given again replaces the earlier value.
func With(ctx context.Context, args ...any) context.Context {
	return WithAttrs(ctx, slog.Group("", args...).Value.Group()...)
}

// WithAttrs is With for slog.Attr values (it allocates less: the engine
// calls it for every step run).
func WithAttrs(ctx context.Context, add ...slog.Attr) context.Context {
	if len(add) == 0 {
		return ctx
	}
	old := Attrs(ctx)
	attrs := make([]slog.Attr, 0, len(old)+len(add))
	for _, a := range old {
		if !slices.ContainsFunc(add, func(b slog.Attr) bool { return b.Key == a.Key }) {
			attrs = append(attrs, a)
		}
	}
	attrs = append(attrs, add...)
	return context.WithValue(ctx, ctxKey{}, attrs)
}

// Attrs returns the attributes added to ctx with With (do not modify them).
func Attrs(ctx context.Context) []slog.Attr {
	if ctx == nil {
		return nil
	}
	attrs, _ := ctx.Value(ctxKey{}).([]slog.Attr)
	return attrs
}

// Handler adds the context's attributes to the records of the handler it
// wraps (see NewHandler).
type Handler struct {
	inner slog.Handler
	// keys are the top-level keys the logger already carries (WithAttrs):
	// context attributes with these keys are not repeated.
	keys []string
	// grouped is set once WithGroup was called: later attributes are not
	// top-level.
	grouped bool
}

// NewHandler wraps h so that each record gets, before h handles it,
// trace_id and span_id when a valid span context is in the record's
// context (go.opentelemetry.io/otel/trace.SpanContextFromContext), and the
// attributes added to the context with With, except those whose key the
// logger already carries (Logger.With). A handler that is already a
// *Handler is returned as is.
func NewHandler(h slog.Handler) *Handler {
	if th, ok := h.(*Handler); ok {
		return th
	}
	return &Handler{inner: h}
}

// Wrap returns a logger whose handler is NewHandler of l's (l itself when
// it already is one); nil stays nil.
func Wrap(l *slog.Logger) *slog.Logger {
	if l == nil {
		return nil
	}
	if _, ok := l.Handler().(*Handler); ok {
		return l
	}
	return slog.New(NewHandler(l.Handler()))
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if ctx == nil {
		return h.inner.Handle(ctx, r)
	}
	attrs := Attrs(ctx)
	sc := trace.SpanContextFromContext(ctx)
	if len(attrs) == 0 && !sc.IsValid() {
		return h.inner.Handle(ctx, r)
	}
	r = r.Clone()
	if sc.IsValid() {
		r.AddAttrs(slog.String(KeyTraceID, sc.TraceID().String()), slog.String(KeySpanID, sc.SpanID().String()))
	}
	for _, a := range attrs {
		if !slices.Contains(h.keys, a.Key) {
			r.AddAttrs(a)
		}
	}
	return h.inner.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := &Handler{inner: h.inner.WithAttrs(attrs), keys: h.keys, grouped: h.grouped}
	if !h.grouped {
		n.keys = slices.Clip(h.keys)
		for _, a := range attrs {
			n.keys = append(n.keys, a.Key)
		}
	}
	return n
}

// WithGroup implements slog.Handler. The context's attributes of later
// records go into the group, as the record's own do.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &Handler{inner: h.inner.WithGroup(name), keys: h.keys, grouped: true}
}

// MinLevel returns a handler that passes on to h only the records at level
// or above (and those h enables). Tasker uses it for slog.Default() when
// Config.Logger is nil: only warnings and errors reach it.
func MinLevel(h slog.Handler, level slog.Leveler) slog.Handler {
	return &minLevel{inner: h, min: level}
}

type minLevel struct {
	inner slog.Handler
	min   slog.Leveler
}

func (m *minLevel) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= m.min.Level() && m.inner.Enabled(ctx, level)
}

func (m *minLevel) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < m.min.Level() {
		return nil
	}
	return m.inner.Handle(ctx, r)
}

func (m *minLevel) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &minLevel{inner: m.inner.WithAttrs(attrs), min: m.min}
}

func (m *minLevel) WithGroup(name string) slog.Handler {
	return &minLevel{inner: m.inner.WithGroup(name), min: m.min}
}

// Format is the form of the records New writes.
type Format string

// The formats.
const (
	FormatText Format = "text" // slog.TextHandler: key=value pairs
	FormatJSON Format = "json" // slog.JSONHandler: one JSON object a line
)

// ParseFormat parses "text" or "json" (case-insensitive).
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case FormatText, FormatJSON:
		return f, nil
	}
	return "", fmt.Errorf("log format %q is not valid: use text or json", s)
}

// ParseLevel parses "debug", "info", "warn" or "error" (case-insensitive;
// "warning" is warn).
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log level %q is not valid: use debug, info, warn or error", s)
}

// New returns a logger writing records of level and above to w in format,
// through a Handler.
func New(w io.Writer, format Format, level slog.Leveler) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if format == FormatJSON {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(NewHandler(h))
}
