// Package generated is the GraphQL executor that gqlgen generates from
// ../../schema.graphqls (go generate ./taskergraphql). Do not edit
// generated.go; change the schema or gqlgen.yml and regenerate.
package generated
