// Package exechandler implements the mechanics of the built-in exec handler:
// a workflow step that runs an external command.
//
// The step's handler_config is decoded by [ParseConfig]; [Run] starts the
// command, writes one JSON document ([Input]) to its stdin, captures its
// stdout as the step result and classifies failures so the engine can decide
// whether a retry may help ([IsPermanent]).
//
// It is the runner shared by the built-in handler (registered by the root
// package) and the public package taskerexec; a failed command's error
// reports its stderr tail through the root package's optional error
// interfaces, without importing it. It imports the standard library only.
//
// On Unix, a process started with argv[0] "tasker-exec-supervisor" and
// TASKER_EXEC_SUPERVISOR=1 is turned into the supervisor of one command by
// this package's init function, before main runs: [Run] starts commands that
// way so that they die with the process that started them.
package exechandler
