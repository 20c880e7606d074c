package taskerpgx

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/internal/driverkit"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

func scanTemplate(withDefinition bool) func(pgx.Row) (*taskertype.RegisteredTemplate, error) {
	return func(r pgx.Row) (*taskertype.RegisteredTemplate, error) {
		var t taskertype.RegisteredTemplate
		dest := []any{&t.Namespace, &t.Name, &t.Version, &t.Hash, &t.Source, &t.RegisteredBy, &t.CreatedAt, &t.UpdatedAt}
		var def string
		if withDefinition {
			dest = append(dest, &def)
		}
		if err := r.Scan(dest...); err != nil {
			return nil, driverkit.NoRows(err, pgx.ErrNoRows)
		}
		t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
		if withDefinition {
			t.Definition = []byte(def)
		}
		return &t, nil
	}
}

// TemplateRegister is one statement that inserts the key or finds it
// stored: ON CONFLICT makes concurrent registrations of one key safe (one
// inserts, the others wait for it and find its row). With Replace the
// conflict updates a row of other content in the same statement (xmax = 0
// tells an inserted row from an updated one); without it, or when the
// stored content is the same, the stored row is read after.
func (e *executor) TemplateRegister(ctx context.Context, p *taskerdriver.TemplateRegisterParams) (*taskerdriver.TemplateRegisterResult, error) {
	onConflict := `DO NOTHING`
	if p.Replace {
		onConflict = `DO UPDATE SET content_hash = excluded.content_hash, definition = excluded.definition, source = excluded.source,
			registered_by = excluded.registered_by, updated_at = excluded.updated_at WHERE tasker_templates.content_hash <> excluded.content_hash`
	}
	var row taskertype.RegisteredTemplate
	var inserted bool
	err := e.q.QueryRow(ctx, `INSERT INTO tasker_templates (namespace, name, version, content_hash, definition, source, registered_by, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (namespace, name, version) `+onConflict+` RETURNING `+driverkit.TemplateColumns+`, xmax = 0`,
		p.Namespace, p.Name, p.Version, p.Hash, string(p.Definition), p.Source, p.RegisteredBy, p.Now.UTC()).
		Scan(&row.Namespace, &row.Name, &row.Version, &row.Hash, &row.Source, &row.RegisteredBy, &row.CreatedAt, &row.UpdatedAt, &inserted)
	switch {
	case err == nil:
		row.CreatedAt, row.UpdatedAt = row.CreatedAt.UTC(), row.UpdatedAt.UTC()
		outcome := taskerdriver.TemplateReplaced
		if inserted {
			outcome = taskerdriver.TemplateCreated
		}
		return &taskerdriver.TemplateRegisterResult{Outcome: outcome, Template: &row}, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return nil, valueRejected(fmt.Errorf("postgres: template register: %w", err))
	}
	stored, err := e.TemplateGet(ctx, &taskerdriver.TemplateGetParams{Namespace: p.Namespace, Name: p.Name, Version: p.Version})
	if err != nil {
		return nil, err
	}
	stored.Definition = nil
	outcome, _ := driverkit.TemplateExisting(p, stored)
	if outcome == taskerdriver.TemplateReplaced {
		// A concurrent replacement stored other content after this one's
		// statement found its own: this content was stored, then replaced.
		outcome = taskerdriver.TemplateUnchanged
	}
	return &taskerdriver.TemplateRegisterResult{Outcome: outcome, Template: stored}, nil
}

func (e *executor) TemplateGet(ctx context.Context, p *taskerdriver.TemplateGetParams) (*taskertype.RegisteredTemplate, error) {
	t, err := scanTemplate(true)(e.q.QueryRow(ctx, `SELECT `+driverkit.TemplateDefinitionColumns+` FROM tasker_templates
		WHERE namespace = $1 AND name = $2 AND version = $3`, p.Namespace, p.Name, p.Version))
	if errors.Is(err, taskerdriver.ErrNotFound) {
		return nil, fmt.Errorf("%w: template %s", taskerdriver.ErrNotFound, driverkit.TemplateKey(p.Namespace, p.Name, p.Version))
	}
	if err != nil {
		return nil, valueRejected(fmt.Errorf("postgres: template get: %w", err))
	}
	return t, nil
}

func (e *executor) TemplateList(ctx context.Context, p *taskerdriver.TemplateListParams) ([]*taskertype.RegisteredTemplate, error) {
	q, args := driverkit.TemplateListQuery(p, func(i int) string { return fmt.Sprintf("$%d", i) })
	out, err := queryAll(ctx, e.q, q+` ORDER BY namespace COLLATE "C", name COLLATE "C", version COLLATE "C"`, args, scanTemplate(p.WithDefinition))
	if err != nil {
		return nil, valueRejected(fmt.Errorf("postgres: template list: %w", err))
	}
	return out, nil
}
