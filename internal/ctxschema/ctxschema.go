package ctxschema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/tasker-go/tasker/internal/jsontree"
)

// schemaURL is the location under which a context schema is compiled. It only
// appears in messages about references that cannot be resolved.
const schemaURL = "urn:tasker:context-schema"

// printer renders the validator's messages in English.
var printer = message.NewPrinter(language.English)

// Schema is a compiled task-context schema. The zero value and a nil *Schema
// accept any JSON object. A Schema is safe for concurrent use.
type Schema struct {
	compiled *jsonschema.Schema // nil: accept any object
}

// Compile compiles a JSON Schema given as decoded JSON or YAML (maps, slices,
// strings, numbers, booleans and nil). A nil or empty map gives a Schema that
// accepts any JSON object. The error, if any, says in plain words what is
// wrong with the schema and where (as a JSON pointer into the schema).
func Compile(schema map[string]any) (*Schema, error) {
	if len(schema) == 0 {
		return &Schema{}, nil
	}
	// Round-trip through JSON so that the compiler sees exactly the values it
	// understands (json.Number instead of int, uint64 or float64).
	raw, err := json.Marshal(schema)
	if err != nil {
		return nil, fmt.Errorf("schema cannot be expressed as JSON: %w", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("schema cannot be expressed as JSON: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(noLoader{})
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, errors.New(compileMessage(err))
	}
	compiled, err := c.Compile(schemaURL)
	if err != nil {
		return nil, errors.New(compileMessage(err))
	}
	if loc := refCycle(compiled); loc != "" {
		return nil, refCycleError(loc)
	}
	return &Schema{compiled: compiled}, nil
}

// noLoader refuses to load any schema resource: a context schema must be
// self-contained, and a template must not make the engine read local files or
// fetch URLs.
type noLoader struct{}

// Load implements jsonschema.URLLoader.
func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("schema references %q, but a context schema must be self-contained (use \"$defs\" and \"$ref\": \"#/$defs/...\")", url)
}

// compileMessage turns a compiler error into one readable line.
func compileMessage(err error) string {
	var sve *jsonschema.SchemaValidationError
	if errors.As(err, &sve) {
		var ve *jsonschema.ValidationError
		if errors.As(sve.Err, &ve) {
			var parts []string
			for _, p := range problems(ve) {
				where := p.Path
				if where == "" {
					where = "/"
				}
				parts = append(parts, "at "+where+": "+p.Message)
			}
			if len(parts) > 0 {
				return "invalid JSON Schema: " + strings.Join(parts, "; ")
			}
		}
	}
	var lue *jsonschema.LoadURLError
	if errors.As(err, &lue) && lue.Err != nil {
		return lue.Err.Error()
	}
	msg := err.Error()
	msg = strings.ReplaceAll(msg, strconv.Quote(schemaURL), "the schema")
	msg = strings.ReplaceAll(msg, schemaURL, "")
	return strings.Join(strings.Fields(msg), " ")
}

// Problem is one reason why a context does not match its schema.
type Problem struct {
	// Path is the JSON pointer of the offending value within the context,
	// such as "/order/id"; "" means the context itself.
	Path string `json:"path"`
	// Message says what is wrong, such as "minimum: got 0, want 1".
	Message string `json:"message"`
}

// String formats the problem as "context /order/id: message".
func (p Problem) String() string {
	if p.Path == "" {
		return "context: " + p.Message
	}
	return "context " + p.Path + ": " + p.Message
}

// ValidationError reports why a task context was rejected: malformed JSON,
// a value that is not a JSON object, or values that break the schema.
type ValidationError struct {
	// Problems lists one entry per failing value, sorted by Path.
	Problems []Problem `json:"problems"`
}

// Error joins the problems with "; ".
func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return strings.Join(parts, "; ")
}

// Validate parses a JSON task context (empty input counts as "{}"), fills in
// the schema's defaults for missing object properties, validates the result
// and returns it re-encoded as JSON. Numbers keep their exact text, so large
// integers survive. A property missing from an object is set to its schema
// default; objects that are absent are not invented unless the missing
// property itself has a default. Defaults are taken from "properties",
// following "$ref" and "allOf"; they are not applied inside array items.
// Problems are reported as a *ValidationError.
func (s *Schema) Validate(context []byte) ([]byte, error) {
	if len(bytes.TrimSpace(context)) == 0 {
		context = []byte("{}")
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(context))
	if err != nil {
		return nil, rootProblem(jsonMessage(err))
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil, rootProblem("must be a JSON object, got " + jsonType(doc))
	}
	if s != nil && s.compiled != nil {
		applyDefaults(s.compiled, obj, map[*jsonschema.Schema]bool{})
		if err := s.compiled.Validate(obj); err != nil {
			var ve *jsonschema.ValidationError
			if !errors.As(err, &ve) {
				return nil, rootProblem(err.Error())
			}
			return nil, &ValidationError{Problems: problems(ve)}
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj); err != nil {
		return nil, fmt.Errorf("encode context: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// rootProblem is a ValidationError with a single problem about the context as
// a whole.
func rootProblem(msg string) *ValidationError {
	return &ValidationError{Problems: []Problem{{Path: "", Message: msg}}}
}

// jsonMessage describes a JSON syntax error.
func jsonMessage(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, se)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "invalid JSON: unexpected end of input"
	}
	return "invalid JSON: " + err.Error()
}

// jsonType names the JSON type of a decoded value.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// applyDefaults sets, in obj, the default of every property that sch
// declares and obj lacks, and recurses into the object values of obj.
// applied guards against applying one schema twice to the same object
// (which also stops "$ref" cycles).
func applyDefaults(sch *jsonschema.Schema, obj map[string]any, applied map[*jsonschema.Schema]bool) {
	if sch == nil || applied[sch] {
		return
	}
	applied[sch] = true
	if sch.Ref != nil {
		applyDefaults(sch.Ref, obj, applied)
	}
	for _, sub := range sch.AllOf {
		applyDefaults(sub, obj, applied)
	}
	// Visit properties in a stable order so that results never depend on
	// map iteration.
	names := make([]string, 0, len(sch.Properties))
	for name := range sch.Properties {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		prop := sch.Properties[name]
		val, present := obj[name]
		if !present {
			def, ok := defaultOf(prop)
			if !ok {
				continue
			}
			val = jsontree.Map(def, nil) // a copy: defaults are never shared between contexts
			obj[name] = val
		}
		if child, ok := val.(map[string]any); ok {
			applyDefaults(prop, child, map[*jsonschema.Schema]bool{})
		}
	}
}

// defaultOf returns the "default" of sch, looking through "$ref" when sch
// has none of its own.
func defaultOf(sch *jsonschema.Schema) (any, bool) {
	for range 32 { // bound the walk: "$ref" chains may loop
		if sch == nil {
			return nil, false
		}
		if sch.Default != nil {
			return *sch.Default, true
		}
		sch = sch.Ref
	}
	return nil, false
}

// problems flattens a validation error tree into one problem per failing
// leaf, sorted by path.
func problems(ve *jsonschema.ValidationError) []Problem {
	var out []Problem
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		path := pointer(e.InstanceLocation)
		for _, msg := range messages(e.ErrorKind) {
			out = append(out, Problem{Path: path, Message: msg})
		}
	}
	walk(ve)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	// anyOf/oneOf branches can report the same leaf twice.
	dedup := out[:0]
	for i, p := range out {
		if i > 0 && p == out[i-1] {
			continue
		}
		dedup = append(dedup, p)
	}
	return dedup
}

// pointer builds a JSON pointer (RFC 6901) from path tokens.
func pointer(tokens []string) string {
	var sb strings.Builder
	for _, t := range tokens {
		sb.WriteByte('/')
		t = strings.ReplaceAll(t, "~", "~0")
		sb.WriteString(strings.ReplaceAll(t, "/", "~1"))
	}
	return sb.String()
}

// messages words a failing keyword. The validator quotes names with single
// quotes; the kinds that name properties or strings are reworded here with
// Go-style double quotes, and "required" gives one message per missing
// property.
func messages(k jsonschema.ErrorKind) []string {
	switch k := k.(type) {
	case *kind.Required:
		out := make([]string, len(k.Missing))
		for i, m := range k.Missing {
			out[i] = fmt.Sprintf("missing property %q", m)
		}
		return out
	case *kind.DependentRequired:
		return []string{requiredWhen(k.Missing, k.Prop)}
	case *kind.Dependency:
		return []string{requiredWhen(k.Missing, k.Prop)}
	case *kind.AdditionalProperties:
		return []string{fmt.Sprintf("additional properties %s are not allowed", quoteAll(k.Properties))}
	case *kind.Type:
		return []string{fmt.Sprintf("type: got %s, want %s", k.Got, strings.Join(k.Want, " or "))}
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = display(w)
		}
		return []string{fmt.Sprintf("enum: got %s, want one of %s", display(k.Got), strings.Join(want, ", "))}
	case *kind.Const:
		return []string{fmt.Sprintf("const: got %s, want %s", display(k.Got), display(k.Want))}
	case *kind.Pattern:
		return []string{fmt.Sprintf("%q does not match pattern %q", k.Got, k.Want)}
	case *kind.PropertyNames:
		return []string{fmt.Sprintf("invalid property name %q", k.Property)}
	case *kind.Format:
		return []string{fmt.Sprintf("%s is not a valid %s", display(k.Got), k.Want)}
	default:
		return []string{k.LocalizedString(printer)}
	}
}

// requiredWhen words a failed dependency: properties missing although prop
// is present.
func requiredWhen(missing []string, prop string) string {
	if len(missing) == 1 {
		return fmt.Sprintf("property %q is required when %q is present", missing[0], prop)
	}
	return fmt.Sprintf("properties %s are required when %q is present", quoteAll(missing), prop)
}

// quoteAll formats names as "a", "b".
func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// display formats a JSON value briefly for a message.
func display(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	default:
		return fmt.Sprint(v)
	}
}
