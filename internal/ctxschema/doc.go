// Package ctxschema compiles the JSON Schema that a task template declares for
// its task context, fills in the schema's default values and validates
// contexts against it.
//
// Schemas follow JSON Schema draft 2020-12 unless they name another draft in
// "$schema" (draft-04, -06, -07 and 2019-09 are understood). The "format"
// keyword is asserted (an "email" property must hold an e-mail address), as
// most users expect, although draft 2020-12 only annotates it. A schema can
// never load anything from outside itself: "$ref" may only point inside the
// schema (for example to "#/$defs/address").
//
// Imports: the standard library, the JSON Schema validator
// (santhosh-tekuri/jsonschema), golang.org/x/text (the printer of its
// messages) and internal/jsontree (stdlib only); nothing of the engine.
package ctxschema
