package taskergraphql

// The executor (internal/generated) and the input and enum models
// (internal/model/models_gen.go) are generated from schema.graphqls by
// gqlgen, pinned in tools/gqlgen/go.mod at the version of the runtime in
// go.mod (TestGeneratorMatchesRuntime checks they agree). Regenerate after
// changing the schema or gqlgen.yml:
//
//	go generate ./taskergraphql
//
//go:generate go build -modfile=../tools/gqlgen/go.mod -o ../.bin/gqlgen github.com/99designs/gqlgen
//go:generate ../.bin/gqlgen generate --config gqlgen.yml
