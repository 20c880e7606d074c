package taskersub

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"

	"go.yaml.in/yaml/v3"
)

// Subscription sends events to an outside system. "log" subscriptions log
// events in-process; "webhook" and "nats" subscriptions are durable: their events are
// written to an outbox in the same transaction as the facts, delivered at
// least once, retried with backoff, and kept as dead letters after
// max_attempts (see tasker.Client.DeadLetters and ReplayDeadLetters).
type Subscription struct {
	// Name identifies the subscription (required, unique).
	Name string `yaml:"name" json:"name"`
	// Type is "log", "webhook" or "nats" (the latter needs the
	// taskersub/taskernats package), or a type registered with
	// RegisterType.
	Type string `yaml:"type" json:"type"`
	// Enabled defaults to true.
	Enabled *bool `yaml:"enabled" json:"enabled,omitempty"`
	// Events are names or patterns ("task.*", "*"); empty means all.
	Events []string `yaml:"events" json:"events,omitempty"`
	// Config of the type. webhook: url (required), secret, timeout (Go
	// duration, default 10s), headers (map), max_attempts (default 10),
	// backoff (default 1s, doubling up to 5m). nats: url (default
	// nats://127.0.0.1:4222), subject ("{name}" is the event name; default
	// tasker.events.{name}), stream (created if set), timeout, max_attempts,
	// backoff. log: no config.
	Config map[string]any `yaml:"config" json:"config,omitempty"`
}

type subscriptionsFile struct {
	Subscriptions []Subscription `yaml:"subscriptions"`
}

// Load reads a YAML subscriptions file, a list:
//
//	subscriptions:
//	  - name: ops-webhook
//	    type: webhook
//	    events: ["task.failed", "step.max_retries_reached"]
//	    config: {url: https://ops.example.com/hooks/tasker, secret: ${TASKER_WEBHOOK_SECRET}}
//
// or, as the original Tasker's files, a map keyed by name (a name inside
// an entry, if any, must be the same):
//
//	subscriptions:
//	  ops-webhook:
//	    type: webhook
//	    config: {url: https://ops.example.com/hooks/tasker}
//
// ${VAR} in values is replaced from the environment.
func Load(file string) ([]Subscription, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("subscriptions: %w", err)
	}
	data = []byte(os.Expand(string(data), func(k string) string { return os.Getenv(k) }))
	if data, err = mapToList(data); err != nil {
		return nil, fmt.Errorf("subscriptions %s: %w", file, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f subscriptionsFile
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("subscriptions %s: %w (keys: subscriptions[].name, type, enabled, events, config; or subscriptions.NAME.type, ...)", file, err)
	}
	if err := Validate(f.Subscriptions); err != nil {
		return nil, fmt.Errorf("subscriptions %s: %w", file, err)
	}
	return f.Subscriptions, nil
}

// mapToList rewrites a file whose subscriptions are a map keyed by name
// into the list form (each entry gets its key as name), in file order, so
// that one strict decoding reads both forms. Other files are returned as
// they are.
func mapToList(data []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return data, nil //nolint:nilerr // the strict decoding reports it
	}
	top := doc.Content[0]
	var subs *yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "subscriptions" {
			subs = top.Content[i+1]
		}
	}
	if subs == nil || subs.Kind != yaml.MappingNode {
		return data, nil
	}
	list := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: subs.Line, Column: subs.Column}
	for i := 0; i+1 < len(subs.Content); i += 2 {
		key, entry := subs.Content[i], subs.Content[i+1]
		if entry.Kind == yaml.ScalarNode && entry.Tag == "!!null" {
			entry = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: entry.Line, Column: entry.Column}
		}
		if entry.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("line %d: subscription %q is not a map of its settings (type, events, config, enabled)", key.Line, key.Value)
		}
		named := false
		for j := 0; j+1 < len(entry.Content); j += 2 {
			if entry.Content[j].Value == "name" {
				if v := entry.Content[j+1].Value; v != key.Value {
					return nil, fmt.Errorf("line %d: subscription %q has name %q: leave the name out (the key names it) or make them equal", key.Line, key.Value, v)
				}
				named = true
			}
		}
		if !named {
			entry.Content = append([]*yaml.Node{
				{Kind: yaml.ScalarNode, Tag: "!!str", Value: "name"},
				{Kind: yaml.ScalarNode, Tag: "!!str", Value: key.Value},
			}, entry.Content...)
		}
		list.Content = append(list.Content, entry)
	}
	*subs = *list
	return yaml.Marshal(&doc)
}

// Validate checks names, types, event patterns and configs.
func Validate(subs []Subscription) error {
	seen := map[string]bool{}
	for i, s := range subs {
		where := fmt.Sprintf("subscription #%d", i+1)
		if s.Name != "" {
			where = fmt.Sprintf("subscription %q", s.Name)
		}
		switch {
		case s.Name == "":
			return fmt.Errorf("%s: name is missing", where)
		case seen[s.Name]:
			return fmt.Errorf("%s is declared twice: names must be unique", where)
		case s.Type != "log" && s.Type != TypeNATS && lookupType(s.Type) == nil:
			return fmt.Errorf("%s: type %q is unknown: use log, webhook or nats", where, s.Type)
		}
		seen[s.Name] = true
		for _, p := range s.Events {
			if err := ValidPattern(p); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
		}
		if s.Type != "log" {
			if _, err := s.Target(); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
		}
	}
	return nil
}

// IsEnabled reports whether the subscription is enabled (Enabled is nil or
// true).
func (s Subscription) IsEnabled() bool { return s.Enabled == nil || *s.Enabled }

// IsDurable reports whether the subscription's events go through the
// outbox: every type but "log".
func (s Subscription) IsDurable() bool { return s.Type != "log" }

// Matches reports whether the event name matches the subscription's
// patterns.
func (s Subscription) Matches(name string) bool { return MatchEvent(s.Events, name) }

// ValidPattern checks an event pattern of MatchEvent.
func ValidPattern(p string) error {
	if _, err := path.Match(p, ""); err != nil {
		return fmt.Errorf("event pattern %q is malformed: %w (write path.Match patterns such as \"task.*\")", p, err)
	}
	return nil
}

// MatchEvent reports whether the event name matches one of patterns
// (path.Match syntax: "task.*", "step.failed"; none or "*" for all). It is
// the one pattern rule of subscriptions and of tasker.Client.Subscribe.
func MatchEvent(patterns []string, name string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok || p == "*" {
			return true
		}
	}
	return false
}

// Target builds the sender of a durable subscription from its config. A
// "nats" subscription in a program that did not import
// taskersub/taskernats is an error that says so.
func (s Subscription) Target() (Target, error) {
	build := lookupType(s.Type)
	switch {
	case build != nil:
		return build(s.Config)
	case s.Type == TypeNATS:
		return Target{}, errors.New(`type "nats" needs the NATS sender, which this program does not link: add import _ "github.com/tasker-go/tasker/taskersub/taskernats" (the tasker binary has it)`)
	}
	return Target{}, fmt.Errorf("type %q is unknown: use log, webhook or nats", s.Type)
}
