package exechandler

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseConfigValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   map[string]any
		want *Config
	}{
		{
			name: "list command",
			in:   map[string]any{"command": []any{"./script.sh", "a b", "$HOME"}},
			want: &Config{Program: "./script.sh", Args: []string{"a b", "$HOME"}, MaxOutput: DefaultMaxOutput},
		},
		{
			name: "list of one",
			in:   map[string]any{"command": []string{"true"}},
			want: &Config{Program: "true", Args: []string{}, MaxOutput: DefaultMaxOutput},
		},
		{
			name: "string command",
			in:   map[string]any{"command": "echo hi | tr a-z A-Z"},
			want: &Config{Shell: "echo hi | tr a-z A-Z", MaxOutput: DefaultMaxOutput},
		},
		{
			name: "all keys",
			in: map[string]any{
				"command":              "true",
				"env":                  map[string]any{"S": "x", "I": 42, "F": 1.5, "B": true, "E": "", "U": uint64(7)},
				"dir":                  "/tmp",
				"timeout":              "1m30s",
				"permanent_exit_codes": []any{2, 64, 2, float64(255)},
				"max_output_bytes":     4096,
			},
			want: &Config{
				Shell:              "true",
				Env:                map[string]string{"S": "x", "I": "42", "F": "1.5", "B": "true", "E": "", "U": "7"},
				Dir:                "/tmp",
				Timeout:            90 * time.Second,
				PermanentExitCodes: []int{2, 64, 255},
				MaxOutput:          4096,
			},
		},
		{
			name: "timeout as integer seconds",
			in:   map[string]any{"command": "true", "timeout": 45},
			want: &Config{Shell: "true", Timeout: 45 * time.Second, MaxOutput: DefaultMaxOutput},
		},
		{
			name: "timeout as whole float seconds (JSON)",
			in:   map[string]any{"command": "true", "timeout": float64(45)},
			want: &Config{Shell: "true", Timeout: 45 * time.Second, MaxOutput: DefaultMaxOutput},
		},
		{
			name: "zero timeout",
			in:   map[string]any{"command": "true", "timeout": "0"},
			want: &Config{Shell: "true", MaxOutput: DefaultMaxOutput},
		},
		{
			name: "empty exit code list",
			in:   map[string]any{"command": "true", "permanent_exit_codes": []any{}},
			want: &Config{Shell: "true", PermanentExitCodes: []int{}, MaxOutput: DefaultMaxOutput},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseConfig(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	t.Parallel()
	const valid = "valid keys are command, env, inherit_env, dir, timeout, permanent_exit_codes, max_output_bytes"
	tests := []struct {
		name  string
		in    map[string]any
		field string
		want  string
	}{
		{
			name:  "nil map",
			in:    nil,
			field: "handler_config.command",
			want:  `handler_config.command is required: give a list such as ["./script.sh", "arg"] or a string run by sh -c`,
		},
		{
			name:  "missing command",
			in:    map[string]any{"dir": "/tmp"},
			field: "handler_config.command",
			want:  `handler_config.command is required: give a list such as ["./script.sh", "arg"] or a string run by sh -c`,
		},
		{
			name:  "unknown key",
			in:    map[string]any{"command": "true", "cmd": "x"},
			field: "handler_config",
			want:  `handler_config has unknown key "cmd": ` + valid,
		},
		{
			name:  "unknown keys sorted",
			in:    map[string]any{"command": "true", "zeta": 1, "alpha": 2},
			field: "handler_config",
			want:  `handler_config has unknown keys "alpha", "zeta": ` + valid,
		},
		{
			name:  "empty string command",
			in:    map[string]any{"command": "  "},
			field: "handler_config.command",
			want:  `handler_config.command is empty: give a list such as ["./script.sh", "arg"] or a string run by sh -c`,
		},
		{
			name:  "empty list command",
			in:    map[string]any{"command": []any{}},
			field: "handler_config.command",
			want:  `handler_config.command is an empty list: give at least the program, such as ["./script.sh", "arg"]`,
		},
		{
			name:  "command of wrong type",
			in:    map[string]any{"command": map[string]any{"a": 1}},
			field: "handler_config.command",
			want:  `handler_config.command must be a list such as ["./script.sh", "arg"] or a string run by sh -c, not a map`,
		},
		{
			name:  "number in command list",
			in:    map[string]any{"command": []any{"sleep", 5}},
			field: "handler_config.command[1]",
			want:  `handler_config.command[1] is a number (5), not a string: quote it, such as "5"`,
		},
		{
			name:  "list in command list",
			in:    map[string]any{"command": []any{"echo", []any{"x"}}},
			field: "handler_config.command[1]",
			want:  `handler_config.command[1] is a list, not a string: every element of the list must be a string`,
		},
		{
			name:  "empty program",
			in:    map[string]any{"command": []any{"", "x"}},
			field: "handler_config.command[0]",
			want:  `handler_config.command[0] is empty: give the program to run, such as "./script.sh"`,
		},
		{
			name:  "env not a map",
			in:    map[string]any{"command": "true", "env": []any{"A=1"}},
			field: "handler_config.env",
			want:  `handler_config.env must be a map of variable names to values, such as {LOG_LEVEL: debug}, not a list`,
		},
		{
			name:  "env value a map",
			in:    map[string]any{"command": "true", "env": map[string]any{"A": map[string]any{}}},
			field: "handler_config.env.A",
			want:  `handler_config.env.A is a map: give a string, number or boolean (use "" for an empty value)`,
		},
		{
			name:  "env value null",
			in:    map[string]any{"command": "true", "env": map[string]any{"A": nil}},
			field: "handler_config.env.A",
			want:  `handler_config.env.A is null: give a string, number or boolean (use "" for an empty value)`,
		},
		{
			name:  "env bad name",
			in:    map[string]any{"command": "true", "env": map[string]any{"A=B": "x"}},
			field: "handler_config.env",
			want:  `handler_config.env key "A=B" is not a valid variable name: use letters, digits and underscores, such as LOG_LEVEL`,
		},
		{
			name:  "env reserved",
			in:    map[string]any{"command": "true", "env": map[string]any{"TASKER_ATTEMPT": "9"}},
			field: "handler_config.env.TASKER_ATTEMPT",
			want:  `handler_config.env.TASKER_ATTEMPT is set by the engine and cannot be overridden: choose another name`,
		},
		{
			name:  "dir not a string",
			in:    map[string]any{"command": "true", "dir": 3},
			field: "handler_config.dir",
			want:  `handler_config.dir must be a string path such as "/srv/app", not a number`,
		},
		{
			name:  "dir empty",
			in:    map[string]any{"command": "true", "dir": ""},
			field: "handler_config.dir",
			want:  `handler_config.dir is empty: give a path, or remove it to use the worker's working directory`,
		},
		{
			name:  "timeout not a duration",
			in:    map[string]any{"command": "true", "timeout": "abc"},
			field: "handler_config.timeout",
			want:  `handler_config.timeout "abc" is not a duration: use a value such as "30s"`,
		},
		{
			name:  "timeout without unit in a string",
			in:    map[string]any{"command": "true", "timeout": "30"},
			field: "handler_config.timeout",
			want:  `handler_config.timeout "30" is not a duration: use a value such as "30s"`,
		},
		{
			name:  "negative duration",
			in:    map[string]any{"command": "true", "timeout": "-5s"},
			field: "handler_config.timeout",
			want:  `handler_config.timeout "-5s" is negative: use a value such as "30s", or 0 for no timeout`,
		},
		{
			name:  "negative seconds",
			in:    map[string]any{"command": "true", "timeout": -5},
			field: "handler_config.timeout",
			want:  `handler_config.timeout -5 is negative: use a value such as "30s", or 0 for no timeout`,
		},
		{
			name:  "fractional seconds",
			in:    map[string]any{"command": "true", "timeout": 1.5},
			field: "handler_config.timeout",
			want:  `handler_config.timeout 1.5 is not a whole number of seconds: use a duration string such as "1.5s"`,
		},
		{
			name:  "timeout too long",
			in:    map[string]any{"command": "true", "timeout": uint64(1) << 63},
			field: "handler_config.timeout",
			want:  `handler_config.timeout 9223372036854775807 seconds is too long: use a value such as "30s"`,
		},
		{
			name:  "timeout of wrong type",
			in:    map[string]any{"command": "true", "timeout": true},
			field: "handler_config.timeout",
			want:  `handler_config.timeout must be a duration string such as "30s" or a whole number of seconds, not a boolean`,
		},
		{
			name:  "exit codes not a list",
			in:    map[string]any{"command": "true", "permanent_exit_codes": 2},
			field: "handler_config.permanent_exit_codes",
			want:  `handler_config.permanent_exit_codes must be a list of exit codes such as [2, 64], not a number`,
		},
		{
			name:  "exit code quoted",
			in:    map[string]any{"command": "true", "permanent_exit_codes": []any{"2"}},
			field: "handler_config.permanent_exit_codes[0]",
			want:  `handler_config.permanent_exit_codes[0] is a string ("2"), not an integer exit code: write it unquoted, such as 2`,
		},
		{
			name:  "exit code fractional",
			in:    map[string]any{"command": "true", "permanent_exit_codes": []any{2.5}},
			field: "handler_config.permanent_exit_codes[0]",
			want:  `handler_config.permanent_exit_codes[0] is a number, not an integer exit code such as 2`,
		},
		{
			name:  "exit code zero",
			in:    map[string]any{"command": "true", "permanent_exit_codes": []any{1, 0}},
			field: "handler_config.permanent_exit_codes[1]",
			want:  `handler_config.permanent_exit_codes[1] is 0: exit codes must be between 1 and 255 (0 means success)`,
		},
		{
			name:  "exit code too large",
			in:    map[string]any{"command": "true", "permanent_exit_codes": []any{256}},
			field: "handler_config.permanent_exit_codes[0]",
			want:  `handler_config.permanent_exit_codes[0] is 256: exit codes must be between 1 and 255`,
		},
		{
			name:  "exit code negative",
			in:    map[string]any{"command": "true", "permanent_exit_codes": []any{-1}},
			field: "handler_config.permanent_exit_codes[0]",
			want:  `handler_config.permanent_exit_codes[0] is -1: exit codes must be between 1 and 255`,
		},
		{
			name:  "max output zero",
			in:    map[string]any{"command": "true", "max_output_bytes": 0},
			field: "handler_config.max_output_bytes",
			want:  `handler_config.max_output_bytes 0 is not positive: use a byte count such as 1048576`,
		},
		{
			name:  "max output too large",
			in:    map[string]any{"command": "true", "max_output_bytes": int64(2) << 30},
			field: "handler_config.max_output_bytes",
			want:  `handler_config.max_output_bytes 2147483648 is too large: use at most 1073741824 (1 GiB)`,
		},
		{
			name:  "max output a string",
			in:    map[string]any{"command": "true", "max_output_bytes": "1MiB"},
			field: "handler_config.max_output_bytes",
			want:  `handler_config.max_output_bytes must be a whole number of bytes such as 1048576, not a string`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := ParseConfig(tt.in)
			require.Nil(t, cfg)
			require.EqualError(t, err, tt.want)
			var ce *ConfigError
			require.True(t, errors.As(err, &ce))
			require.Equal(t, tt.field, ce.Field)
			require.True(t, IsPermanent(err))
		})
	}
}

// toInt reads every integer type a decoder may produce, saturating an
// unsigned value beyond int64, and a float or json.Number holding a whole
// number; nothing else.
func TestToInt(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   any
		want int64
		ok   bool
	}{
		{int(-3), -3, true}, {int8(-8), -8, true}, {int16(16), 16, true}, {int32(-32), -32, true}, {int64(-64), -64, true},
		{uint(1), 1, true}, {uint8(8), 8, true}, {uint16(16), 16, true}, {uint32(32), 32, true}, {uint64(64), 64, true},
		{uint64(1) << 63, math.MaxInt64, true}, {uint(1) << 63, math.MaxInt64, true},
		{float32(2), 2, true}, {2.0, 2, true}, {2.5, 0, false}, {1e300, math.MaxInt64, true},
		{json.Number("7"), 7, true}, {json.Number("7.0"), 7, true}, {json.Number("7.5"), 0, false},
		{"7", 0, false}, {true, 0, false}, {time.Second, 0, false}, {nil, 0, false},
	} {
		got, ok := toInt(c.in)
		require.Equal(t, c.ok, ok, "%T %v", c.in, c.in)
		require.Equal(t, c.want, got, "%T %v", c.in, c.in)
	}
}
