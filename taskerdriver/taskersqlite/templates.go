package taskersqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tasker-go/tasker/internal/driverkit"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

func scanTemplate(withDefinition bool) func(rowScanner) (*taskertype.RegisteredTemplate, error) {
	return func(r rowScanner) (*taskertype.RegisteredTemplate, error) {
		var t taskertype.RegisteredTemplate
		var created, updated int64
		var def string
		dest := []any{&t.Namespace, &t.Name, &t.Version, &t.Hash, &t.Source, &t.RegisteredBy, &created, &updated}
		if withDefinition {
			dest = append(dest, &def)
		}
		if err := r.Scan(dest...); err != nil {
			return nil, driverkit.NoRows(err, sql.ErrNoRows)
		}
		t.CreatedAt, t.UpdatedAt = time.UnixMicro(created).UTC(), time.UnixMicro(updated).UTC()
		if withDefinition {
			t.Definition = []byte(def)
		}
		return &t, nil
	}
}

// TemplateRegister runs in one write transaction (SQLite's one writer), so
// the stored row cannot change between its statements; the insert's ON
// CONFLICT is what makes processes sharing the file safe all the same.
func (e *executor) TemplateRegister(ctx context.Context, p *taskerdriver.TemplateRegisterParams) (*taskerdriver.TemplateRegisterResult, error) {
	var res *taskerdriver.TemplateRegisterResult
	err := e.write(ctx, func(x *executor) error {
		row, err := scanTemplate(false)(x.w.QueryRowContext(ctx, `INSERT INTO tasker_templates (namespace, name, version, content_hash, definition, source, registered_by, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (namespace, name, version) DO NOTHING RETURNING `+driverkit.TemplateColumns,
			p.Namespace, p.Name, p.Version, p.Hash, string(p.Definition), p.Source, p.RegisteredBy, us(p.Now), us(p.Now)))
		switch {
		case err == nil:
			res = &taskerdriver.TemplateRegisterResult{Outcome: taskerdriver.TemplateCreated, Template: row}
			return nil
		case !errors.Is(err, taskerdriver.ErrNotFound):
			return fmt.Errorf("sqlite: template register: %w", err)
		}
		row, err = scanTemplate(false)(x.w.QueryRowContext(ctx, `SELECT `+driverkit.TemplateColumns+` FROM tasker_templates
			WHERE namespace = ? AND name = ? AND version = ?`, p.Namespace, p.Name, p.Version))
		if err != nil {
			return fmt.Errorf("sqlite: template register: %w", err)
		}
		outcome, update := driverkit.TemplateExisting(p, row)
		if update {
			row, err = scanTemplate(false)(x.w.QueryRowContext(ctx, `UPDATE tasker_templates SET content_hash = ?, definition = ?, source = ?,
				registered_by = ?, updated_at = ? WHERE namespace = ? AND name = ? AND version = ? RETURNING `+driverkit.TemplateColumns,
				p.Hash, string(p.Definition), p.Source, p.RegisteredBy, us(p.Now), p.Namespace, p.Name, p.Version))
			if err != nil {
				return fmt.Errorf("sqlite: template register: %w", err)
			}
		}
		res = &taskerdriver.TemplateRegisterResult{Outcome: outcome, Template: row}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (e *executor) TemplateGet(ctx context.Context, p *taskerdriver.TemplateGetParams) (*taskertype.RegisteredTemplate, error) {
	t, err := scanTemplate(true)(e.r.QueryRowContext(ctx, `SELECT `+driverkit.TemplateDefinitionColumns+` FROM tasker_templates
		WHERE namespace = ? AND name = ? AND version = ?`, p.Namespace, p.Name, p.Version))
	if errors.Is(err, taskerdriver.ErrNotFound) {
		return nil, fmt.Errorf("%w: template %s", taskerdriver.ErrNotFound, driverkit.TemplateKey(p.Namespace, p.Name, p.Version))
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: template get: %w", err)
	}
	return t, nil
}

func (e *executor) TemplateList(ctx context.Context, p *taskerdriver.TemplateListParams) ([]*taskertype.RegisteredTemplate, error) {
	q, args := driverkit.TemplateListQuery(p, func(int) string { return "?" })
	out, err := queryAll(ctx, e.r, q+` ORDER BY namespace, name, version`, args, scanTemplate(p.WithDefinition))
	if err != nil {
		return nil, fmt.Errorf("sqlite: template list: %w", err)
	}
	return out, nil
}
