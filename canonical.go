package tasker

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tasker-go/tasker/internal/tmplfile"
)

// The canonical form of a template is what the database stores of it (see
// Client.RegisterTemplates): a template document in the YAML format's own
// keys, written as compact JSON (which the template parser reads as
// YAML), after the defaults are applied, with the maps' keys sorted by
// encoding/json. Two templates that mean the same have the same canonical
// form whatever their files' layout, comments, key order or omitted
// defaults, so its SHA-256 tells the same version's contents apart.
//
// Strings outside handler_config are as the template was loaded (their
// ${VAR} references expanded at load, as the registry holds and serves
// them); handler_config keeps its references as written, never their
// values, since they are expanded only when a step runs.
type canonicalTemplate struct {
	Name                   string          `json:"name"`
	NamespaceName          string          `json:"namespace_name"`
	Version                string          `json:"version"`
	Description            string          `json:"description,omitempty"`
	DefaultDependentSystem string          `json:"default_dependent_system,omitempty"`
	IdentityStrategy       string          `json:"identity_strategy,omitempty"`
	Schema                 map[string]any  `json:"schema,omitempty"`
	Steps                  []canonicalStep `json:"step_templates"`
}

type canonicalStep struct {
	Name              string            `json:"name"`
	Description       string            `json:"description,omitempty"`
	Handler           string            `json:"handler"`
	DependentSystem   string            `json:"dependent_system,omitempty"`
	HandlerConfig     map[string]any    `json:"handler_config,omitempty"`
	DependsOnSteps    []string          `json:"depends_on_steps,omitempty"`
	DefaultRetryable  bool              `json:"default_retryable"`
	DefaultRetryLimit int               `json:"default_retry_limit"`
	Skippable         bool              `json:"skippable,omitempty"`
	CustomEvents      []canonicalEvent  `json:"custom_events,omitempty"`
	Timeout           string            `json:"timeout,omitempty"`
	Backoff           *canonicalBackoff `json:"backoff,omitempty"`
}

type canonicalEvent struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

type canonicalBackoff struct {
	Base         string   `json:"base,omitempty"`
	Max          string   `json:"max,omitempty"`
	MaxRequested string   `json:"max_requested,omitempty"`
	Jitter       *float64 `json:"jitter,omitempty"`
}

// canonical returns the canonical form of t, a prepared (registered or
// parsed) template, and its hex SHA-256.
func (t *TaskTemplate) canonical() (data []byte, hash string, err error) {
	c := canonicalTemplate{
		Name: t.Name, NamespaceName: t.Namespace, Version: t.Version, Description: t.Description,
		DefaultDependentSystem: t.DefaultDependentSystem, IdentityStrategy: string(t.IdentityStrategy), Schema: t.Schema,
		Steps: make([]canonicalStep, len(t.Steps)),
	}
	dur := func(d time.Duration) string {
		if d == 0 {
			return ""
		}
		return d.String()
	}
	for i, s := range t.Steps {
		cs := canonicalStep{
			Name: s.Name, Description: s.Description, Handler: s.Handler, DependentSystem: s.DependentSystem,
			DependsOnSteps: s.DependsOn, DefaultRetryable: s.Retryable == nil || *s.Retryable, DefaultRetryLimit: s.RetryLimit,
			Skippable: s.Skippable, Timeout: dur(s.Timeout),
		}
		if s.HandlerConfig != nil {
			if err := refuseDurations("handler_config", s.HandlerConfig); err != nil {
				return nil, "", fmt.Errorf("step %q: %w", s.Name, err)
			}
			cs.HandlerConfig = s.HandlerConfig
		}
		for _, ce := range s.CustomEvents {
			cs.CustomEvents = append(cs.CustomEvents, canonicalEvent(ce))
		}
		if b := s.Backoff; b != nil {
			cs.Backoff = &canonicalBackoff{Base: dur(b.Base), Max: dur(b.Max), MaxRequested: dur(b.MaxRequested), Jitter: b.Jitter}
		}
		c.Steps[i] = cs
	}
	if data, err = json.Marshal(c); err != nil {
		return nil, "", fmt.Errorf("template %s cannot be encoded as JSON: %w", t.FullName(), err)
	}
	sum := sha256.Sum256(data)
	return data, hex.EncodeToString(sum[:]), nil
}

// parseCanonical reads a template's canonical form back into a prepared
// template, with the template parser and the same validation as a file
// (handlers unchecked: the process reading it need not have them); source
// names it in error messages.
func parseCanonical(source string, data []byte) (*TaskTemplate, error) {
	f, err := tmplfile.Parse(source, data, tmplfile.Options{Verbatim: true})
	if err != nil {
		return nil, err
	}
	t := fromFile(f)
	if err := t.prepare(nil, nil); err != nil {
		return nil, err
	}
	return t, nil
}
