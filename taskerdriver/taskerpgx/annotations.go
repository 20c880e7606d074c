package taskerpgx

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tasker-go/tasker/internal/driverkit"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

const annotationCols = driverkit.AnnotationColumns

func scanAnnotation(r pgx.Row) (*taskertype.TaskAnnotation, error) {
	var a taskertype.TaskAnnotation
	if err := r.Scan(&a.ID, &a.TaskID, &a.Type, &a.Annotation, &a.CreatedAt); err != nil {
		return nil, driverkit.NoRows(err, pgx.ErrNoRows)
	}
	a.CreatedAt = a.CreatedAt.UTC()
	return &a, nil
}

// AnnotationInsert is one statement. The type is read, or inserted when
// missing (only when the task exists); an insert that meets a type
// committed meanwhile by another insert takes that type's row through
// ON CONFLICT DO UPDATE, which sees it (a plain read would not, in the
// statement's snapshot). A task deleted meanwhile breaks the foreign key:
// ErrNotFound as well.
func (e *executor) AnnotationInsert(ctx context.Context, p *taskerdriver.AnnotationInsertParams) (*taskertype.TaskAnnotation, error) {
	doc, err := driverkit.AnnotationJSON(p)
	if err != nil {
		return nil, err
	}
	a, err := scanAnnotation(e.q.QueryRow(ctx, `WITH task AS (SELECT task_id FROM tasker_tasks WHERE task_id = $1),
		existing AS (SELECT annotation_type_id FROM tasker_annotation_types WHERE name = $2),
		created AS (
			INSERT INTO tasker_annotation_types (name, created_at)
			SELECT $2, $4 WHERE NOT EXISTS (SELECT 1 FROM existing) AND EXISTS (SELECT 1 FROM task)
			ON CONFLICT (name) DO UPDATE SET name = excluded.name
			RETURNING annotation_type_id),
		typ AS (SELECT annotation_type_id FROM existing UNION ALL SELECT annotation_type_id FROM created),
		a AS (
			INSERT INTO tasker_task_annotations (task_id, annotation_type_id, annotation, created_at)
			SELECT task.task_id, typ.annotation_type_id, $3::jsonb, $4 FROM task, typ
			RETURNING task_annotation_id, task_id, annotation, created_at)
		SELECT a.task_annotation_id, a.task_id, $2::text, a.annotation, a.created_at FROM a`,
		p.TaskID, p.Type, doc, p.Now.UTC()))
	var pe *pgconn.PgError
	switch {
	case errors.Is(err, taskerdriver.ErrNotFound), errors.As(err, &pe) && pe.Code == "23503":
		return nil, fmt.Errorf("%w: task %d", taskerdriver.ErrNotFound, p.TaskID)
	case err != nil:
		return nil, valueRejected(fmt.Errorf("postgres: annotation insert: %w", err))
	}
	return a, nil
}

func (e *executor) AnnotationList(ctx context.Context, p *taskerdriver.AnnotationListParams) ([]*taskertype.TaskAnnotation, error) {
	return driverkit.ListAnnotations(driverName, p.TaskIDs, func(ids []int64) ([]*taskertype.TaskAnnotation, error) {
		return queryAll(ctx, e.q, `SELECT `+annotationCols+` FROM tasker_task_annotations a
			JOIN tasker_annotation_types y ON y.annotation_type_id = a.annotation_type_id
			WHERE a.task_id = ANY($1) ORDER BY a.task_id, a.task_annotation_id`, []any{ids}, scanAnnotation)
	})
}

func (e *executor) AnnotationTypeList(ctx context.Context) ([]*taskertype.AnnotationType, error) {
	return driverkit.ListAnnotationTypes(driverName, func(q string) ([]*taskertype.AnnotationType, error) {
		return queryAll(ctx, e.q, q, nil, driverkit.ScanAnnotationType[pgx.Row])
	})
}

// annotationWhere is the task list's condition of an annotation filter:
// containment of one of the filter's candidates (driverkit.
// AnnotationCandidates), which the GIN index on the annotations answers,
// then the member's text, annotation ->> key = value.
func annotationWhere(f *taskerdriver.AnnotationFilter, arg func(any) string) string {
	cands := driverkit.AnnotationCandidates(f)
	contains := make([]string, len(cands))
	for i, c := range cands {
		contains[i] = "a.annotation @> " + arg(c) + "::jsonb"
	}
	return `EXISTS (SELECT 1 FROM tasker_task_annotations a
		JOIN tasker_annotation_types y ON y.annotation_type_id = a.annotation_type_id
		WHERE a.task_id = tasker_tasks.task_id AND y.name = ` + arg(f.Type) + `
		AND (` + strings.Join(contains, " OR ") + `) AND a.annotation ->> ` + arg(f.Key) + `::text = ` + arg(f.Value) + `::text)`
}
