// Package proctest finds processes by their command line, for tests that
// check that no process of a killed worker survives. It is a test helper:
// import it from _test.go files only. It reads /proc (Linux); elsewhere
// WithArg finds nothing. It imports only the standard library and testify.
package proctest
