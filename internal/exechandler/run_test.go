//go:build unix

package exechandler

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func mustConfig(t *testing.T, m map[string]any) *Config {
	t.Helper()
	cfg, err := ParseConfig(m)
	require.NoError(t, err)
	return cfg
}

func testInput() *Input {
	return &Input{
		TaskID:       41,
		StepID:       7,
		StepName:     "fetch orders",
		Namespace:    "shop",
		TaskName:     "order_sync",
		Version:      "1.2.0",
		Attempt:      3,
		Context:      json.RawMessage(`{"customer":"c-1","items":[1,2]}`),
		Dependencies: map[string]json.RawMessage{"validate": json.RawMessage(`{"ok":true}`)},
	}
}

func TestRunListCommandUsesNoShell(t *testing.T) {
	t.Parallel()
	cfg := mustConfig(t, map[string]any{"command": []any{"printf", "%s|%s", "$HOME", "a b;c"}})
	out, err := Run(t.Context(), cfg, testInput())
	require.NoError(t, err)
	require.JSONEq(t, `{"stdout":"$HOME|a b;c"}`, string(out))
}

func TestRunStringCommandUsesShell(t *testing.T) {
	t.Parallel()
	cfg := mustConfig(t, map[string]any{"command": `x=4; echo "{\"n\": $((x * 2))}" | cat`})
	out, err := Run(t.Context(), cfg, testInput())
	require.NoError(t, err)
	require.Equal(t, `{"n": 8}`, string(out))
}

func TestRunEnvironment(t *testing.T) {
	t.Parallel()
	cfg := mustConfig(t, map[string]any{
		"command": `printf '%s|%s|%s|%s|%s|%s|%s|%s' "$GREETING" "$COUNT" "$DEBUG" ` +
			`"$TASKER_TASK_ID" "$TASKER_STEP_ID" "$TASKER_STEP_NAME" "$TASKER_ATTEMPT" "$PATH"`,
		"env": map[string]any{"GREETING": "hello world", "COUNT": 3, "DEBUG": false},
	})
	out, err := Run(t.Context(), cfg, testInput())
	require.NoError(t, err)
	var got struct{ Stdout string }
	require.NoError(t, json.Unmarshal(out, &got))
	require.Equal(t, "hello world|3|false|41|7|fetch orders|3|"+os.Getenv("PATH"), got.Stdout)
}

func TestRunEnvOverridesWorkerEnvironment(t *testing.T) {
	t.Parallel()
	cfg := mustConfig(t, map[string]any{"command": `printf '%s' "$PATH"`, "env": map[string]any{"PATH": "/bin:/usr/bin"}})
	out, err := Run(t.Context(), cfg, nil)
	require.NoError(t, err)
	require.JSONEq(t, `{"stdout":"/bin:/usr/bin"}`, string(out))
}

func TestRunDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	real, err := filepath.EvalSymlinks(dir)
	require.NoError(t, err)

	cfg := mustConfig(t, map[string]any{"command": "pwd -P", "dir": dir})
	out, err := Run(t.Context(), cfg, nil)
	require.NoError(t, err)
	want, err := json.Marshal(map[string]string{"stdout": real})
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(out))

	// A relative program is resolved against dir.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "script.sh"), []byte("#!/bin/sh\necho '{\"from\": \"script\"}'\n"), 0o755))
	cfg = mustConfig(t, map[string]any{"command": []any{"./script.sh"}, "dir": dir})
	out, err = Run(t.Context(), cfg, nil)
	require.NoError(t, err)
	require.Equal(t, `{"from": "script"}`, string(out))
}

func TestRunStdinDocument(t *testing.T) {
	t.Parallel()
	cfg := mustConfig(t, map[string]any{"command": []any{"cat"}})
	out, err := Run(t.Context(), cfg, testInput())
	require.NoError(t, err)
	require.JSONEq(t, `{
		"task_id": 41, "step_id": 7, "step_name": "fetch orders",
		"namespace": "shop", "task_name": "order_sync", "version": "1.2.0",
		"attempt": 3,
		"context": {"customer": "c-1", "items": [1, 2]},
		"dependencies": {"validate": {"ok": true}}
	}`, string(out))
}

func TestRunStdinDocumentDefaults(t *testing.T) {
	t.Parallel()
	cfg := mustConfig(t, map[string]any{"command": "cat"})
	out, err := Run(t.Context(), cfg, &Input{TaskID: 1, StepID: 2, StepName: "s", Attempt: 1})
	require.NoError(t, err)
	require.JSONEq(t, `{
		"task_id": 1, "step_id": 2, "step_name": "s",
		"namespace": "", "task_name": "", "version": "",
		"attempt": 1, "context": {}, "dependencies": {}
	}`, string(out))
}

func TestRunCommandIgnoringLargeStdin(t *testing.T) {
	t.Parallel()
	in := testInput()
	in.Context = json.RawMessage(`{"blob":"` + strings.Repeat("x", 4<<20) + `"}`)

	out, err := Run(t.Context(), mustConfig(t, map[string]any{"command": []any{"true"}}), in)
	require.NoError(t, err)
	require.Equal(t, `{}`, string(out))

	_, err = Run(t.Context(), mustConfig(t, map[string]any{"command": "exit 4"}), in)
	var ee *ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 4, ee.Code)
}

func TestRunResultShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		command string
		want    string
	}{
		{"object", `printf '  {"a": [1, 2]}  \n\n'`, `{"a": [1, 2]}`},
		{"array", `echo '[1,2,3]'`, `[1,2,3]`},
		{"number", `echo 42`, `42`},
		{"string", `echo '"done"'`, `"done"`},
		{"null", `echo null`, `null`},
		{"multi-line JSON", `printf '{\n  "a": 1\n}\n'`, "{\n  \"a\": 1\n}"},
		{"text", `echo 'processed 3 files'`, `{"stdout":"processed 3 files"}`},
		{"multi-line text", `printf 'line 1\nline 2\n\n'`, `{"stdout":"line 1\nline 2"}`},
		{"two JSON values", `echo '1 2'`, `{"stdout":"1 2"}`},
		{"broken JSON", `echo '{"a":'`, `{"stdout":"{\"a\":"}`},
		{"empty", `true`, `{}`},
		{"white space only", `printf ' \n\t\n'`, `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := Run(t.Context(), mustConfig(t, map[string]any{"command": tt.command}), nil)
			require.NoError(t, err)
			require.Equal(t, tt.want, string(out))
			require.True(t, json.Valid(out))
		})
	}
}

func TestRunExitCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		command   string
		code      int
		permanent bool
		stderr    string
		stdout    string
		msg       string
	}{
		{
			name:    "retryable",
			command: `echo partial; echo 'connecting...' >&2; echo 'connection refused' >&2; exit 3`,
			code:    3,
			stderr:  "connecting...\nconnection refused\n",
			stdout:  "partial\n",
			msg:     "command exited with code 3: connecting...\nconnection refused",
		},
		{
			name:      "permanent",
			command:   `echo 'bad input' >&2; exit 64`,
			code:      64,
			permanent: true,
			stderr:    "bad input\n",
			msg:       "command exited with code 64 (listed in permanent_exit_codes): bad input",
		},
		{
			name:    "no stderr",
			command: `exit 1`,
			code:    1,
			msg:     "command exited with code 1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := mustConfig(t, map[string]any{"command": tt.command, "permanent_exit_codes": []any{2, 64}})
			out, err := Run(t.Context(), cfg, testInput())
			require.Nil(t, out)
			var ee *ExitError
			require.ErrorAs(t, err, &ee)
			require.Equal(t, &ExitError{Code: tt.code, Permanent: tt.permanent, StderrTail: tt.stderr, Stdout: tt.stdout}, ee)
			require.Equal(t, tt.permanent, IsPermanent(err))
			require.EqualError(t, err, tt.msg)
		})
	}
}

func TestRunExitErrorStdoutIsCapped(t *testing.T) {
	t.Parallel()
	cfg := mustConfig(t, map[string]any{"command": `head -c 3000 /dev/zero | tr '\0' x; exit 1`})
	_, err := Run(t.Context(), cfg, nil)
	var ee *ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, strings.Repeat("x", stdoutInErrorSize), ee.Stdout)
}

func TestRunKilledBySignal(t *testing.T) {
	t.Parallel()
	cfg := mustConfig(t, map[string]any{"command": `echo dying >&2; kill -9 $$`, "permanent_exit_codes": []any{137}})
	_, err := Run(t.Context(), cfg, nil)
	var ee *ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 137, ee.Code)
	require.Equal(t, "killed", ee.Signal)
	require.True(t, IsPermanent(err))
	require.EqualError(t, err, "command was killed by signal killed (code 137) (listed in permanent_exit_codes): dying")
}

func TestRunStderrTail(t *testing.T) {
	t.Parallel()
	// 1024 lines of 10 bytes: 10 KiB on stderr.
	cfg := mustConfig(t, map[string]any{
		"command": `i=0; while [ $i -lt 1024 ]; do printf 'line %04d\n' $i >&2; i=$((i+1)); done; exit 5`,
	})
	_, err := Run(t.Context(), cfg, nil)
	var ee *ExitError
	require.ErrorAs(t, err, &ee)

	var all strings.Builder
	for i := range 1024 {
		fmt.Fprintf(&all, "line %04d\n", i)
	}
	full := all.String()
	require.Len(t, full, 10<<10)
	require.Equal(t, full[len(full)-stderrTailSize:], ee.StderrTail)

	// The message quotes only the last lines, cut at a line boundary.
	msg := err.Error()
	require.True(t, strings.HasPrefix(msg, "command exited with code 5: ...line "), msg)
	require.True(t, strings.HasSuffix(msg, "line 1022\nline 1023"), msg)
	require.LessOrEqual(t, len(msg), len("command exited with code 5: ...")+maxMessageTail)
	tail := strings.TrimPrefix(msg, "command exited with code 5: ...")
	require.True(t, strings.HasSuffix(full, "\n"+tail+"\n"), "the quoted tail starts at a line boundary")
}

func TestRunStartErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "noexec.sh"), []byte("#!/bin/sh\necho hi\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "noshebang"), []byte("echo hi\n"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "badinterp.sh"), []byte("#!/no/such/interpreter\n"), 0o755))
	missingDir := filepath.Join(dir, "missing")
	file := filepath.Join(dir, "noexec.sh")

	tests := []struct {
		name    string
		cfg     map[string]any
		program string
		msg     string
	}{
		{
			name:    "not in PATH",
			cfg:     map[string]any{"command": []any{"tasker-no-such-program", "x"}},
			program: "tasker-no-such-program",
			msg:     `program "tasker-no-such-program" not found in PATH: install it on the worker or give its path, such as ["/usr/local/bin/tasker-no-such-program"]`,
		},
		{
			name:    "missing relative path",
			cfg:     map[string]any{"command": []any{"./missing.sh"}, "dir": dir},
			program: "./missing.sh",
			msg:     fmt.Sprintf(`program "./missing.sh" not found (relative paths are resolved against dir %q): check the path and, for a script, its #! interpreter line`, dir),
		},
		{
			name:    "missing interpreter",
			cfg:     map[string]any{"command": []any{filepath.Join(dir, "badinterp.sh")}},
			program: filepath.Join(dir, "badinterp.sh"),
			msg:     fmt.Sprintf(`program %q not found: check the path and, for a script, its #! interpreter line`, filepath.Join(dir, "badinterp.sh")),
		},
		{
			name:    "not executable",
			cfg:     map[string]any{"command": []any{"./noexec.sh"}, "dir": dir},
			program: "./noexec.sh",
			msg:     fmt.Sprintf(`program "./noexec.sh" is not executable (relative paths are resolved against dir %q): run chmod +x on it, or check the permissions of its directory`, dir),
		},
		{
			name:    "no shebang",
			cfg:     map[string]any{"command": []any{filepath.Join(dir, "noshebang")}},
			program: filepath.Join(dir, "noshebang"),
			msg:     fmt.Sprintf(`program %q is not a valid executable: start the script with a #! line such as #!/bin/sh`, filepath.Join(dir, "noshebang")),
		},
		{
			name: "missing dir",
			cfg:  map[string]any{"command": "true", "dir": missingDir},
			msg:  fmt.Sprintf(`working directory %q does not exist: create it on the worker or fix handler_config.dir`, missingDir),
		},
		{
			name: "dir is a file",
			cfg:  map[string]any{"command": "true", "dir": file},
			msg:  fmt.Sprintf(`working directory %q is not a directory: fix handler_config.dir`, file),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := Run(t.Context(), mustConfig(t, tt.cfg), testInput())
			require.Nil(t, out)
			var se *StartError
			require.ErrorAs(t, err, &se)
			require.Equal(t, tt.program, se.Program)
			require.True(t, se.Permanent)
			require.True(t, IsPermanent(err))
			require.NotNil(t, se.Err)
			require.EqualError(t, err, tt.msg)
		})
	}
}

func TestRunTimeoutKillsProcessGroup(t *testing.T) {
	t.Parallel()
	cfg := mustConfig(t, map[string]any{
		"command": `sleep 30 & echo 'still working' >&2; sleep 30`,
		"timeout": "1s",
	})
	// The backgrounded sleep inherits stdout and stderr. Run returns once
	// both pipes are closed, that is once every process holding them has
	// exited, or after WaitDelay: with WaitDelay far longer than the test
	// allows, returning in time proves the whole process group was killed.
	cfg.waitDelay = time.Minute

	start := time.Now()
	out, err := Run(t.Context(), cfg, nil)
	elapsed := time.Since(start)
	require.Nil(t, out)
	var te *TimeoutError
	require.ErrorAs(t, err, &te)
	require.Equal(t, time.Second, te.After)
	require.Equal(t, "still working\n", te.StderrTail)
	require.EqualError(t, err, "command timed out after 1s (handler_config.timeout) and was killed: still working")
	require.False(t, IsPermanent(err))
	require.NotErrorIs(t, err, context.DeadlineExceeded)
	require.NotErrorIs(t, err, context.Canceled)
	require.Less(t, elapsed, 20*time.Second)
}

// startAndWaitReady runs cfg in the background. The command must write a
// line to the FIFO $READY when it is ready; startAndWaitReady returns after
// reading it.
func startAndWaitReady(t *testing.T, ctx context.Context, cfg *Config) <-chan error {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready")
	require.NoError(t, syscall.Mkfifo(ready, 0o600))
	if cfg.Env == nil {
		cfg.Env = map[string]string{}
	}
	cfg.Env["READY"] = ready
	done := make(chan error, 1)
	go func() {
		out, err := Run(ctx, cfg, nil)
		if err == nil {
			err = fmt.Errorf("unexpected success: %s", out)
		}
		done <- err
	}()
	f, err := os.Open(ready) // blocks until the command opens it for writing
	require.NoError(t, err)
	defer f.Close()
	_, err = bufio.NewReader(f).ReadString('\n')
	require.NoError(t, err)
	return done
}

func TestRunParentCancelKillsProcessGroup(t *testing.T) {
	t.Parallel()
	cfg := mustConfig(t, map[string]any{
		"command": `sleep 30 & echo ready > "$READY"; sleep 30`,
		"timeout": "10m",
	})
	// As in TestRunTimeoutKillsProcessGroup: returning in time proves the
	// backgrounded sleep, which holds the pipes, was killed.
	cfg.waitDelay = time.Minute
	ctx, cancel := context.WithCancel(t.Context())
	done := startAndWaitReady(t, ctx, cfg)
	start := time.Now()
	cancel()
	err := <-done
	require.Less(t, time.Since(start), 20*time.Second)

	require.ErrorIs(t, err, context.Canceled)
	var te *TimeoutError
	require.False(t, errors.As(err, &te))
	var ee *ExitError
	require.False(t, errors.As(err, &ee))
	require.False(t, IsPermanent(err))
	require.EqualError(t, err, "command canceled: context canceled")
}

func TestRunParentCancelCause(t *testing.T) {
	t.Parallel()
	cfg := mustConfig(t, map[string]any{"command": `echo ready > "$READY"; sleep 30`})
	ctx, cancel := context.WithCancelCause(t.Context())
	done := startAndWaitReady(t, ctx, cfg)
	cancel(errors.New("task cancelled by operator"))
	err := <-done
	require.ErrorIs(t, err, context.Canceled)
	require.EqualError(t, err, "command canceled: context canceled (task cancelled by operator)")
}

func TestRunParentDeadlineIsNotTimeoutError(t *testing.T) {
	t.Parallel()
	// The engine's step timeout arrives as a context deadline.
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	cfg := mustConfig(t, map[string]any{"command": "sleep 30", "timeout": "10m"})
	_, err := Run(ctx, cfg, nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	var te *TimeoutError
	require.False(t, errors.As(err, &te))
}

func TestRunAlreadyCanceled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	cfg := mustConfig(t, map[string]any{"command": []any{"touch", marker}})
	_, err := Run(ctx, cfg, nil)
	require.ErrorIs(t, err, context.Canceled)
	_, statErr := os.Stat(marker)
	require.ErrorIs(t, statErr, os.ErrNotExist)
}

func TestRunHugeStdoutIsTruncatedWithoutDeadlock(t *testing.T) {
	t.Parallel()
	cfg := mustConfig(t, map[string]any{"command": `head -c 5242880 /dev/zero | tr '\0' x; echo 'tail' >&2`})
	out, err := Run(t.Context(), cfg, testInput())
	require.NoError(t, err)
	var got struct {
		Stdout    string `json:"stdout"`
		Truncated bool   `json:"stdout_truncated"`
		Bytes     int64  `json:"stdout_bytes"`
	}
	require.NoError(t, json.Unmarshal(out, &got))
	require.True(t, got.Truncated)
	require.Equal(t, int64(5<<20), got.Bytes)
	require.Equal(t, strings.Repeat("x", DefaultMaxOutput), got.Stdout)
}

func TestRunTruncatedJSONIsText(t *testing.T) {
	t.Parallel()
	cfg := mustConfig(t, map[string]any{"command": `printf '{"a": "héllo"}'`, "max_output_bytes": 9})
	out, err := Run(t.Context(), cfg, nil)
	require.NoError(t, err)
	// The 9th byte is the first half of "é": it is dropped, not mangled.
	require.JSONEq(t, `{"stdout": "{\"a\": \"h", "stdout_truncated": true, "stdout_bytes": 15}`, string(out))
}

func TestRunHugeStdoutOnFailure(t *testing.T) {
	t.Parallel()
	cfg := mustConfig(t, map[string]any{"command": `head -c 5242880 /dev/zero | tr '\0' y; exit 2`, "max_output_bytes": 100})
	_, err := Run(t.Context(), cfg, nil)
	var ee *ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 2, ee.Code)
	require.Equal(t, strings.Repeat("y", 100), ee.Stdout)
}

func TestRunBackgroundProcessIsKilledWhenTheCommandExits(t *testing.T) {
	t.Parallel()
	// The command exits 0 but leaves a background process holding stdout:
	// the rest of its process group is killed when it exits, so Run returns
	// at once (well before WaitDelay) with the output written.
	cfg := mustConfig(t, map[string]any{"command": `sleep 30 & echo $!`})
	cfg.waitDelay = time.Minute
	start := time.Now()
	out, err := Run(t.Context(), cfg, nil)
	require.NoError(t, err)
	require.Less(t, time.Since(start), 20*time.Second)
	pid, err := strconv.Atoi(string(out))
	require.NoError(t, err)
	require.True(t, processGone(pid), "the background sleep %d outlived the command", pid)
}

func TestRunWithoutCommand(t *testing.T) {
	t.Parallel()
	for _, cfg := range []*Config{nil, {}} {
		_, err := Run(t.Context(), cfg, nil)
		var ce *ConfigError
		require.ErrorAs(t, err, &ce)
		require.True(t, IsPermanent(err))
	}
	_, err := Run(t.Context(), &Config{Program: "true", Shell: "true"}, nil)
	require.EqualError(t, err, "handler_config.command is both a list and a string: give only one")
}

func TestIsPermanent(t *testing.T) {
	t.Parallel()
	require.False(t, IsPermanent(nil))
	require.False(t, IsPermanent(errors.New("boom")))
	require.False(t, IsPermanent(&TimeoutError{After: time.Second}))
	require.False(t, IsPermanent(fmt.Errorf("x: %w", context.Canceled)))
	require.False(t, IsPermanent(&ExitError{Code: 1}))
	require.True(t, IsPermanent(fmt.Errorf("step 3: %w", &ExitError{Code: 2, Permanent: true})))
	require.True(t, IsPermanent(&StartError{Permanent: true}))
	require.False(t, IsPermanent(&StartError{Permanent: false}))
}

// processGone reports whether pid has exited (or is a zombie, dead but not
// yet reaped), polling for up to 10 seconds.
func processGone(pid int) bool {
	deadline := time.Now().Add(10 * time.Second)
	for {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		switch {
		case errors.Is(err, os.ErrNotExist) && runtime.GOOS == "linux":
			return true
		case err != nil: // no /proc: a zombie counts as alive here
			if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
				return true
			}
		default:
			// The state follows the command name in parentheses.
			if i := bytes.LastIndexByte(stat, ')'); i >= 0 && bytes.HasPrefix(stat[i:], []byte(") Z")) {
				return true
			}
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
