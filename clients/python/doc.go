// Package python holds the Python client of remote workers; this Go test
// runs its unit tests (test_tasker_worker.py) with python3, so that
// `go test ./...` covers them.
package python
