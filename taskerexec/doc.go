// Package taskerexec is the exec step handler of Tasker for Go in its public
// form: Handler runs a command with a JSON document on stdin (the task
// context, the dependency results, the attempt) and takes the JSON it writes
// on stdout as the step's result. See docs/handlers.md for the
// handler_config keys.
//
// The built-in "exec" handler of tasker.NewRegistry behaves as Handler; YAML
// templates need no Go code to use it. Register Handler under a name of your
// own to run commands for steps that name it:
//
//	reg.MustRegisterHandler("report", taskerexec.Handler{})
//
// A failed command's error carries its exit code and stderr tail, which the
// engine stores with the step's error (tasker.DetailTextError).
//
// This package is an adapter on the public API: it imports the root package
// and internal/exechandler (the process runner, shared with the built-in
// handler); the root package cannot import it.
package taskerexec
