// Package testio holds io helpers that tests of several packages share:
// Buffer, a bytes.Buffer that a log handler, a command or a server may write
// from its goroutines while the test reads it. It is a test helper: import
// it from _test.go files only.
//
// Imports: the standard library only.
package testio
