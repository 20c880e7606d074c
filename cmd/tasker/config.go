package main

// The optional YAML config file (--config, $TASKER_CONFIG): every key sets
// the flag of the same meaning when neither the flag nor its environment
// variable is given (flag > environment > file > default). The keys are
// listed in configKeys and documented in README.md ("Config file").

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// configKey is one key of the config file: the flag it sets (on the
// commands that have it) and whether its value may be a list.
type configKey struct {
	key, flag string
	list      bool // a YAML list, or a comma-separated string
	each      bool // each list item is given to the flag on its own (--auth-role)
}

// configKeys are the keys of the config file, in the order of the docs.
var configKeys = []configKey{
	{key: "database", flag: "database"},
	{key: "templates", flag: "templates", list: true},
	{key: "env", flag: "env"},
	{key: "log_level", flag: "log-level"},
	{key: "log_format", flag: "log-format"},
	{key: "subscriptions", flag: "subscriptions"},
	{key: "server", flag: "server"},
	{key: "token", flag: "token"},
	{key: "addr", flag: "addr"},
	{key: "worker.concurrency", flag: "concurrency"},
	{key: "worker.lease_duration", flag: "lease"},
	{key: "worker.poll_interval", flag: "poll-interval"},
	{key: "worker.step_timeout", flag: "step-timeout"},
	{key: "worker.retention", flag: "retention"},
	{key: "worker.async_commit", flag: "async-commit"},
	{key: "worker.passes", flag: "passes"},
	{key: "worker.metrics_addr", flag: "metrics-addr"},
	{key: "worker_token", flag: "worker-token"},
	{key: "allowed_hosts", flag: "allowed-hosts", list: true},
	{key: "cors_origins", flag: "cors-origins", list: true},
	{key: "request_timeout", flag: "request-timeout"},
	{key: "auth.jwt_secret", flag: "auth-jwt-secret"},
	{key: "auth.jwks_url", flag: "auth-jwks-url"},
	{key: "auth.issuer", flag: "auth-issuer"},
	{key: "auth.audience", flag: "auth-audience"},
	{key: "auth.public", flag: "auth-public", list: true},
	{key: "auth.roles", flag: "auth-role", list: true, each: true},
	{key: "auth.proxy_header", flag: "auth-proxy-header"},
	{key: "auth.proxy_groups_header", flag: "auth-proxy-groups-header"},
	{key: "auth.proxy_trusted", flag: "auth-proxy-trusted", list: true},
	{key: "auth.proxy_permissions", flag: "auth-proxy-permissions", list: true},
	{key: "tls.cert", flag: "tls-cert"},
	{key: "tls.key", flag: "tls-key"},
	{key: "graphql.max_depth", flag: "graphql-max-depth"},
	{key: "graphql.max_complexity", flag: "graphql-max-complexity"},
	{key: "graphql.no_introspection", flag: "graphql-no-introspection"},
	{key: "dashboard.disabled", flag: "no-dashboard"},
	{key: "dashboard.trace_url", flag: "dashboard-trace-url"},
}

// configKeyNames lists the keys for error messages.
func configKeyNames() string {
	names := make([]string, len(configKeys))
	for i, k := range configKeys {
		names[i] = k.key
	}
	return strings.Join(names, ", ")
}

// configValue is one key's value read from the file.
type configValue struct {
	key    configKey
	values []string
	line   int
}

// readConfigFile reads the config file's keys, refusing an unknown key (with
// its line and the valid keys) or a value of the wrong shape.
func readConfigFile(file string) ([]configValue, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, fmt.Errorf("config file %s: %w", file, err)
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, nil
	}
	var out []configValue
	var walk func(prefix string, n *yaml.Node) error
	walk = func(prefix string, n *yaml.Node) error {
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return nil // "worker:" alone
		}
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("config file %s: line %d: %s must be a map of keys", file, n.Line, cmpOr(strings.TrimSuffix(prefix, "."), "the file"))
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			name := prefix + k.Value
			idx := slices.IndexFunc(configKeys, func(c configKey) bool { return c.key == name })
			if idx < 0 {
				if slices.ContainsFunc(configKeys, func(c configKey) bool { return strings.HasPrefix(c.key, name+".") }) {
					if err := walk(name+".", v); err != nil {
						return err
					}
					continue
				}
				return fmt.Errorf("config file %s: line %d: unknown key %q (valid keys: %s)", file, k.Line, name, configKeyNames())
			}
			ck := configKeys[idx]
			cv := configValue{key: ck, line: k.Line}
			switch {
			case v.Kind == yaml.ScalarNode && v.Tag == "!!null":
				continue
			case v.Kind == yaml.ScalarNode && ck.list && !ck.each:
				cv.values = []string{v.Value}
			case v.Kind == yaml.ScalarNode:
				cv.values = []string{v.Value}
			case v.Kind == yaml.SequenceNode && ck.list:
				for _, item := range v.Content {
					if item.Kind != yaml.ScalarNode {
						return fmt.Errorf("config file %s: line %d: %s: each item must be a string", file, item.Line, name)
					}
					cv.values = append(cv.values, item.Value)
				}
				if !ck.each {
					cv.values = []string{strings.Join(cv.values, ",")}
				}
			default:
				want := "a single value"
				if ck.list {
					want = "a list or a comma-separated string"
				}
				return fmt.Errorf("config file %s: line %d: %s must be %s", file, k.Line, name, want)
			}
			out = append(out, cv)
		}
		return nil
	}
	if err := walk("", root); err != nil {
		return nil, err
	}
	return out, nil
}

// applyConfigFile sets, from the config file, every flag of the running
// command that neither the command line nor the environment set.
func (a *app) applyConfigFile() error {
	values, err := readConfigFile(a.s.configFile)
	if err != nil {
		return err
	}
	for _, cv := range values {
		f := a.flags.Lookup(cv.key.flag)
		if f == nil || f.Changed { // not this command's, or given (flag or environment)
			continue
		}
		for _, v := range cv.values {
			if err := a.flags.Set(cv.key.flag, v); err != nil {
				return fmt.Errorf("config file %s: line %d: %s: %w", a.s.configFile, cv.line, cv.key.key, err)
			}
		}
	}
	return nil
}
