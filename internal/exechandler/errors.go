package exechandler

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// maxMessageTail bounds the part of stderr quoted in an error message.
const maxMessageTail = 500

// ExitError reports that the command ran and exited with a non-zero code,
// or was killed by a signal it did not get from the engine.
type ExitError struct {
	// Code is the exit code; for a command killed by a signal it is 128
	// plus the signal number, as a shell reports it.
	Code int
	// Signal names the signal that killed the command, such as "killed";
	// empty when the command exited on its own.
	Signal string
	// Permanent reports that Code is listed in
	// handler_config.permanent_exit_codes: retrying will not help.
	Permanent bool
	// StderrTail holds the last 4 KiB of the command's stderr.
	StderrTail string
	// Stdout holds the start of the command's stdout, at most 1 KiB.
	Stdout string
}

// Error returns "command exited with code N" followed by the last lines of
// stderr, if any.
func (e *ExitError) Error() string {
	var msg string
	if e.Signal != "" {
		msg = fmt.Sprintf("command was killed by signal %s (code %d)", e.Signal, e.Code)
	} else {
		msg = fmt.Sprintf("command exited with code %d", e.Code)
	}
	if e.Permanent {
		msg += " (listed in permanent_exit_codes)"
	}
	if tail := messageTail(e.StderrTail); tail != "" {
		msg += ": " + tail
	}
	return msg
}

// DetailText returns the stderr tail, the free detail text the engine
// stores with the step's error (tasker.DetailTextError).
func (e *ExitError) DetailText() string { return e.StderrTail }

// StartError reports that the command could not be started: the program is
// missing or not executable, or the working directory does not exist.
type StartError struct {
	// Program is the program that was to be run (for a string command,
	// the shell).
	Program string
	// Dir is the working directory, empty for the worker's.
	Dir string
	// Permanent reports that retrying will not help, as for a missing
	// program or directory; it is false for transient failures such as
	// running out of processes.
	Permanent bool
	// Err is the underlying error.
	Err error
	msg string
}

// Error names the program or directory and how to fix the problem.
func (e *StartError) Error() string { return e.msg }

// Unwrap returns the underlying error.
func (e *StartError) Unwrap() error { return e.Err }

// TimeoutError reports that the command ran longer than
// handler_config.timeout and was killed with its whole process group. It is
// not permanent: a retry may succeed. Cancellation of the context given to
// [Run] (including the engine's own step timeout) is reported as the
// context's error instead, never as a TimeoutError.
type TimeoutError struct {
	// After is the configured timeout.
	After time.Duration
	// StderrTail holds the last 4 KiB of the command's stderr.
	StderrTail string
}

// Error reports the timeout and the last lines of stderr, if any.
func (e *TimeoutError) Error() string {
	msg := fmt.Sprintf("command timed out after %s (handler_config.timeout) and was killed", e.After)
	if tail := messageTail(e.StderrTail); tail != "" {
		msg += ": " + tail
	}
	return msg
}

// IsPermanent reports whether err, or an error it wraps, says that retrying
// the step will not help: a *[ConfigError], a permanent *[StartError] or an
// *[ExitError] whose code is listed in handler_config.permanent_exit_codes.
func IsPermanent(err error) bool {
	if ee, ok := errors.AsType[*ExitError](err); ok {
		return ee.Permanent
	}
	if se, ok := errors.AsType[*StartError](err); ok {
		return se.Permanent
	}
	if _, ok := errors.AsType[*ConfigError](err); ok {
		return true
	}
	return false
}

// messageTail returns the last line(s) of s, trimmed, at most about
// maxMessageTail bytes; a cut is marked with "...".
func messageTail(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= maxMessageTail {
		return s
	}
	cut := s[len(s)-maxMessageTail:]
	if i := strings.IndexByte(cut, '\n'); i >= 0 && i < len(cut)-1 {
		return "..." + strings.TrimSpace(cut[i+1:])
	}
	return "..." + trimPartialRune(cut)
}

// trimPartialRune drops the continuation bytes of a UTF-8 sequence cut at
// the start of s.
func trimPartialRune(s string) string {
	for i := 0; i < utf8.UTFMax && i < len(s); i++ {
		if utf8.RuneStart(s[i]) {
			return s[i:]
		}
	}
	return s
}
