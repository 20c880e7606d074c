package taskersqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/tasker-go/tasker/internal/driverkit"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

const annotationCols = driverkit.AnnotationColumns

const annotationFrom = ` FROM tasker_task_annotations a JOIN tasker_annotation_types y ON y.annotation_type_id = a.annotation_type_id`

func scanAnnotation(r rowScanner) (*taskertype.TaskAnnotation, error) {
	var a taskertype.TaskAnnotation
	var raw string
	var created int64
	if err := r.Scan(&a.ID, &a.TaskID, &a.Type, &raw, &created); err != nil {
		return nil, driverkit.NoRows(err, sql.ErrNoRows)
	}
	a.Annotation = []byte(raw)
	a.CreatedAt = time.UnixMicro(created).UTC()
	return &a, nil
}

// AnnotationInsert runs in a write transaction, which SQLite serializes: the
// type found missing is created by this transaction alone.
func (e *executor) AnnotationInsert(ctx context.Context, p *taskerdriver.AnnotationInsertParams) (*taskertype.TaskAnnotation, error) {
	doc, err := driverkit.AnnotationJSON(p)
	if err != nil {
		return nil, err
	}
	var a *taskertype.TaskAnnotation
	err = e.write(ctx, func(x *executor) error {
		var found int
		if err := x.w.QueryRowContext(ctx, `SELECT count(*) FROM tasker_tasks WHERE task_id = ?`, p.TaskID).Scan(&found); err != nil {
			return fmt.Errorf("sqlite: annotation insert: %w", err)
		}
		if found == 0 {
			return fmt.Errorf("%w: task %d", taskerdriver.ErrNotFound, p.TaskID)
		}
		now := us(p.Now)
		if _, err := x.w.ExecContext(ctx, `INSERT INTO tasker_annotation_types (name, created_at) VALUES (?, ?)
			ON CONFLICT (name) DO NOTHING`, p.Type, now); err != nil {
			return fmt.Errorf("sqlite: annotation type insert: %w", err)
		}
		var id int64
		if err := x.w.QueryRowContext(ctx, `INSERT INTO tasker_task_annotations (task_id, annotation_type_id, annotation, created_at)
			SELECT ?, annotation_type_id, ?, ? FROM tasker_annotation_types WHERE name = ?
			RETURNING task_annotation_id`, p.TaskID, doc, now, p.Type).Scan(&id); err != nil {
			return fmt.Errorf("sqlite: annotation insert: %w", err)
		}
		a, err = scanAnnotation(x.w.QueryRowContext(ctx, `SELECT `+annotationCols+annotationFrom+` WHERE a.task_annotation_id = ?`, id))
		if err != nil {
			return fmt.Errorf("sqlite: annotation insert: %w", err)
		}
		return nil
	})
	return a, err
}

func (e *executor) AnnotationList(ctx context.Context, p *taskerdriver.AnnotationListParams) ([]*taskertype.TaskAnnotation, error) {
	return driverkit.ListAnnotations(driverName, p.TaskIDs, func(ids []int64) ([]*taskertype.TaskAnnotation, error) {
		return queryAll(ctx, e.r, `SELECT `+annotationCols+annotationFrom+`
			WHERE a.task_id IN (SELECT value FROM json_each(?)) ORDER BY a.task_id, a.task_annotation_id`,
			[]any{idsJSON(ids)}, scanAnnotation)
	})
}

func (e *executor) AnnotationTypeList(ctx context.Context) ([]*taskertype.AnnotationType, error) {
	return driverkit.ListAnnotationTypes(driverName, func(q string) ([]*taskertype.AnnotationType, error) {
		return queryAll(ctx, e.r, q, nil, driverkit.ScanAnnotationType[rowScanner])
	})
}

// annotationWhere is the task list's condition of an annotation filter. A
// member's text is its string, the words true and false, or a number's
// JSON text (-> keeps it as stored: as PostgreSQL's numeric writes it,
// driverkit.AnnotationJSON); json_each matches the key exactly, whatever
// characters it holds.
func annotationWhere(f *taskerdriver.AnnotationFilter) (string, []any) {
	return `EXISTS (SELECT 1 FROM tasker_task_annotations a
		JOIN tasker_annotation_types y ON y.annotation_type_id = a.annotation_type_id, json_each(a.annotation) j
		WHERE a.task_id = tasker_tasks.task_id AND y.name = ? AND j.key = ?
		AND CASE j.type WHEN 'text' THEN j.value WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'
			WHEN 'integer' THEN a.annotation -> j.fullkey WHEN 'real' THEN a.annotation -> j.fullkey END = ?)`,
		[]any{f.Type, f.Key, f.Value}
}
