package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// JSON is the JSON scalar: any JSON value. As input it also takes a string
// that holds JSON (the original engine's clients send
// context: "{\"dummy\":true}").
type JSON json.RawMessage

// MarshalGQL writes the value as is (null when empty).
func (j JSON) MarshalGQL(w io.Writer) {
	if len(j) == 0 {
		_, _ = io.WriteString(w, "null")
		return
	}
	_, _ = w.Write(j)
}

// UnmarshalGQL takes a literal or a variable's value; a string must hold
// JSON.
func (j *JSON) UnmarshalGQL(v any) error {
	if s, ok := v.(string); ok {
		if !json.Valid([]byte(s)) {
			return errors.New("a JSON value, or a string holding JSON; this string is not JSON")
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, []byte(s)); err != nil {
			return err
		}
		*j = buf.Bytes()
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("not a JSON value: %w", err)
	}
	*j = b
	return nil
}

// Raw returns j as json.RawMessage (nil when empty).
func (j JSON) Raw() json.RawMessage {
	if len(j) == 0 {
		return nil
	}
	return json.RawMessage(j)
}

// DateTime is the ISO8601DateTime scalar: RFC 3339 in UTC.
type DateTime time.Time

// MarshalGQL writes the time as a JSON string.
func (d DateTime) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.Quote(time.Time(d).UTC().Format(time.RFC3339Nano)))
}

// UnmarshalGQL parses an RFC 3339 string.
func (d *DateTime) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return errors.New("an ISO 8601 time string, such as \"2026-12-06T10:00:00Z\"")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return errors.New("an ISO 8601 time string, such as \"2026-12-06T10:00:00Z\"")
	}
	*d = DateTime(t)
	return nil
}

// timePtr is t as a nullable DateTime (nil when zero).
func timePtr(t time.Time) *DateTime {
	if t.IsZero() {
		return nil
	}
	d := DateTime(t)
	return &d
}
