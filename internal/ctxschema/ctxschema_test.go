package ctxschema_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/ctxschema"
)

// orderSchema is a draft 2020-12 schema (the default draft) with nested
// objects, defaults, required properties, types and enums.
func orderSchema() map[string]any {
	return map[string]any{
		"type":     "object",
		"required": []any{"customer_id", "order"},
		"properties": map[string]any{
			"customer_id": map[string]any{"type": "integer"},
			"priority":    map[string]any{"type": "string", "enum": []any{"low", "high"}, "default": "low"},
			"retries":     map[string]any{"type": "integer", "default": 3},
			"order": map[string]any{
				"type":     "object",
				"required": []any{"id"},
				"properties": map[string]any{
					"id":       map[string]any{"type": "integer", "minimum": 1},
					"currency": map[string]any{"type": "string", "default": "EUR"},
				},
			},
			"shipping": map[string]any{
				"type": "object",
				"properties": map[string]any{
					"method": map[string]any{"type": "string", "default": "ground"},
				},
			},
			"options": map[string]any{
				"type":    "object",
				"default": map[string]any{},
				"properties": map[string]any{
					"gift": map[string]any{"type": "boolean", "default": false},
				},
			},
		},
	}
}

// requireValidates validates in against s, which must accept it and return
// want (compared as JSON).
func requireValidates(t *testing.T, s *ctxschema.Schema, in []byte, want string) {
	t.Helper()
	out, err := s.Validate(in)
	require.NoError(t, err)
	require.JSONEq(t, want, string(out))
}

func mustCompile(t *testing.T, schema map[string]any) *ctxschema.Schema {
	t.Helper()
	s, err := ctxschema.Compile(schema)
	require.NoError(t, err)
	return s
}

func requireProblems(t *testing.T, err error, want ...ctxschema.Problem) {
	t.Helper()
	var ve *ctxschema.ValidationError
	require.True(t, errors.As(err, &ve), "want *ValidationError, got %T: %v", err, err)
	require.Equal(t, want, ve.Problems)
}

func TestValidateAppliesDefaults(t *testing.T) {
	t.Parallel()
	s := mustCompile(t, orderSchema())

	// Flat defaults (priority, retries), nested defaults inside an existing
	// object (order.currency), a defaulted object that is itself filled
	// (options.gift); the absent "shipping" object is not invented.
	requireValidates(t, s, []byte(`{"customer_id": 7, "order": {"id": 1}}`), `{
		"customer_id": 7,
		"priority": "low",
		"retries": 3,
		"order": {"id": 1, "currency": "EUR"},
		"options": {"gift": false}
	}`)
}

func TestValidateKeepsGivenValues(t *testing.T) {
	t.Parallel()
	s := mustCompile(t, orderSchema())

	requireValidates(t, s, []byte(`{"customer_id": 7, "priority": "high", "order": {"id": 2, "currency": "USD"}, "shipping": {}, "options": {"gift": true}}`), `{
		"customer_id": 7,
		"priority": "high",
		"retries": 3,
		"order": {"id": 2, "currency": "USD"},
		"shipping": {"method": "ground"},
		"options": {"gift": true}
	}`)
}

func TestValidateDefaultsAreNotShared(t *testing.T) {
	t.Parallel()
	s := mustCompile(t, map[string]any{
		"properties": map[string]any{
			"tags": map[string]any{"type": "object", "default": map[string]any{"a": 1}},
		},
	})
	for range 2 {
		requireValidates(t, s, nil, `{"tags": {"a": 1}}`)
	}
}

func TestValidateDefaultsThroughRef(t *testing.T) {
	t.Parallel()
	s := mustCompile(t, map[string]any{
		"$defs": map[string]any{
			"address": map[string]any{
				"type":       "object",
				"properties": map[string]any{"country": map[string]any{"type": "string", "default": "NL"}},
			},
		},
		"properties": map[string]any{
			"address": map[string]any{"$ref": "#/$defs/address"},
		},
	})
	requireValidates(t, s, []byte(`{"address": {}}`), `{"address": {"country": "NL"}}`)
}

func TestValidateReportsEveryFailingLeafSortedByPath(t *testing.T) {
	t.Parallel()
	s := mustCompile(t, orderSchema())

	_, err := s.Validate([]byte(`{"priority": "urgent", "order": {"id": 0}, "retries": "x"}`))
	requireProblems(t, err,
		ctxschema.Problem{Path: "", Message: `missing property "customer_id"`},
		ctxschema.Problem{Path: "/order/id", Message: "minimum: got 0, want 1"},
		ctxschema.Problem{Path: "/priority", Message: `enum: got "urgent", want one of "low", "high"`},
		ctxschema.Problem{Path: "/retries", Message: "type: got string, want integer"},
	)
	require.EqualError(t, err, `context: missing property "customer_id"; `+
		`context /order/id: minimum: got 0, want 1; `+
		`context /priority: enum: got "urgent", want one of "low", "high"; `+
		`context /retries: type: got string, want integer`)
}

func TestValidateRequiredNestedAndMultiple(t *testing.T) {
	t.Parallel()
	s := mustCompile(t, orderSchema())

	_, err := s.Validate([]byte(`{"order": {}}`))
	require.EqualError(t, err, `context: missing property "customer_id"; context /order: missing property "id"`)

	_, err = s.Validate([]byte(`{}`))
	require.EqualError(t, err, `context: missing property "customer_id"; context: missing property "order"`)
}

func TestValidateRejectsNonObjects(t *testing.T) {
	t.Parallel()
	for _, s := range []*ctxschema.Schema{mustCompile(t, orderSchema()), mustCompile(t, nil), nil} {
		for input, want := range map[string]string{
			`[1, 2]`: "context: must be a JSON object, got array",
			`"text"`: "context: must be a JSON object, got string",
			`42`:     "context: must be a JSON object, got number",
			`null`:   "context: must be a JSON object, got null",
			`true`:   "context: must be a JSON object, got boolean",
			`{"a":1`: "context: invalid JSON: unexpected end of input",
			`{"a":}`: "context: invalid JSON at byte 6: invalid character '}' looking for beginning of value",
			`{} {}`:  "context: invalid JSON: invalid character after top-level value",
			`{a: 1}`: "context: invalid JSON at byte 2: invalid character 'a' looking for beginning of object key string",
		} {
			_, err := s.Validate([]byte(input))
			requireProblems(t, err, ctxschema.Problem{Path: "", Message: want[len("context: "):]})
			require.EqualError(t, err, want, "input %s", input)
		}
	}
}

func TestValidateEmptyInputIsEmptyObject(t *testing.T) {
	t.Parallel()
	s := mustCompile(t, map[string]any{"properties": map[string]any{"n": map[string]any{"default": 1}}})
	for _, in := range []string{"", "  \n"} {
		requireValidates(t, s, []byte(in), `{"n": 1}`)
	}
}

func TestEmptySchemaAcceptsAnyObject(t *testing.T) {
	t.Parallel()
	for _, schema := range []map[string]any{nil, {}} {
		s := mustCompile(t, schema)
		out, err := s.Validate([]byte(`{"anything": [1, "two", {"three": null}], "html": "<b>&</b>"}`))
		require.NoError(t, err)
		require.Equal(t, `{"anything":[1,"two",{"three":null}],"html":"<b>&</b>"}`, string(out))
	}
	var zero ctxschema.Schema
	out, err := zero.Validate(nil)
	require.NoError(t, err)
	require.Equal(t, `{}`, string(out))
}

func TestValidatePreservesLargeNumbers(t *testing.T) {
	t.Parallel()
	s := mustCompile(t, map[string]any{
		"properties": map[string]any{
			"id":    map[string]any{"type": "integer", "minimum": 1},
			"big":   map[string]any{"type": "integer", "default": 123456789012345678},
			"price": map[string]any{"type": "number"},
		},
	})
	out, err := s.Validate([]byte(`{"id": 9007199254740993123, "price": 0.1000000000000000055511151231257827}`))
	require.NoError(t, err)
	require.Equal(t, `{"big":123456789012345678,"id":9007199254740993123,"price":0.1000000000000000055511151231257827}`, string(out))
}

func TestDraft07SchemaIsRespected(t *testing.T) {
	t.Parallel()
	// In draft-07, "dependencies" with an array value means "dependent
	// required", and "exclusiveMinimum" is a number; "$schema" selects it.
	s := mustCompile(t, map[string]any{
		"$schema": "http://json-schema.org/draft-07/schema#",
		"type":    "object",
		"properties": map[string]any{
			"card":  map[string]any{"type": "string"},
			"count": map[string]any{"type": "integer", "exclusiveMinimum": 0, "default": 1},
		},
		"dependencies": map[string]any{"card": []any{"billing_address"}},
	})
	requireValidates(t, s, nil, `{"count": 1}`)

	_, err := s.Validate([]byte(`{"card": "4111", "count": 0}`))
	require.EqualError(t, err, `context: property "billing_address" is required when "card" is present; context /count: exclusiveMinimum: got 0, want 0`)

	// Draft 2020-12 keywords mean nothing in draft-07: "dependentRequired"
	// is ignored there.
	s = mustCompile(t, map[string]any{
		"$schema":           "http://json-schema.org/draft-07/schema#",
		"dependentRequired": map[string]any{"card": []any{"billing_address"}},
	})
	_, err = s.Validate([]byte(`{"card": "4111"}`))
	require.NoError(t, err)
}

func TestDraft202012IsTheDefault(t *testing.T) {
	t.Parallel()
	for _, schema := range []map[string]any{
		{"dependentRequired": map[string]any{"card": []any{"billing_address"}}},
		{"$schema": "https://json-schema.org/draft/2020-12/schema", "dependentRequired": map[string]any{"card": []any{"billing_address"}}},
	} {
		s := mustCompile(t, schema)
		_, err := s.Validate([]byte(`{"card": "4111"}`))
		require.EqualError(t, err, `context: property "billing_address" is required when "card" is present`)
	}
	// prefixItems exists only in 2020-12.
	s := mustCompile(t, map[string]any{
		"properties": map[string]any{"pair": map[string]any{"prefixItems": []any{map[string]any{"type": "string"}}}},
	})
	_, err := s.Validate([]byte(`{"pair": [1]}`))
	require.EqualError(t, err, `context /pair/0: type: got number, want string`)
}

func TestFormatIsAsserted(t *testing.T) {
	t.Parallel()
	s := mustCompile(t, map[string]any{"properties": map[string]any{"email": map[string]any{"format": "email"}}})
	_, err := s.Validate([]byte(`{"email": "not-an-address"}`))
	require.EqualError(t, err, `context /email: "not-an-address" is not a valid email`)
}

func TestAdditionalPropertiesAndPointerEscaping(t *testing.T) {
	t.Parallel()
	s := mustCompile(t, map[string]any{
		"additionalProperties": false,
		"properties": map[string]any{
			"a/b": map[string]any{"type": "object", "properties": map[string]any{"c~d": map[string]any{"type": "string"}}},
		},
	})
	_, err := s.Validate([]byte(`{"a/b": {"c~d": 1}, "x": 1}`))
	requireProblems(t, err,
		ctxschema.Problem{Path: "", Message: `additional properties "x" are not allowed`},
		ctxschema.Problem{Path: "/a~1b/c~0d", Message: "type: got number, want string"},
	)
}

func TestCompileRejectsInvalidSchemas(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		schema map[string]any
		want   string
	}{
		{
			map[string]any{"properties": map[string]any{"age": map[string]any{"minimum": "ten"}}},
			"invalid JSON Schema: at /properties/age/minimum: type: got string, want number",
		},
		{
			map[string]any{"pattern": "("},
			`invalid JSON Schema: at /pattern: "(" is not a valid regex`,
		},
		{
			map[string]any{"$ref": "#/$defs/missing"},
			`json-pointer in "#/$defs/missing" not found`,
		},
		{
			map[string]any{"$ref": "file:///etc/passwd"},
			`schema references "file:///etc/passwd", but a context schema must be self-contained (use "$defs" and "$ref": "#/$defs/...")`,
		},
		{
			map[string]any{"bad": map[any]any{1: 2}},
			"schema cannot be expressed as JSON: json: unsupported type: map[interface {}]interface {}",
		},
	} {
		_, err := ctxschema.Compile(tc.schema)
		require.EqualError(t, err, tc.want)
	}
}

func TestCompileAcceptsYAMLDecodedValues(t *testing.T) {
	t.Parallel()
	// YAML decoders produce int, uint64 and float64 rather than json.Number.
	s := mustCompile(t, map[string]any{
		"properties": map[string]any{
			"n": map[string]any{"type": "integer", "minimum": int(1), "maximum": uint64(10), "multipleOf": float64(0.5), "default": int64(4)},
		},
	})
	out, err := s.Validate(nil)
	require.NoError(t, err)
	require.Equal(t, `{"n":4}`, string(out))
	_, err = s.Validate([]byte(`{"n": 11}`))
	require.EqualError(t, err, "context /n: maximum: got 11, want 10")
}

func TestSchemaIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	s := mustCompile(t, orderSchema())
	done := make(chan error)
	for range 8 {
		go func() {
			_, err := s.Validate([]byte(`{"customer_id": 1, "order": {"id": 1}}`))
			done <- err
		}()
	}
	for range 8 {
		require.NoError(t, <-done)
	}
}
