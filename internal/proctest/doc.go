// Package proctest runs and finds processes for tests: Start runs a child
// process (its output lines on a channel, killed when the test ends), and
// WithArg finds processes by their command line, for tests that check that
// no process of a killed worker survives; CPU (Unix) is the CPU time the
// test process used, for benchmarks. It is a test helper:
// import it from _test.go files only. It reads /proc (Linux); elsewhere
// WithArg finds nothing. It imports only the standard library and testify.
package proctest
