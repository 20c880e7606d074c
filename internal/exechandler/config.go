package exechandler

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DefaultMaxOutput is the cap on captured stdout used when
// handler_config.max_output_bytes is not given: 1 MiB.
const DefaultMaxOutput = 1 << 20

// MaxMaxOutput is the largest accepted handler_config.max_output_bytes: 1 GiB.
const MaxMaxOutput = 1 << 30

// validKeys lists the keys accepted in handler_config, in documentation order.
var validKeys = []string{"command", "env", "inherit_env", "dir", "timeout", "permanent_exit_codes", "max_output_bytes"}

// reservedEnv lists the variables the engine sets for every command; a
// handler_config.env entry may not override them.
var reservedEnv = []string{envTaskID, envStepID, envStepName, envAttempt}

// The variables set by the engine in the command's environment.
const (
	envTaskID   = "TASKER_TASK_ID"
	envStepID   = "TASKER_STEP_ID"
	envStepName = "TASKER_STEP_NAME"
	envAttempt  = "TASKER_ATTEMPT"
)

const commandHint = `give a list such as ["./script.sh", "arg"] or a string run by sh -c`

// Config is the handler_config of an exec step, decoded from the template's
// YAML by [ParseConfig].
//
// Exactly one of Program and Shell is set.
type Config struct {
	// Program is the program to run when `command` is a list: its first
	// element. No shell is involved; a name without a slash is looked up in
	// PATH, a relative path is resolved against Dir.
	Program string
	// Args are the remaining elements of a list `command`.
	Args []string
	// Shell is the script run with `sh -c` when `command` is a string.
	Shell string
	// Env holds the variables of `env`, added to the inherited environment.
	Env map[string]string
	// InheritEnv, when not nil (`inherit_env`), lists the only variables
	// of the worker's environment the command inherits; nil means all of
	// them but Tasker's own (see [Withheld]).
	InheritEnv []string
	// Dir is the working directory of the command (`dir`); empty means the
	// worker's working directory.
	Dir string
	// Timeout bounds one run of the command (`timeout`); 0 means no timeout
	// of its own (the engine's step timeout still applies through the
	// context given to [Run]).
	Timeout time.Duration
	// PermanentExitCodes lists the exit codes that mean retrying will not
	// help (`permanent_exit_codes`).
	PermanentExitCodes []int
	// MaxOutput caps the captured stdout in bytes (`max_output_bytes`);
	// 0 means [DefaultMaxOutput].
	MaxOutput int

	// waitDelay overrides defaultWaitDelay (tests only).
	waitDelay time.Duration
	// supervisor overrides the supervisor executable (tests only).
	supervisor string
}

// ConfigError reports an invalid handler_config. Its message names the
// offending field and how to fix it. A ConfigError is permanent: see
// [IsPermanent].
type ConfigError struct {
	// Field is the offending field, such as "handler_config.timeout".
	Field string
	msg   string
}

// Error returns the full message, which starts with the field name.
func (e *ConfigError) Error() string { return e.msg }

func configErrorf(field, format string, args ...any) *ConfigError {
	return &ConfigError{Field: field, msg: field + " " + fmt.Sprintf(format, args...)}
}

// ParseConfig decodes the handler_config of an exec step, as decoded from
// YAML or JSON into a map[string]any. It rejects unknown keys and values of
// the wrong type; the returned error is a *[ConfigError].
//
// Recognised keys:
//
//   - command (required): a list (program and arguments, no shell) or a
//     string (run with sh -c).
//   - env: a map of variable names to strings, numbers or booleans.
//   - inherit_env: a list of the variable names the command inherits from
//     the worker's environment (an allow-list; [] inherits none).
//   - dir: the working directory.
//   - timeout: a Go duration string such as "30s" or a whole number of
//     seconds; 0 means none.
//   - permanent_exit_codes: a list of exit codes in 1..255 after which a
//     retry will not help.
//   - max_output_bytes: the cap on captured stdout, default 1 MiB.
func ParseConfig(m map[string]any) (*Config, error) {
	var unknown []string
	for k := range m {
		if !slices.Contains(validKeys, k) {
			unknown = append(unknown, strconv.Quote(k))
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		noun := "key"
		if len(unknown) > 1 {
			noun = "keys"
		}
		return nil, &ConfigError{Field: "handler_config", msg: fmt.Sprintf(
			"handler_config has unknown %s %s: valid keys are %s",
			noun, strings.Join(unknown, ", "), strings.Join(validKeys, ", "))}
	}

	cfg := &Config{MaxOutput: DefaultMaxOutput}
	if err := parseCommand(cfg, m["command"]); err != nil {
		return nil, err
	}
	// The parsers only read their value: the first error, in this order, is
	// the one reported.
	for _, err := range []error{
		setOptional(m, "env", &cfg.Env, parseEnv),
		setOptional(m, "inherit_env", &cfg.InheritEnv, parseInheritEnv),
		setOptional(m, "dir", &cfg.Dir, parseDir),
		setOptional(m, "timeout", &cfg.Timeout, parseTimeout),
		setOptional(m, "permanent_exit_codes", &cfg.PermanentExitCodes, parseExitCodes),
		setOptional(m, "max_output_bytes", &cfg.MaxOutput, parseMaxOutput),
	} {
		if err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// setOptional stores parse(m[key]) in *dst when m has key.
func setOptional[T any](m map[string]any, key string, dst *T, parse func(any) (T, error)) error {
	v, ok := m[key]
	if !ok {
		return nil
	}
	x, err := parse(v)
	if err != nil {
		return err
	}
	*dst = x
	return nil
}

func parseDir(v any) (string, error) {
	const field = "handler_config.dir"
	s, ok := v.(string)
	switch {
	case !ok:
		return "", configErrorf(field, "must be a string path such as \"/srv/app\", not %s", describe(v))
	case s == "":
		return "", configErrorf(field, "is empty: give a path, or remove it to use the worker's working directory")
	case strings.IndexByte(s, 0) >= 0:
		return "", configErrorf(field, "%q contains a NUL byte: give a valid path", s)
	}
	return s, nil
}

func parseMaxOutput(v any) (int, error) {
	const field = "handler_config.max_output_bytes"
	n, isInt := toInt(v)
	switch {
	case !isInt:
		return 0, configErrorf(field, "must be a whole number of bytes such as 1048576, not %s", describe(v))
	case n <= 0:
		return 0, configErrorf(field, "%d is not positive: use a byte count such as 1048576", n)
	case n > MaxMaxOutput:
		return 0, configErrorf(field, "%d is too large: use at most %d (1 GiB)", n, MaxMaxOutput)
	}
	return int(n), nil
}

func parseCommand(cfg *Config, v any) error {
	const field = "handler_config.command"
	switch c := v.(type) {
	case nil:
		return configErrorf(field, "is required: %s", commandHint)
	case string:
		if strings.TrimSpace(c) == "" {
			return configErrorf(field, "is empty: %s", commandHint)
		}
		if strings.IndexByte(c, 0) >= 0 {
			return configErrorf(field, "contains a NUL byte: remove it")
		}
		cfg.Shell = c
		return nil
	case []string:
		items := make([]any, len(c))
		for i, s := range c {
			items[i] = s
		}
		return parseCommandList(cfg, items)
	case []any:
		return parseCommandList(cfg, c)
	default:
		return configErrorf(field, "must be a list such as [\"./script.sh\", \"arg\"] or a string run by sh -c, not %s", describe(v))
	}
}

func parseCommandList(cfg *Config, items []any) error {
	if len(items) == 0 {
		return configErrorf("handler_config.command", "is an empty list: give at least the program, such as [\"./script.sh\", \"arg\"]")
	}
	args := make([]string, len(items))
	for i, item := range items {
		field := fmt.Sprintf("handler_config.command[%d]", i)
		s, ok := item.(string)
		if !ok {
			if isScalar(item) {
				return configErrorf(field, "is %s (%v), not a string: quote it, such as \"%v\"", describe(item), item, item)
			}
			return configErrorf(field, "is %s, not a string: every element of the list must be a string", describe(item))
		}
		if strings.IndexByte(s, 0) >= 0 {
			return configErrorf(field, "contains a NUL byte: remove it")
		}
		args[i] = s
	}
	if args[0] == "" {
		return configErrorf("handler_config.command[0]", "is empty: give the program to run, such as \"./script.sh\"")
	}
	cfg.Program, cfg.Args = args[0], args[1:]
	return nil
}

func parseEnv(v any) (map[string]string, error) {
	const field = "handler_config.env"
	m, ok := v.(map[string]any)
	if !ok {
		if ms, isStrings := v.(map[string]string); isStrings {
			m = make(map[string]any, len(ms))
			for k, s := range ms {
				m[k] = s
			}
		} else {
			return nil, configErrorf(field, "must be a map of variable names to values, such as {LOG_LEVEL: debug}, not %s", describe(v))
		}
	}
	keys := slices.Sorted(maps.Keys(m))
	env := make(map[string]string, len(m))
	for _, k := range keys {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return nil, configErrorf(field, "key %q is not a valid variable name: use letters, digits and underscores, such as LOG_LEVEL", k)
		}
		if slices.Contains(reservedEnv, k) {
			return nil, configErrorf(field+"."+k, "is set by the engine and cannot be overridden: choose another name")
		}
		s, ok := stringify(m[k])
		if !ok {
			return nil, configErrorf(field+"."+k, "is %s: give a string, number or boolean (use \"\" for an empty value)", describe(m[k]))
		}
		if strings.IndexByte(s, 0) >= 0 {
			return nil, configErrorf(field+"."+k, "contains a NUL byte: remove it")
		}
		env[k] = s
	}
	return env, nil
}

func parseInheritEnv(v any) ([]string, error) {
	const field = "handler_config.inherit_env"
	list, ok := v.([]any)
	if !ok {
		if ls, isStrings := v.([]string); isStrings {
			list = make([]any, len(ls))
			for i, s := range ls {
				list[i] = s
			}
		} else {
			return nil, configErrorf(field, "must be a list of variable names, such as [PATH, HOME, LANG], not %s", describe(v))
		}
	}
	out := make([]string, 0, len(list))
	for i, e := range list {
		s, ok := e.(string)
		if !ok || s == "" || strings.ContainsAny(s, "=\x00") {
			return nil, configErrorf(fmt.Sprintf("%s[%d]", field, i), "is not a variable name: use letters, digits and underscores, such as PATH")
		}
		out = append(out, s)
	}
	return out, nil
}

func parseTimeout(v any) (time.Duration, error) {
	const field = "handler_config.timeout"
	if s, ok := v.(string); ok {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return 0, configErrorf(field, "%q is not a duration: use a value such as \"30s\"", s)
		}
		if d < 0 {
			return 0, configErrorf(field, "%q is negative: use a value such as \"30s\", or 0 for no timeout", s)
		}
		return d, nil
	}
	if f, ok := v.(float64); ok && f != math.Trunc(f) {
		return 0, configErrorf(field, "%v is not a whole number of seconds: use a duration string such as \"%vs\"", f, f)
	}
	if n, ok := v.(json.Number); ok {
		if _, err := n.Int64(); err != nil {
			if f, ferr := n.Float64(); ferr == nil && f != math.Trunc(f) {
				return 0, configErrorf(field, "%v is not a whole number of seconds: use a duration string such as \"%vs\"", n, n)
			}
		}
	}
	n, ok := toInt(v)
	switch {
	case !ok:
		return 0, configErrorf(field, "must be a duration string such as \"30s\" or a whole number of seconds, not %s", describe(v))
	case n < 0:
		return 0, configErrorf(field, "%d is negative: use a value such as \"30s\", or 0 for no timeout", n)
	case n > int64(math.MaxInt64/time.Second):
		return 0, configErrorf(field, "%d seconds is too long: use a value such as \"30s\"", n)
	}
	return time.Duration(n) * time.Second, nil
}

func parseExitCodes(v any) ([]int, error) {
	const field = "handler_config.permanent_exit_codes"
	var items []any
	switch c := v.(type) {
	case []any:
		items = c
	case []int:
		items = make([]any, len(c))
		for i, n := range c {
			items[i] = n
		}
	default:
		return nil, configErrorf(field, "must be a list of exit codes such as [2, 64], not %s", describe(v))
	}
	codes := make([]int, 0, len(items))
	seen := make(map[int]bool, len(items))
	for i, item := range items {
		f := fmt.Sprintf("%s[%d]", field, i)
		n, ok := toInt(item)
		if !ok {
			if s, isString := item.(string); isString {
				return nil, configErrorf(f, "is a string (%q), not an integer exit code: write it unquoted, such as 2", s)
			}
			return nil, configErrorf(f, "is %s, not an integer exit code such as 2", describe(item))
		}
		if n < 1 || n > 255 {
			hint := ""
			if n == 0 {
				hint = " (0 means success)"
			}
			return nil, configErrorf(f, "is %d: exit codes must be between 1 and 255%s", n, hint)
		}
		if !seen[int(n)] {
			seen[int(n)] = true
			codes = append(codes, int(n))
		}
	}
	return codes, nil
}

// toInt converts the integer types produced by YAML and JSON decoders
// (including float64 holding a whole number) to int64.
func toInt(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return i, true
		}
		f, err := n.Float64()
		if err != nil {
			return 0, false
		}
		return floatToInt(f)
	case int, int8, int16, int32, int64:
		return reflect.ValueOf(n).Int(), true
	case uint, uint8, uint16, uint32, uint64:
		return uintToInt(reflect.ValueOf(n).Uint())
	case float32:
		return floatToInt(float64(n))
	case float64:
		return floatToInt(n)
	}
	return 0, false
}

func uintToInt(n uint64) (int64, bool) {
	if n > math.MaxInt64 {
		return math.MaxInt64, true // saturate: callers reject it as too large
	}
	return int64(n), true
}

func floatToInt(f float64) (int64, bool) {
	if f != math.Trunc(f) || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	if f >= math.MaxInt64 {
		return math.MaxInt64, true
	}
	if f <= math.MinInt64 {
		return math.MinInt64, true
	}
	return int64(f), true
}

// stringify renders a scalar env value as a string.
func stringify(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(x), true
	}
	return "", false
}

func isScalar(v any) bool {
	_, ok := stringify(v)
	return ok
}

// describe names the YAML kind of v for error messages.
func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64, json.Number:
		return "a number"
	case []any, []string, []int:
		return "a list"
	case map[string]any, map[string]string, map[any]any:
		return "a map"
	}
	return fmt.Sprintf("a %T", v)
}
