package httpstep

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tasker-go/tasker/internal/names"
)

// Defaults of a Config.
const (
	DefaultTimeout     = 30 * time.Second
	DefaultMaxResponse = 1 << 20
	// DefaultRetryDelay is the base of the handler's own backoff when only
	// enable_exponential_backoff is given (the original engine's default
	// retry_delay of 1.0 second).
	DefaultRetryDelay = time.Second
	// MaxExponentialRetryDelay caps the exponential retry_delay backoff (the
	// original engine's cap of 30 seconds), unless retry_delay is larger.
	MaxExponentialRetryDelay = 30 * time.Second
)

// Config is the handler_config of an http step. ParseConfig fills it from
// YAML; Go code may fill it directly and must then call Compile.
type Config struct {
	Method  string            // default GET
	URL     string            // required, http or https; placeholders in path and query
	Headers map[string]string // added to the request; values may hold placeholders
	Params  map[string]string // query parameters; values may hold placeholders
	// Body is sent as JSON: nil sends the task context for POST, PUT and
	// PATCH and nothing otherwise. Its strings may hold placeholders.
	Body            any
	Timeout         time.Duration // default 30s
	MaxResponse     int64         // response bytes kept, default 1 MiB
	FollowRedirects bool          // ParseConfig's default is true
	Auth            *Auth
	TLS             *TLS
	RateLimit       *RateLimit
	// MaxRetryAfter caps a server's Retry-After; zero means no cap of the
	// handler's own (the step's backoff.max_requested still applies).
	MaxRetryAfter time.Duration
	// RetryDelay, when positive, makes the handler request its own backoff
	// for retryable failures that carry no Retry-After: RetryDelay·2^(n-1)
	// after the n-th attempt, capped at MaxExponentialRetryDelay (or
	// RetryDelay when larger), or RetryDelay every time when
	// ConstantRetryDelay is set.
	RetryDelay         time.Duration
	ConstantRetryDelay bool

	compiled bool
	url      text
	sections []urlSection // per part of url
	headers  []header
	params   []param
	body     any
	hostKey  string // scheme://host:port, the rate limit's bucket
}

// Auth is handler_config.auth: credentials read from the environment at
// run time.
type Auth struct {
	Type        string // "bearer" or "basic"
	TokenEnv    string // bearer: the variable holding the token
	UsernameEnv string // basic
	PasswordEnv string // basic
}

// TLS is handler_config.tls.
type TLS struct {
	CAFile             string // PEM roots trusted instead of the system's
	CertFile           string // PEM client certificate (with KeyFile)
	KeyFile            string
	ServerName         string // verified name and SNI
	InsecureSkipVerify bool
}

// RateLimit is handler_config.rate_limit: a token bucket per host, shared by
// the process.
type RateLimit struct {
	RequestsPerSecond float64
	Burst             int // default 1
}

type header struct {
	name string
	val  text
}

type param struct {
	name string
	val  text
}

type urlSection uint8

const (
	sectionPath urlSection = iota
	sectionQuery
	sectionFragment
)

var validKeys = []string{
	"method", "url", "params", "headers", "body", "auth", "tls", "rate_limit", "timeout",
	"max_response_bytes", "follow_redirects", "max_retry_after", "retry_delay", "enable_exponential_backoff", "type",
}

// ParseConfig reads a handler_config; errors name the field and the fix.
// Numbers may be integers (from YAML) or float64 (from JSON).
func ParseConfig(m map[string]any) (*Config, error) {
	c := &Config{Method: http.MethodGet, Timeout: DefaultTimeout, MaxResponse: DefaultMaxResponse, FollowRedirects: true}
	var unknown []string
	for k := range m {
		if !slices.Contains(validKeys, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		if unknown[0] == "ssl" {
			return nil, errors.New("handler_config.ssl is not supported: use tls with ca_file, cert_file, key_file, server_name or insecure_skip_verify")
		}
		return nil, fmt.Errorf("handler_config.%s is unknown: use %s", unknown[0], strings.Join(validKeys, ", "))
	}
	var expSet bool
	for _, k := range validKeys {
		v, ok := m[k]
		if !ok {
			continue
		}
		var err error
		switch k {
		case "method":
			s, ok := v.(string)
			if !ok {
				return nil, errors.New(`handler_config.method must be an HTTP method such as "POST"`)
			}
			c.Method = s
		case "url":
			s, ok := v.(string)
			if !ok {
				return nil, errors.New(`handler_config.url must be a string such as "https://api.example.com/orders"`)
			}
			c.URL = s
		case "headers":
			c.Headers, err = stringMap(v, "headers")
		case "params":
			c.Params, err = stringMap(v, "params")
		case "body":
			c.Body = v
		case "auth":
			c.Auth, err = parseAuth(v)
		case "tls":
			c.TLS, err = parseTLS(v)
		case "rate_limit":
			c.RateLimit, err = parseRateLimit(v)
		case "timeout":
			c.Timeout, err = keyDuration(v, "timeout")
		case "max_retry_after":
			c.MaxRetryAfter, err = keyDuration(v, "max_retry_after")
		case "retry_delay":
			c.RetryDelay, err = retryDelay(v)
		case "max_response_bytes":
			n, ok := wholeNumber(v)
			if !ok || n <= 0 {
				return nil, errors.New("handler_config.max_response_bytes must be a positive whole number such as 1048576")
			}
			c.MaxResponse = n
		case "follow_redirects":
			c.FollowRedirects, err = boolean(v, "follow_redirects")
		case "enable_exponential_backoff":
			var b bool
			b, err = boolean(v, "enable_exponential_backoff")
			c.ConstantRetryDelay, expSet = !b, true
		case "type":
			if s, _ := v.(string); s != "api" {
				return nil, fmt.Errorf(`handler_config.type %s is unknown: the only type is "api" (the original engine's API step handler form); or leave type out`, quote(v))
			}
		}
		if err != nil {
			return nil, err
		}
	}
	if expSet && c.RetryDelay == 0 {
		c.RetryDelay = DefaultRetryDelay
	}
	if err := c.Compile(); err != nil {
		return nil, err
	}
	return c, nil
}

// Compile checks c, applies the defaults of zero fields (method GET, timeout
// 30s, 1 MiB of response, burst 1) and parses its placeholders. Errors name
// the handler_config key and the fix.
func (c *Config) Compile() error {
	if c.compiled {
		return nil
	}
	if c.Method == "" {
		c.Method = http.MethodGet
	}
	c.Method = strings.ToUpper(c.Method)
	if !isToken(c.Method) {
		return fmt.Errorf(`handler_config.method %q must be an HTTP method such as "POST"`, c.Method)
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxResponse == 0 {
		c.MaxResponse = DefaultMaxResponse
	}
	switch {
	case c.Timeout < 0:
		return fmt.Errorf(`handler_config.timeout %s is not a positive duration: use a value such as "30s"`, c.Timeout)
	case c.MaxResponse < 0:
		return errors.New("handler_config.max_response_bytes must be a positive whole number such as 1048576")
	case c.MaxRetryAfter < 0:
		return fmt.Errorf(`handler_config.max_retry_after %s is not a positive duration: use a value such as "2m"`, c.MaxRetryAfter)
	case c.RetryDelay < 0:
		return fmt.Errorf("handler_config.retry_delay %s is not positive: give seconds such as 1.5", c.RetryDelay)
	}
	if err := c.compileURL(); err != nil {
		return err
	}
	var err error
	if c.headers, err = compileHeaders(c.Headers); err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(c.Params)) {
		t, err := parseText(c.Params[name])
		if err != nil {
			return fmt.Errorf("handler_config.params.%s: %w", name, err)
		}
		c.params = append(c.params, param{name: name, val: t})
	}
	if c.body, err = parseBody(c.Body, "handler_config.body"); err != nil {
		return err
	}
	if err := c.Auth.validate(c.Headers); err != nil {
		return err
	}
	if err := c.TLS.validate(); err != nil {
		return err
	}
	if rl := c.RateLimit; rl != nil {
		if math.IsNaN(rl.RequestsPerSecond) || math.IsInf(rl.RequestsPerSecond, 0) || rl.RequestsPerSecond < minRate {
			return errors.New(rateHint)
		}
		if rl.Burst == 0 {
			rl.Burst = 1
		}
		if rl.Burst < 0 {
			return errors.New("handler_config.rate_limit.burst must be a whole number of at least 1 (the default)")
		}
	}
	c.compiled = true
	return nil
}

const urlHint = `must be an absolute http(s) URL such as "https://api.example.com/orders"`

// compileURL parses the URL's placeholders and decides, for each, whether it
// is in the path, the query or the fragment. Placeholders may not be in the
// scheme or host: a task context must not choose where credentials go.
func (c *Config) compileURL() error {
	if c.URL == "" {
		return errors.New(`handler_config.url is required: give the API's URL, such as "https://api.example.com/orders"`)
	}
	t, err := parseText(c.URL)
	if err != nil {
		return fmt.Errorf("handler_config.url: %w", err)
	}
	// The skeleton has a NUL per placeholder; a URL cannot hold a NUL.
	var sk strings.Builder
	for _, p := range t.parts {
		if p.ph != nil {
			sk.WriteByte(0)
		} else {
			sk.WriteString(p.lit)
		}
	}
	skel := sk.String()
	if strings.Count(skel, "\x00") != len(t.parts)-countLiterals(t) {
		return fmt.Errorf("handler_config.url %q %s", c.URL, urlHint)
	}
	u, err := url.Parse(strings.ReplaceAll(skel, "\x00", "x"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("handler_config.url %q %s", c.URL, urlHint)
	}
	authEnd := len(skel)
	if i := strings.Index(skel, "://"); i >= 0 {
		if j := strings.IndexAny(skel[i+3:], "/?#"); j >= 0 {
			authEnd = i + 3 + j
		}
	}
	queryAt, fragAt := len(skel), len(skel)
	if j := strings.IndexByte(skel[authEnd:], '#'); j >= 0 {
		fragAt = authEnd + j
	}
	if j := strings.IndexByte(skel[authEnd:fragAt], '?'); j >= 0 {
		queryAt = authEnd + j
	}
	c.sections = make([]urlSection, len(t.parts))
	pos := 0
	for i, p := range t.parts {
		if p.ph == nil {
			pos += len(p.lit)
			continue
		}
		switch {
		case pos < authEnd:
			return fmt.Errorf("handler_config.url: placeholder %s is in the scheme or host; put placeholders in the path or query only (a host from the environment can be written ${VAR})", p.ph.raw)
		case pos < queryAt:
			c.sections[i] = sectionPath
		case pos < fragAt:
			c.sections[i] = sectionQuery
		default:
			c.sections[i] = sectionFragment
		}
		pos++
	}
	c.url = t
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	c.hostKey = u.Scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
	return nil
}

func countLiterals(t text) int {
	n := 0
	for _, p := range t.parts {
		if p.ph == nil {
			n++
		}
	}
	return n
}

func compileHeaders(h map[string]string) ([]header, error) {
	out := make([]header, 0, len(h))
	for _, name := range slices.Sorted(maps.Keys(h)) {
		if !isToken(name) {
			return nil, fmt.Errorf("handler_config.headers: %q is not a valid header name: use letters, digits and \"-\", such as \"X-Request-Source\"", name)
		}
		t, err := parseText(h[name])
		if err != nil {
			return nil, fmt.Errorf("handler_config.headers.%s: %w", name, err)
		}
		if t.static() && !validHeaderValue(t.literal()) {
			return nil, fmt.Errorf("handler_config.headers.%s holds a control character (such as a line break): remove it", name)
		}
		out = append(out, header{name: name, val: t})
	}
	return out, nil
}

func (a *Auth) validate(headers map[string]string) error {
	if a == nil {
		return nil
	}
	for name := range headers {
		if strings.EqualFold(name, "Authorization") {
			return errors.New("handler_config.headers.Authorization and handler_config.auth both set the Authorization header: keep one of them")
		}
	}
	check := func(key, name string) error {
		if name == "" {
			return fmt.Errorf("handler_config.auth.%s is required for type %s: name the environment variable that holds it, such as %s", key, a.Type, exampleEnv(key))
		}
		if !names.EnvVar(name) {
			return fmt.Errorf("handler_config.auth.%s %q is not an environment variable name: use letters, digits and \"_\", such as %s", key, name, exampleEnv(key))
		}
		return nil
	}
	unexpected := func(key, name string) error {
		if name != "" {
			return fmt.Errorf("handler_config.auth.%s does not apply to type %s: remove it", key, a.Type)
		}
		return nil
	}
	switch a.Type {
	case "bearer":
		return firstError(check("token_env", a.TokenEnv), unexpected("username_env", a.UsernameEnv), unexpected("password_env", a.PasswordEnv))
	case "basic":
		return firstError(check("username_env", a.UsernameEnv), check("password_env", a.PasswordEnv), unexpected("token_env", a.TokenEnv))
	case "":
		return errors.New(`handler_config.auth.type is required: use "bearer" (with token_env) or "basic" (with username_env and password_env)`)
	default:
		return fmt.Errorf(`handler_config.auth.type %q is unknown: use "bearer" (with token_env) or "basic" (with username_env and password_env)`, a.Type)
	}
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func exampleEnv(key string) string {
	switch key {
	case "token_env":
		return "API_TOKEN"
	case "username_env":
		return "API_USER"
	default:
		return "API_PASSWORD"
	}
}

func (t *TLS) validate() error {
	if t == nil {
		return nil
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return errors.New("handler_config.tls.cert_file and handler_config.tls.key_file go together: give both (the client certificate and its private key, PEM files) or neither")
	}
	return nil
}

// parseAuth reads handler_config.auth.
func parseAuth(v any) (*Auth, error) {
	a := &Auth{}
	err := setMembers(v, "auth", "{type: bearer, token_env: API_TOKEN}", map[string]any{
		"type": &a.Type, "token_env": &a.TokenEnv, "username_env": &a.UsernameEnv, "password_env": &a.PasswordEnv,
	}, "type, token_env, username_env, password_env")
	if err != nil {
		return nil, err
	}
	return a, nil
}

// parseTLS reads handler_config.tls.
func parseTLS(v any) (*TLS, error) {
	t := &TLS{}
	err := setMembers(v, "tls", "{ca_file: /etc/ssl/internal-ca.pem}", map[string]any{
		"ca_file": &t.CAFile, "cert_file": &t.CertFile, "key_file": &t.KeyFile, "server_name": &t.ServerName,
		"insecure_skip_verify": &t.InsecureSkipVerify,
	}, "ca_file, cert_file, key_file, server_name, insecure_skip_verify")
	if err != nil {
		return nil, err
	}
	return t, nil
}

// setMembers stores the members of v, the mapping handler_config.<section>
// (example shows one), in key order in the fields of dst: a *string takes
// a non-empty string and a *bool true or false. A member dst does not name
// is refused with the list of allowed ones.
func setMembers(v any, section, example string, dst map[string]any, allowed string) error {
	m, err := mapping(v, section, example)
	if err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		switch d := dst[k].(type) {
		case *string:
			s, ok := m[k].(string)
			if !ok || s == "" {
				return fmt.Errorf("handler_config.%s.%s must be a non-empty string", section, k)
			}
			*d = s
		case *bool:
			b, ok := m[k].(bool)
			if !ok {
				return fmt.Errorf("handler_config.%s.%s must be true or false", section, k)
			}
			*d = b
		default:
			return fmt.Errorf("handler_config.%s.%s is unknown: use %s", section, k, allowed)
		}
	}
	return nil
}

// mapping returns v as the mapping handler_config.<section>, or an error
// showing example.
func mapping(v any, section, example string) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("handler_config.%s must be a mapping such as %s", section, example)
	}
	return m, nil
}

// parseRateLimit reads handler_config.rate_limit.
func parseRateLimit(v any) (*RateLimit, error) {
	m, err := mapping(v, "rate_limit", "{requests_per_second: 5, burst: 10}")
	if err != nil {
		return nil, err
	}
	rl := &RateLimit{Burst: 1}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		switch k {
		case "requests_per_second":
			f, ok := number(m[k])
			if !ok || math.IsNaN(f) || math.IsInf(f, 0) || f < minRate {
				return nil, errors.New(rateHint)
			}
			rl.RequestsPerSecond = f
		case "burst":
			n, ok := wholeNumber(m[k])
			if !ok || n < 1 || n > math.MaxInt32 {
				return nil, errors.New("handler_config.rate_limit.burst must be a whole number of at least 1 (the default)")
			}
			rl.Burst = int(n)
		default:
			return nil, fmt.Errorf("handler_config.rate_limit.%s is unknown: use requests_per_second, burst", k)
		}
	}
	if rl.RequestsPerSecond == 0 {
		return nil, errors.New("handler_config.rate_limit.requests_per_second is required: give the host's allowed rate, such as 5 or 0.5")
	}
	return rl, nil
}

// stringMap reads headers or params: a mapping whose values are strings,
// numbers or booleans.
func stringMap(v any, key string) (map[string]string, error) {
	mm, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("handler_config.%s must be a mapping of names to strings, such as {X-Team: ops}", key)
	}
	out := make(map[string]string, len(mm))
	for _, k := range slices.Sorted(maps.Keys(mm)) {
		switch x := mm[k].(type) {
		case string:
			out[k] = x
		case bool:
			out[k] = strconv.FormatBool(x)
		case json.Number:
			if _, err := x.Float64(); err != nil {
				return nil, fmt.Errorf("handler_config.%s.%s must be a string, a number or true/false", key, k)
			}
			out[k] = x.String() // exactly as written
		default:
			f, ok := number(x)
			if !ok {
				return nil, fmt.Errorf("handler_config.%s.%s must be a string, a number or true/false", key, k)
			}
			if n, ok := wholeNumber(x); ok {
				out[k] = strconv.FormatInt(n, 10)
			} else {
				out[k] = strconv.FormatFloat(f, 'f', -1, 64)
			}
		}
	}
	return out, nil
}

func keyDuration(v any, key string) (time.Duration, error) {
	d, err := duration(v)
	if err != nil {
		return 0, fmt.Errorf("handler_config.%s: %w", key, err)
	}
	return d, nil
}

// minRate is the lowest rate limit: one request in about 17 minutes.
const minRate = 0.001

const rateHint = "handler_config.rate_limit.requests_per_second must be a number of at least 0.001 (one request in about 17 minutes), such as 5 or 0.5"

// minDuration is the shortest timeout or delay accepted.
const minDuration = time.Millisecond

func retryDelay(v any) (time.Duration, error) {
	f, ok := number(v)
	if !ok || math.IsNaN(f) || f < minDuration.Seconds() || f > 86400 {
		return 0, fmt.Errorf("handler_config.retry_delay %s must be a number of seconds from 0.001 to 86400, such as 1.0", quote(v))
	}
	return time.Duration(f * float64(time.Second)), nil
}

func boolean(v any, key string) (bool, error) {
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("handler_config.%s must be true or false", key)
	}
	return b, nil
}

func duration(v any) (time.Duration, error) {
	switch x := v.(type) {
	case string:
		d, err := time.ParseDuration(x)
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("%q is not a positive duration: use a value such as \"30s\"", x)
		}
		if d < minDuration {
			return 0, fmt.Errorf("%q is below 1ms: use a value such as \"30s\"", x)
		}
		return d, nil
	default:
		if f, ok := number(v); ok && f > 0 && f < math.MaxInt64/float64(time.Second) {
			if d := time.Duration(f * float64(time.Second)); d >= minDuration {
				return d, nil
			}
			return 0, fmt.Errorf("%v seconds is below 1ms: use a value such as \"30s\"", v)
		}
	}
	return 0, fmt.Errorf("%v is not a positive duration: use a value such as \"30s\"", v)
}

// number reads a YAML or JSON number.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// wholeNumber reads a YAML integer or a JSON number without a fraction.
func wholeNumber(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		n, err := x.Int64()
		return n, err == nil
	case int:
		return int64(x), true
	case int64:
		return x, true
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), true
		}
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x), true
		}
	}
	return 0, false
}

func quote(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

// isToken reports whether s is a non-empty HTTP token (RFC 9110), as
// methods and header names must be.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue rejects control characters other than tab.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
