package httpstep

import (
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
)

// Any text parses or fails without panicking, and "{{" written "{{{{" is
// always literal.
func FuzzParseText(f *testing.F) {
	for _, s := range []string{"", "plain", "{{context.a}}", "{{{{", "{{{context.a}}}", "a {{ dependencies.s.x.0 }} b", "{{context", "}}{{", "{{dependencies}}", "{{context..a}}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tx, err := parseText(s)
		if err == nil && !strings.Contains(s, "{{") && (!tx.static() || tx.literal() != s) {
			t.Fatalf("%q without placeholders parsed as %#v", s, tx)
		}
		esc, err := parseText(strings.ReplaceAll(s, "{{", "{{{{"))
		if err != nil || !esc.static() || esc.literal() != s {
			t.Fatalf("escaped %q: %v %#v", s, err, esc)
		}
	})
}

// Any handler_config with fuzzed url, header, param and body strings loads
// or fails without panicking; when it loads, the request builds (or fails
// with a permanent error) and a value from the task context never changes
// the host the request goes to.
func FuzzParseConfig(f *testing.F) {
	f.Add("https://api.example.com/o/{{context.v}}?q={{context.v}}", "{{context.v}}", "x {{context.v}}", "{{context.v}}", "a/b?c=d#e@f:1")
	f.Add("http://h:8080/{{dependencies.p.v}}", "h", "p", "{{dependencies.p}}", "..")
	f.Add("https://x/{{context.v}}#{{context.v}}", "", "", "", "%zz")
	f.Add("http://[::1]:80/{{context.v}}", "{{ context.v }}", "{{{{", "{{context}}", "\r\n")
	f.Fuzz(func(t *testing.T, u, header, param, body, value string) {
		c, err := ParseConfig(map[string]any{
			"url": u, "method": "POST", "headers": map[string]any{"X-V": header}, "params": map[string]any{"p": param},
			"body": map[string]any{"b": body, "list": []any{body}},
		})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "handler_config.") {
				t.Fatalf("error does not name the key: %v", err)
			}
			return
		}
		v, _ := json.Marshal(value)
		in := &Input{Step: "s", Context: json.RawMessage(`{"v": ` + string(v) + `}`),
			Dependencies: map[string]json.RawMessage{"p": json.RawMessage(`{"v": ` + string(v) + `}`)}}
		req, err := c.build(t.Context(), in, func(string) (string, bool) { return "", false })
		if err != nil {
			var ce *ConfigError
			var me *MissingValueError
			if !errors.As(err, &ce) && !errors.As(err, &me) {
				t.Fatalf("build error of an unexpected kind: %T %v", err, err)
			}
			return
		}
		port := req.URL.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[req.URL.Scheme]
		}
		if got := req.URL.Scheme + "://" + net.JoinHostPort(strings.ToLower(req.URL.Hostname()), port); got != c.hostKey {
			t.Fatalf("the request goes to %s, the template to %s (url %q, value %q)", got, c.hostKey, u, value)
		}
	})
}
