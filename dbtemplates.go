package tasker

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// RegisteredTemplate is a task template registered in the database (see
// Client.RegisterTemplates), without its definition in lists.
type RegisteredTemplate = taskertype.RegisteredTemplate

// TemplateRegistration is what Client.RegisterTemplates did with one
// template.
type TemplateRegistration struct {
	// Template is the registration stored after the call.
	Template *RegisteredTemplate
	// Outcome is "created" (a new version), "unchanged" (the same content
	// was registered already) or "replaced" (RegisterTemplatesOptions.Replace).
	Outcome string
}

// RegisterTemplatesOptions modify Client.RegisterTemplates.
type RegisterTemplatesOptions struct {
	// Templates to register. Nil: every template of the client's registry.
	Templates []*TaskTemplate
	// Replace stores each template over other content registered under
	// its version. Without it such a template is refused with a
	// *TemplateConflictError: bump the version of a changed template
	// instead, so that the tasks of both contents keep their meaning.
	Replace bool
	// RegisteredBy names who registers, in the registrations and in the
	// conflicts others meet. Defaults to "worker " and the client's worker
	// id (host-pid-random).
	RegisteredBy string
}

// ErrTemplateConflict is matched (errors.Is) by the *TemplateConflictError
// of a template whose version is registered with other content.
var ErrTemplateConflict = errors.New("template version registered with other content")

// TemplateConflictError is a template refused by Client.RegisterTemplates
// because its version is registered with other content. It names both
// registrations and how to fix it.
type TemplateConflictError struct {
	// Template is "namespace.name@version".
	Template string
	// Registered is the registration in the database.
	Registered *RegisteredTemplate
	// Source, RegisteredBy and Hash describe the refused registration.
	Source, RegisteredBy, Hash string
}

func (e *TemplateConflictError) Error() string {
	short := func(h string) string { return h[:min(len(h), 12)] }
	return fmt.Sprintf("template %s is already registered with other content: %s (content %s, %s); refused: %s (content %s); "+
		"bump the version in %s, or replace the registered template explicitly (RegisterTemplatesOptions.Replace, tasker template push --replace)",
		e.Template, describeSource(e.Registered.Source, e.Registered.RegisteredBy), short(e.Registered.Hash),
		e.Registered.UpdatedAt.Format(time.RFC3339), describeSource(e.Source, e.RegisteredBy), short(e.Hash), cmpOr(e.Source, "the template"))
}

// Is makes the error match ErrTemplateConflict.
func (e *TemplateConflictError) Is(target error) bool { return target == ErrTemplateConflict }

func describeSource(source, by string) string {
	switch {
	case source != "" && by != "":
		return source + " registered by " + by
	case source != "":
		return source
	case by != "":
		return "a Go template registered by " + by
	}
	return "an unnamed source"
}

// RegisterTemplates registers templates (by default every template of the
// client's registry) in the database, keyed by namespace, name and version
// with the SHA-256 of their canonical form, so that any process on the
// database can create, validate, list and draw their tasks without their
// files (CreateTask, Template, TemplateCatalog). Registering the same
// content again changes nothing, so every worker may register its
// templates at each start (Start does, unless
// WorkerConfig.SkipTemplateRegistration); concurrent registrations are
// safe. A version registered with other content is refused with a
// *TemplateConflictError (errors.Is ErrTemplateConflict) naming both
// sources, unless opts.Replace. The other templates are registered all the
// same; the errors of the refused ones are joined.
//
// What is stored is the template as the registry holds it: its
// handler_config keeps its ${VAR} references as written (never their
// values); other strings are as loaded.
func (c *Client) RegisterTemplates(ctx context.Context, opts *RegisterTemplatesOptions) ([]*TemplateRegistration, error) {
	if opts == nil {
		opts = &RegisterTemplatesOptions{}
	}
	templates := opts.Templates
	if templates == nil {
		templates = c.registry.Templates("")
	}
	by := cmpOr(opts.RegisteredBy, "worker "+c.workerID)
	var (
		out  []*TemplateRegistration
		errs []error
	)
	for _, t := range templates {
		if t == nil {
			continue
		}
		data, hash, err := t.canonical()
		if err == nil {
			// What cannot be read back is never stored.
			_, err = parseCanonical(t.FullName(), data)
		}
		if err != nil {
			errs = append(errs, &TemplateError{File: t.File, Template: t.Name, Problem: "cannot be registered in the database: " + err.Error(), Err: err})
			continue
		}
		source := t.File
		if source != "" {
			if abs, err := filepath.Abs(source); err == nil {
				source = abs
			}
		}
		res, err := c.exec.TemplateRegister(ctx, &taskerdriver.TemplateRegisterParams{
			Namespace: t.Namespace, Name: t.Name, Version: t.Version, Hash: hash, Definition: data,
			Source: source, RegisteredBy: by, Replace: opts.Replace, Now: c.cfg.Now().UTC(),
		})
		if err != nil {
			return out, fmt.Errorf("register template %s: %w", t.FullName(), err)
		}
		if res.Outcome == taskerdriver.TemplateConflict {
			errs = append(errs, &TemplateConflictError{Template: t.FullName(), Registered: res.Template, Source: source, RegisteredBy: by, Hash: hash})
			continue
		}
		out = append(out, &TemplateRegistration{Template: res.Template, Outcome: string(res.Outcome)})
	}
	c.dbTemplates.invalidate()
	return out, errors.Join(errs...)
}

// registerOnStart is Start's registration of the registry's templates: a
// conflict stops the start; a template that cannot be stored is a warning.
func (c *Client) registerOnStart(ctx context.Context) error {
	if c.cfg.Worker.SkipTemplateRegistration || len(c.registry.Namespaces()) == 0 {
		return nil
	}
	_, err := c.RegisterTemplates(ctx, nil)
	if err == nil {
		return nil
	}
	var conflicts, others []error
	for _, e := range flatten(err) {
		var te *TemplateError
		if errors.As(e, &te) && !errors.Is(e, ErrTemplateConflict) {
			others = append(others, e)
		} else {
			conflicts = append(conflicts, e)
		}
	}
	for _, e := range others {
		c.logger.WarnContext(ctx, "tasker: template not registered in the database", "error", e)
	}
	if len(conflicts) > 0 {
		return fmt.Errorf("tasker: start: %w", errors.Join(conflicts...))
	}
	return nil
}

// flatten lists the errors joined in err (err itself when not joined).
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// Templates lists the templates registered in the database (without their
// definitions), sorted by namespace, name and version.
func (c *Client) Templates(ctx context.Context) ([]*RegisteredTemplate, error) {
	list, err := c.exec.TemplateList(ctx, &taskerdriver.TemplateListParams{})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if a.Namespace != b.Namespace || a.Name != b.Name {
			return false // the driver's order
		}
		return compareSemver(a.Version, b.Version) < 0
	})
	return list, nil
}

// Template returns the template namespace.name@version ("" or "latest":
// the highest version) that CreateTask uses: the client's registry's when
// it has that name, else the one registered in the database (as read at
// most 5 seconds ago; a template not found there is looked for again when
// the last read is more than 250 ms old).
func (c *Client) Template(ctx context.Context, namespace, name, version string) (*TaskTemplate, error) {
	t, err := c.registry.Template(namespace, name, version)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return t, err
	}
	db, fresh, derr := c.dbTemplates.get(ctx, c, false)
	if derr != nil {
		return nil, derr
	}
	if dt, e := db.Template(namespace, name, version); e == nil {
		return dt, nil
	}
	if !fresh && c.dbTemplates.age() >= templateMissTTL {
		if db, _, derr = c.dbTemplates.get(ctx, c, true); derr != nil {
			return nil, derr
		}
		if dt, e := db.Template(namespace, name, version); e == nil {
			return dt, nil
		}
	}
	if len(db.Namespaces()) == 0 && len(c.registry.Namespaces()) == 0 {
		return nil, fmt.Errorf("%w (no task template is loaded here nor registered in the database: load the templates, or register them: tasker template push DIR)", err)
	}
	if _, e := db.Template(namespace, name, ""); e == nil {
		return nil, fmt.Errorf("%w: no version %q of task template %s.%s (registered: %s)", ErrNotFound, version, cmpOr(namespace, "default"), name,
			strings.Join(db.Versions(namespace, name), ", "))
	}
	return nil, err
}

// TemplateCatalog returns a registry of every template this client knows:
// its registry's, and those registered in the database that its registry
// lacks (read at most templateCacheTTL ago). It holds no handlers: it is
// the view the listing APIs (REST handlers routes, tasker handlers) serve.
func (c *Client) TemplateCatalog(ctx context.Context) (*Registry, error) {
	db, _, err := c.dbTemplates.get(ctx, c, false)
	if err != nil {
		return nil, err
	}
	out := &Registry{templates: map[string]map[string]map[string]*TaskTemplate{}, handlers: map[string]StepHandler{}}
	for _, t := range c.registry.Templates("") {
		out.add(t)
	}
	for _, t := range db.Templates("") {
		out.add(t)
	}
	return out, nil
}

// templateCacheTTL is how long the templates read from the database serve
// lookups before they are read again (a template not found is looked for
// again at once).
const templateCacheTTL = 5 * time.Second

// templateMissTTL is the least age of the templates read from the database
// for a template not found among them to be looked for again: it bounds the
// reads that requests for unknown templates cause.
const templateMissTTL = 250 * time.Millisecond

// templateCache holds the templates registered in the database, parsed.
type templateCache struct {
	mu  sync.Mutex
	at  time.Time
	reg *Registry
	// parsed keeps each template by key and hash, so that a read parses
	// only what changed.
	parsed map[string]*TaskTemplate
}

// age is the time since the last read (long when never read).
func (tc *templateCache) age() time.Duration {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.at.IsZero() {
		return time.Hour
	}
	return time.Since(tc.at)
}

func (tc *templateCache) invalidate() {
	tc.mu.Lock()
	tc.at = time.Time{}
	tc.mu.Unlock()
}

// get returns the registry of the database's templates, read again when
// older than templateCacheTTL or when force; fresh reports a read now.
func (tc *templateCache) get(ctx context.Context, c *Client, force bool) (reg *Registry, fresh bool, err error) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.reg != nil && !force && !tc.at.IsZero() && time.Since(tc.at) < templateCacheTTL {
		return tc.reg, false, nil
	}
	list, err := c.exec.TemplateList(ctx, &taskerdriver.TemplateListParams{WithDefinition: true})
	if err != nil {
		return nil, false, fmt.Errorf("read the templates registered in the database: %w", err)
	}
	reg = &Registry{templates: map[string]map[string]map[string]*TaskTemplate{}, handlers: map[string]StepHandler{}}
	parsed := make(map[string]*TaskTemplate, len(list))
	for _, rt := range list {
		key := rt.Namespace + "\x00" + rt.Name + "\x00" + rt.Version + "\x00" + rt.Hash
		t := tc.parsed[key]
		if t == nil {
			source := "database template " + rt.Namespace + "." + rt.Name + "@" + rt.Version
			if t, err = parseCanonical(source, rt.Definition); err != nil {
				c.logger.WarnContext(ctx, "tasker: a template registered in the database cannot be read", "template", source, "error", err)
				continue
			}
			t.File = rt.Source
		}
		parsed[key] = t
		reg.add(t)
	}
	tc.reg, tc.parsed, tc.at = reg, parsed, time.Now()
	return reg, true, nil
}
