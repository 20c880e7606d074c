// Package tmplfile reads task template files: YAML documents that name a task
// and declare its steps, which form a DAG.
//
// The format is the original Tasker's (name, namespace_name, version,
// step_templates with handler_class, depends_on_step(s), environments, ...)
// plus Go extensions: handler (an alias of handler_class), timeout, backoff
// and identity_strategy. Parse checks one file strictly and reports every
// problem it finds, each with the file, the line, the step and a fix. Checks
// that need the whole step graph (unknown dependencies, cycles) or the
// handler registry (unknown handlers) are left to the engine.
//
// ${VAR} references are expanded as the file loads (internal/envsubst),
// except in handler_config, where they are only checked and kept as written:
// the engine expands them when the step runs.
//
// Imports: the standard library, the YAML decoder (go.yaml.in/yaml/v3),
// internal/envsubst and internal/ctxschema (schemas are compiled as they
// are read); never the root package nor the driver seam.
package tmplfile
