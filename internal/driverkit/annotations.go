package driverkit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tasker-go/tasker/internal/jsonclean"
	"github.com/tasker-go/tasker/taskerdriver"
	"github.com/tasker-go/tasker/taskertype"
)

// AnnotationColumns are the columns every annotation query selects, in the
// order the drivers scan them (a is tasker_task_annotations, y
// tasker_annotation_types).
const AnnotationColumns = `a.task_annotation_id, a.task_id, y.name, a.annotation, a.created_at`

// ListAnnotations is Executor.AnnotationList: list reads the annotations of
// the tasks ids, a non-empty list; driver names it in the error. The list
// is never nil, and empty, without a query, for no task.
func ListAnnotations(driver string, ids []int64, list func(ids []int64) ([]*taskertype.TaskAnnotation, error)) ([]*taskertype.TaskAnnotation, error) {
	out := []*taskertype.TaskAnnotation{}
	if len(ids) == 0 {
		return out, nil
	}
	more, err := list(ids)
	if err != nil {
		return nil, fmt.Errorf("%s: annotation list: %w", driver, err)
	}
	return append(out, more...), nil
}

// AnnotationTypeQuery lists the annotation types by name, in the columns
// ScanAnnotationType reads.
const AnnotationTypeQuery = `SELECT annotation_type_id, name, description FROM tasker_annotation_types ORDER BY name`

// ScanAnnotationType reads a row of AnnotationTypeQuery.
func ScanAnnotationType[R interface{ Scan(dest ...any) error }](r R) (*taskertype.AnnotationType, error) {
	var t taskertype.AnnotationType
	return &t, r.Scan(&t.ID, &t.Name, &t.Description)
}

// ListAnnotationTypes is Executor.AnnotationTypeList: list runs
// AnnotationTypeQuery in the driver's database (ScanAnnotationType reads
// its rows); driver names it in the error. The list is never nil.
func ListAnnotationTypes(driver string, list func(query string) ([]*taskertype.AnnotationType, error)) ([]*taskertype.AnnotationType, error) {
	out, err := list(AnnotationTypeQuery)
	if err != nil {
		return nil, fmt.Errorf("%s: annotation type list: %w", driver, err)
	}
	if out == nil {
		out = []*taskertype.AnnotationType{}
	}
	return out, nil
}

// MaxAnnotationTypeLen is the longest annotation type name the schema
// stores (bytes).
const MaxAnnotationTypeLen = 64

// AnnotationJSON checks an annotation for storage and returns the text the
// drivers store: a JSON object with each key once (the last of duplicates,
// as PostgreSQL's jsonb keeps) and every number written as PostgreSQL's
// numeric writes it (1e2 as 100, -0 as 0, 1.50 as 1.50). SQLite keeps the
// text it is given, so storing this text makes its annotation filter
// (AnnotationFilter) compare numbers as PostgreSQL does. A type name that
// is empty or too long, or an annotation that is not a JSON object, is a
// *taskerdriver.ValueRejectedError.
func AnnotationJSON(p *taskerdriver.AnnotationInsertParams) (string, error) {
	if p.Type == "" || len(p.Type) > MaxAnnotationTypeLen {
		return "", rejected(fmt.Sprintf("annotation type name must be 1 to %d bytes long", MaxAnnotationTypeLen))
	}
	dec := json.NewDecoder(bytes.NewReader(p.Annotation))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil || dec.More() {
		return "", rejected("annotation must be one JSON object")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(pgNumbers(obj)); err != nil {
		return "", rejected("annotation: " + err.Error())
	}
	return string(bytes.TrimRight(buf.Bytes(), "\n")), nil
}

func rejected(reason string) error {
	return &taskerdriver.ValueRejectedError{Reason: reason, Code: "annotation", Err: errors.New(reason)}
}

// pgNumbers rewrites the numbers of a decoded document (json.Number) as
// PGNumber does.
func pgNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		return json.Number(PGNumber(string(x)))
	case []any:
		for i, e := range x {
			x[i] = pgNumbers(e)
		}
	case map[string]any:
		for k, e := range x {
			x[k] = pgNumbers(e)
		}
	}
	return v
}

// PGNumber returns the JSON number n as PostgreSQL's numeric type writes
// it: without an exponent, with as many fraction digits as n has after
// its exponent is applied (its scale), no leading zeros, and no sign on
// zero. A number whose exponent does not fit (never one PostgreSQL can
// store) is returned as it is.
func PGNumber(n string) string {
	mant, exp := n, 0
	if k := strings.IndexAny(n, "eE"); k >= 0 {
		e, err := strconv.Atoi(strings.TrimPrefix(n[k+1:], "+"))
		if err != nil || e > 1<<20 || e < -(1<<20) {
			return n
		}
		mant, exp = n[:k], e
	}
	neg := strings.HasPrefix(mant, "-")
	mant = strings.TrimPrefix(mant, "-")
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := intPart + frac
	point := len(intPart) + exp // where the decimal point falls in digits
	var whole, fraction string
	switch {
	case point <= 0:
		whole, fraction = "0", strings.Repeat("0", -point)+digits
	case point >= len(digits):
		whole = digits + strings.Repeat("0", point-len(digits))
	default:
		whole, fraction = digits[:point], digits[point:]
	}
	whole = strings.TrimLeft(whole, "0")
	if whole == "" {
		whole = "0"
	}
	out := whole
	if fraction != "" {
		out += "." + fraction
	}
	if neg && strings.Trim(digits, "0") != "" {
		out = "-" + out
	}
	return out
}

// AnnotationCandidates returns the JSON objects whose containment
// (PostgreSQL's @>) selects a superset of the annotations that f matches:
// {Key: Value} as a string, and {Key: true}, {Key: false} or {Key: number}
// when Value is written so. PostgreSQL's driver tests them first, through
// the GIN index on the annotations, then compares the member's text.
func AnnotationCandidates(f *taskerdriver.AnnotationFilter) []string {
	enc := func(v any) string {
		var buf bytes.Buffer
		e := json.NewEncoder(&buf)
		e.SetEscapeHTML(false)
		_ = e.Encode(map[string]any{f.Key: v}) // strings and numbers always encode
		return strings.TrimRight(buf.String(), "\n")
	}
	out := []string{enc(f.Value)}
	switch {
	case f.Value == "true" || f.Value == "false":
		out = append(out, enc(f.Value == "true"))
	case isPGNumber(f.Value):
		out = append(out, enc(json.Number(f.Value)))
	}
	return out
}

// isPGNumber reports whether s is a number as PostgreSQL's numeric writes
// one (-?digits[.digits], no leading zero), within the range it stores.
func isPGNumber(s string) bool {
	whole, frac, hasFrac := strings.Cut(strings.TrimPrefix(s, "-"), ".")
	allDigits := func(d string) bool {
		return d != "" && strings.Trim(d, "0123456789") == ""
	}
	if !allDigits(whole) || (len(whole) > 1 && whole[0] == '0') || len(whole) > jsonclean.MaxIntegerDigits {
		return false
	}
	return !hasFrac || (allDigits(frac) && len(frac) <= jsonclean.MaxFractionDigits)
}
