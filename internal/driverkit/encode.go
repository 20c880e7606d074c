package driverkit

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// EmptyObject is the metadata of a transition that has none.
var EmptyObject = json.RawMessage(`{}`)

// CreatedMeta is the metadata of a task's first transition when the create
// gives none.
var CreatedMeta = json.RawMessage(`{"initialized_by":"task_create"}`)

// CreateMeta is the metadata of a new task's first transition.
func CreateMeta(m json.RawMessage) json.RawMessage {
	if len(m) == 0 {
		return CreatedMeta
	}
	return m
}

// AuditMeta is the metadata argument of an audited update: nil (SQL NULL,
// no transition) when the update gives none.
func AuditMeta(m json.RawMessage) *string {
	if len(m) == 0 {
		return nil
	}
	s := string(m)
	return &s
}

// JSONArg passes raw JSON as a text parameter (of a jsonb or TEXT
// column): nil (SQL NULL) when empty.
func JSONArg(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// Meta returns a transition's metadata, {} when empty.
func Meta(m json.RawMessage) json.RawMessage {
	if len(m) == 0 {
		return EmptyObject
	}
	return m
}

// StepErrorJSON encodes a step's error for its last_error column; nil for
// none.
func StepErrorJSON(e *taskertype.StepError) (*string, error) {
	if e == nil {
		return nil, nil
	}
	b, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	s := string(b)
	return &s, nil
}

// ScannedStep completes a step read from a row: its last error decoded from
// the last_error column (empty or null for none) and empty edge lists
// (filled by LinkEdges or a claim).
func ScannedStep(st *taskertype.Step, lastErr []byte) error {
	if len(lastErr) > 0 && string(lastErr) != "null" {
		st.LastError = &taskertype.StepError{}
		if err := json.Unmarshal(lastErr, st.LastError); err != nil {
			return fmt.Errorf("step %d last_error: %w", st.ID, err)
		}
	}
	st.ParentIDs = []int64{}
	st.ChildIDs = []int64{}
	return nil
}

// ScannedTask completes a task read from a row: its tags decoded from the
// tags column (never nil).
func ScannedTask(t *taskertype.Task, tags []byte) error {
	if err := decodeList(tags, &t.Tags); err != nil {
		return fmt.Errorf("task %d tags: %w", t.ID, err)
	}
	return nil
}

// listJSON encodes a list of strings for a JSON column: [] for nil.
func listJSON(list []string) (string, error) {
	if list == nil {
		list = []string{}
	}
	b, err := json.Marshal(list)
	return string(b), err
}

// decodeList decodes a JSON column holding a list of strings into dst,
// never leaving it nil.
func decodeList(b []byte, dst *[]string) error {
	if err := json.Unmarshal(b, dst); err != nil {
		return err
	}
	if *dst == nil {
		*dst = []string{}
	}
	return nil
}

// TaskJSON returns the JSON of a new task's tags and context, defaulting to
// [] and {}.
func TaskJSON(p *taskerdriver.TaskCreateParams) (tags, context string, err error) {
	if tags, err = listJSON(p.Tags); err != nil {
		return "", "", err
	}
	ctx := p.Context
	if len(ctx) == 0 {
		ctx = EmptyObject
	}
	return tags, string(ctx), nil
}

// Limit returns n, or def when n is not positive.
func Limit(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

// NoRows maps the database library's no-rows error to ErrNotFound.
func NoRows(err, noRows error) error {
	if errors.Is(err, noRows) {
		return taskerdriver.ErrNotFound
	}
	return err
}

// AppendScan is a row whose last columns go to Into, after the columns
// the scanner it is given to reads: a scan function for a record, reused
// for a row that carries more.
type AppendScan struct {
	Row  interface{ Scan(dest ...any) error }
	Into []any
}

// Scan implements the row scanners of both drivers.
func (a AppendScan) Scan(dest ...any) error { return a.Row.Scan(append(dest, a.Into...)...) }
