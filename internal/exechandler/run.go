package exechandler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/propagation"
)

const (
	// shellPath runs a string command as `sh -c`.
	shellPath = "/bin/sh"
	// stderrTailSize is how much of the end of stderr is kept.
	stderrTailSize = 4 << 10
	// stdoutInErrorSize bounds ExitError.Stdout.
	stdoutInErrorSize = 1 << 10
	// defaultWaitDelay bounds how long Run waits for the command's pipes to
	// close once the command has exited or been killed: a background process
	// that inherited stdout or stderr cannot hang Run beyond it.
	defaultWaitDelay = 5 * time.Second
)

// Input is the one JSON document written to the command's stdin.
type Input struct {
	// TaskID is the id of the task the step belongs to.
	TaskID int64 `json:"task_id"`
	// StepID is the id of the step.
	StepID int64 `json:"step_id"`
	// StepName is the step's name in the task template.
	StepName string `json:"step_name"`
	// Namespace is the namespace of the task template.
	Namespace string `json:"namespace"`
	// TaskName is the name of the task template.
	TaskName string `json:"task_name"`
	// Version is the version of the task template.
	Version string `json:"version"`
	// Attempt is the number of this attempt, starting at 1.
	Attempt int `json:"attempt"`
	// Context is the task context; nil is written as {}.
	Context json.RawMessage `json:"context"`
	// Dependencies holds the results of the parent steps by step name;
	// nil is written as {}.
	Dependencies map[string]json.RawMessage `json:"dependencies"`
}

// Run runs the command of an exec step and returns the step result.
//
// A list command runs the program directly; a string command runs with
// sh -c. The command's environment is the worker's (only the variables
// of cfg.InheritEnv when set; otherwise all but the [Withheld] ones: Tasker's
// own secrets) plus cfg.Env plus TASKER_TASK_ID, TASKER_STEP_ID,
// TASKER_STEP_NAME and TASKER_ATTEMPT. The
// JSON encoding of in is written to its stdin, which is then closed; a
// command that does not read stdin is not an error. The command runs in a
// process group of its own, which is killed as a whole when cfg.Timeout
// passes or ctx is done. A background process left behind by a command that
// exits 0 and still holding its stdout or stderr delays Run by at most 5
// seconds; what it writes after that is not captured.
//
// When the command exits 0, the result is its stdout with surrounding white
// space trimmed if that is one valid JSON value, {} if it is empty, and
// otherwise {"stdout": "<text>"}. Stdout beyond cfg.MaxOutput bytes is
// drained and dropped; the result is then always
// {"stdout": "<kept text>", "stdout_truncated": true, "stdout_bytes": <total>}.
//
// Errors:
//   - *[ExitError] when the command exits non-zero (or dies of a signal);
//   - *[StartError] when it cannot be started;
//   - *[TimeoutError] when cfg.Timeout passes;
//   - an error wrapping ctx.Err() when ctx is done first, so that
//     errors.Is(err, context.Canceled) or context.DeadlineExceeded holds;
//   - *[ConfigError] when cfg has no command.
//
// Use [IsPermanent] to tell whether a retry may help.
func Run(ctx context.Context, cfg *Config, in *Input) (json.RawMessage, error) {
	if cfg == nil || (cfg.Program == "" && cfg.Shell == "") {
		return nil, configErrorf("handler_config.command", "is required: %s", commandHint)
	}
	if cfg.Program != "" && cfg.Shell != "" {
		return nil, configErrorf("handler_config.command", "is both a list and a string: give only one")
	}
	if ctx.Err() != nil {
		return nil, canceled(ctx)
	}
	stdin, err := encodeInput(in)
	if err != nil {
		return nil, err
	}
	if err := checkDir(cfg.Dir); err != nil {
		return nil, err
	}

	runCtx := ctx
	if cfg.Timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
	}

	program, args := cfg.Program, cfg.Args
	if cfg.Program == "" {
		program, args = shellPath, []string{"-c", cfg.Shell}
	}
	maxOutput := cfg.MaxOutput
	if maxOutput <= 0 {
		maxOutput = DefaultMaxOutput
	}
	var stdout *headBuffer
	var stderr *tailBuffer
	newCmd := func() *exec.Cmd { // twice when the supervisor fails to start
		stdout = newHeadBuffer(maxOutput)
		stderr = newTailBuffer(stderrTailSize)
		cmd := exec.CommandContext(runCtx, program, args...)
		cmd.Dir = cfg.Dir
		cmd.Env = append(buildEnv(cfg.Env, cfg.InheritEnv, in), traceEnv(ctx)...)
		cmd.Stdin = bytes.NewReader(stdin)
		cmd.Stdout = stdout
		cmd.Stderr = stderr
		cmd.WaitDelay = defaultWaitDelay
		if cfg.waitDelay > 0 {
			cmd.WaitDelay = cfg.waitDelay
		}
		return cmd
	}
	proc, err := startProcess(newCmd, cfg.supervisor)
	if err != nil {
		if ctx.Err() != nil {
			return nil, canceled(ctx)
		}
		if runCtx.Err() != nil {
			return nil, &TimeoutError{After: cfg.Timeout}
		}
		return nil, startError(cfg, program, err)
	}
	end, startErr, waitErr := proc.wait()
	out, truncated, total := stdout.bytes()

	if !end.success() {
		switch {
		case ctx.Err() != nil:
			return nil, canceled(ctx)
		case runCtx.Err() != nil:
			return nil, &TimeoutError{After: cfg.Timeout, StderrTail: stderr.String()}
		case startErr != nil:
			return nil, startError(cfg, program, startErr)
		case end.known:
			return nil, &ExitError{
				Code:       end.code,
				Signal:     end.signal,
				Permanent:  slices.Contains(cfg.PermanentExitCodes, end.code),
				StderrTail: stderr.String(),
				Stdout:     string(trimPartialRuneEnd(out[:min(len(out), stdoutInErrorSize)])),
			}
		case waitErr == nil:
			waitErr = errors.New("how it ended is unknown")
		}
		return nil, fmt.Errorf("running command %q: %w", program, waitErr)
	}
	// A command that exited 0 but left a process that escaped its process
	// group holding its output open ends Run after WaitDelay: the output up
	// to then is the result.
	return buildResult(out, truncated, total), nil
}

// canceled wraps ctx.Err(), adding the cancellation cause when it differs.
func canceled(ctx context.Context) error {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, ctx.Err()) {
		return fmt.Errorf("command canceled: %w (%w)", ctx.Err(), cause)
	}
	return fmt.Errorf("command canceled: %w", ctx.Err())
}

func encodeInput(in *Input) ([]byte, error) {
	var doc Input
	if in != nil {
		doc = *in
	}
	if len(doc.Context) == 0 {
		doc.Context = json.RawMessage("{}")
	}
	if doc.Dependencies == nil {
		doc.Dependencies = map[string]json.RawMessage{}
	}
	b, err := json.Marshal(&doc)
	if err != nil {
		return nil, fmt.Errorf("encoding the stdin document of the exec step: %w", err)
	}
	return append(b, '\n'), nil
}

// Withheld reports whether a variable of the worker's environment is kept
// from commands that do not ask for it by name (handler_config.inherit_env
// or env): Tasker's own configuration, every TASKER_* variable, which holds
// its credentials (TASKER_DATABASE_URL, TASKER_WORKER_TOKEN, TASKER_TOKEN,
// TASKER_AUTH_*), and PGPASSWORD, which the PostgreSQL driver reads.
func Withheld(name string) bool {
	return strings.HasPrefix(name, "TASKER_") || name == "PGPASSWORD"
}

// inherited returns the variables of environ the command inherits: those
// named by allow when it is not nil, else all but the withheld ones.
func inherited(environ, allow []string) []string {
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if allow != nil && slices.Contains(allow, name) || allow == nil && !Withheld(name) {
			out = append(out, kv)
		}
	}
	return out
}

func buildEnv(extra map[string]string, allow []string, in *Input) []string {
	var doc Input
	if in != nil {
		doc = *in
	}
	env := inherited(os.Environ(), allow)
	keys := slices.Sorted(maps.Keys(extra))
	for _, k := range keys {
		env = append(env, k+"="+extra[k])
	}
	// Appended last: os/exec keeps the last value of a duplicated name.
	return append(env,
		envTaskID+"="+strconv.FormatInt(doc.TaskID, 10),
		envStepID+"="+strconv.FormatInt(doc.StepID, 10),
		envStepName+"="+doc.StepName,
		envAttempt+"="+strconv.Itoa(doc.Attempt),
	)
}

func checkDir(dir string) error {
	if dir == "" {
		return nil
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &StartError{Dir: dir, Permanent: true, Err: err, msg: fmt.Sprintf(
			"working directory %q does not exist: create it on the worker or fix handler_config.dir", dir)}
	case err != nil:
		return &StartError{Dir: dir, Permanent: errors.Is(err, fs.ErrPermission), Err: err, msg: fmt.Sprintf(
			"cannot use working directory %q: %v: check its permissions or fix handler_config.dir", dir, err)}
	case !fi.IsDir():
		return &StartError{Dir: dir, Permanent: true, Err: fmt.Errorf("%s: not a directory", dir), msg: fmt.Sprintf(
			"working directory %q is not a directory: fix handler_config.dir", dir)}
	}
	return nil
}

func startError(cfg *Config, program string, err error) *StartError {
	se := &StartError{Program: program, Dir: cfg.Dir, Permanent: true, Err: err}
	where := ""
	if cfg.Dir != "" {
		where = fmt.Sprintf(" (relative paths are resolved against dir %q)", cfg.Dir)
	}
	switch {
	case errors.Is(err, exec.ErrNotFound):
		se.msg = fmt.Sprintf("program %q not found in PATH: install it on the worker or give its path, such as [\"/usr/local/bin/%s\"]", program, program)
	case errors.Is(err, exec.ErrDot):
		se.msg = fmt.Sprintf("program %q resolves to the current directory through PATH: give it as \"./%s\"", program, program)
	case errors.Is(err, fs.ErrNotExist):
		se.msg = fmt.Sprintf("program %q not found%s: check the path and, for a script, its #! interpreter line", program, where)
	case errors.Is(err, fs.ErrPermission):
		se.msg = fmt.Sprintf("program %q is not executable%s: run chmod +x on it, or check the permissions of its directory", program, where)
	case isExecFormatError(err):
		se.msg = fmt.Sprintf("program %q is not a valid executable: start the script with a #! line such as #!/bin/sh", program)
	case isTransientStartError(err):
		se.Permanent = false
		se.msg = fmt.Sprintf("cannot start program %q: %v: the worker is short of resources; a retry may succeed", program, err)
	default:
		se.msg = fmt.Sprintf("cannot start program %q: %v", program, err)
	}
	return se
}

// buildResult turns the captured stdout of a successful command into the
// step result.
func buildResult(out []byte, truncated bool, total int64) json.RawMessage {
	if truncated {
		b, _ := json.Marshal(struct {
			Stdout    string `json:"stdout"`
			Truncated bool   `json:"stdout_truncated"`
			Bytes     int64  `json:"stdout_bytes"`
		}{string(bytes.TrimSpace(trimPartialRuneEnd(out))), true, total})
		return b
	}
	t := bytes.TrimSpace(out)
	if len(t) == 0 {
		return json.RawMessage("{}")
	}
	if json.Valid(t) {
		return json.RawMessage(bytes.Clone(t))
	}
	b, _ := json.Marshal(struct {
		Stdout string `json:"stdout"`
	}{string(t)})
	return b
}

// trimPartialRuneEnd drops a UTF-8 sequence cut at the end of b.
func trimPartialRuneEnd(b []byte) []byte {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return b[:i]
			}
			break
		}
	}
	return b
}

// traceEnv is the W3C trace context of ctx (the step's span, or the task's
// stored context) as TRACEPARENT and TRACESTATE, the names the OpenTelemetry
// environment-variable carrier specification gives them; nil when ctx has
// none. Appended after the inherited environment, it wins over the
// worker's own TRACEPARENT.
func traceEnv(ctx context.Context) []string {
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	var env []string
	if v := carrier["traceparent"]; v != "" {
		env = append(env, "TRACEPARENT="+v)
		if st := carrier["tracestate"]; st != "" {
			env = append(env, "TRACESTATE="+st)
		}
	}
	return env
}
