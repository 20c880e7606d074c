package main

// TestDocsCommandsRun runs the tasker commands of the fenced shell blocks
// (sh, bash, console, and "$ " lines of plain blocks) of README.md and
// docs/*.md with the built binary, in document order, so that the docs
// cannot drift from the CLI.
//
// Each block is a new shell in a new directory, as a reader trying one
// example: the directory holds a copy of the repository's examples/ and
// clients/python/, cert.pem and key.pem (a self-signed pair for 127.0.0.1;
// SSL_CERT_FILE names it, so clients trust it), templates/ (a copy of
// examples/) and order.json where the docs use them without showing them
// (docFixtures), and the blocks of the same file marked <!-- file: PATH -->
// above it. HOME is a directory whose src/tasker is this checkout (the docs'
// ~/src/tasker). No TASKER_* or OTEL_* variable of the test's environment
// is passed on; the database is the default, sqlite://tasker.db in the
// block's directory.
//
// A line of the block is one command (a line ending in \ continues on the
// next); its parts joined by && run in order:
//   - `tasker ...` (and `go run ./cmd/tasker ...`) runs the binary through
//     /bin/sh; it must exit 0, or non-zero when the output the doc shows for
//     it has a line starting with "error:" ("$ echo $?" then checks the
//     status). The output shown after a "$ " line must be the command's
//     output (stdout and stderr), line by line, blank lines and runs of
//     spaces aside, or equal JSON when it is a JSON document; docChecks
//     holds the checks of outputs that the doc describes in prose or shows
//     as a sample.
//   - NAME=VALUE and export NAME=VALUE set a variable of the shell (VALUE
//     evaluated by sh: TOKEN=$(tasker token create ...) runs tasker), cd
//     changes its directory.
//   - a command ending with &, or one named by the block's marker
//     <!-- background: CMD; CMD... --> (the first words of the command,
//     such as "tasker serve" or "python3 clients/python/example_worker.py"),
//     runs in the background until the block ends; then it gets SIGTERM and
//     must exit 0. A `tasker serve` or `tasker worker` in the foreground
//     would never end: the block must name it in a background marker. The
//     next command starts once a `tasker serve` prints its listening line, a
//     `tasker worker` its running line.
//   - other programs in the foreground (the go toolchain of a generated
//     project, which TestScaffoldInit runs) are not run, and are counted.
//
// What the docs name but the test cannot reach is replaced, each time a
// command runs (and logged): a postgres:// URL by the SQLite database
// standin.db of the block; https://idp.example/jwks.json by a local key
// set; http://collector:4318 by a local OTLP receiver; a serve's --addr
// HOST:PORT by HOST:0 (without --addr, TASKER_ADDR=127.0.0.1:0), and then
// every http(s)://ANYHOST:PORT of the block by the address it listens on.
//
// Placeholders: a block may say, above its fence, <!-- capture: NAME=REGEXP -->
// (several markers for several names): after each command of the block,
// a match of REGEXP in its output sets NAME to the first group, and the
// word NAME in the commands that follow is replaced by that value. A block
// that needs a state it does not build itself says how with
// <!-- before: COMMAND --> (several markers run in order), run as the
// block's first commands (any program). <!-- not-runnable: REASON --> skips
// a block; every skip is counted and logged with its reason.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/internal/testio"
)

// docFixtures writes, into the directory of every block of a Markdown file,
// the files its commands use that the doc does not show.
var docFixtures = map[string]func(t *testing.T, dir string){
	"README.md": func(t *testing.T, dir string) {
		copyTree(t, examplesDir(t), filepath.Join(dir, "templates"))
		writeFixture(t, dir, "order.json", `{"customer_email": "ada@example.com", "cart_items": [{"sku": "A1", "quantity": 2, "price": 12.5}]}`)
	},
	"docs/observability.md": func(t *testing.T, dir string) {
		copyTree(t, examplesDir(t), filepath.Join(dir, "templates"))
	},
	"docs/events.md": func(t *testing.T, dir string) {
		writeFixture(t, dir, "dead-hook.yaml", `subscriptions:
  - name: ops-webhook
    type: webhook
    config: {url: "http://127.0.0.1:1/hooks/tasker", max_attempts: 1}
`)
	},
	"docs/templates.md": func(t *testing.T, dir string) {
		data, err := os.ReadFile(filepath.Join(examplesDir(t), "parallel_merge.yaml"))
		require.NoError(t, err)
		writeFixture(t, dir, "templates/parallel_merge.yaml", string(data))
		writeFixture(t, dir, "templates/checkout.yaml", `name: checkout
version: 1.0.0
step_templates:
  - name: charge
    handler: charge_card
  - name: ship
    handler: exec
    depends_on: charge
    handler_config: {command: ["true"]}
`)
		writeFixture(t, dir, "templates/report.yaml", `name: report
version: "2.0"
step_templates:
  - name: build
    handler: exec
    handler_config: {command: ["true"]}
`)
	},
}

// docCheck checks the output of a command whose doc describes it in prose
// or shows a sample of it.
type docCheck struct {
	file, command string // the Markdown file, and a part of the command as the doc writes it
	why           string
	check         func(t *testing.T, out string, shown []string, after []docBlock)
}

var docChecks = []docCheck{{
	file: "README.md", command: "task create process_order --namespace ecommerce --templates examples",
	why: "the prose says what it shows",
	check: func(t *testing.T, out string, _ []string, _ []docBlock) {
		require.Contains(t, out, "created task 1 (ecommerce.process_order@1.0.0); running its steps here")
		require.Regexp(t, `✗ process_payment +failed \(attempt 1/3, retry`, out, "the README says the payment step fails once")
		require.Regexp(t, `(?m)^task 1 ecommerce\.process_order@1\.0\.0: complete in `, out)
	},
}, {
	file: "docs/handlers.md", command: "task create echo_input",
	why: "the next block is the stdin of show_stdin, which cat makes its results",
	check: func(t *testing.T, out string, _ []string, after []docBlock) {
		var res waitedTask
		require.NoError(t, json.Unmarshal([]byte(out), &res), out)
		require.Equal(t, "complete", res.Task.Status)
		require.NotEmpty(t, after)
		for _, s := range res.Steps {
			if s.Name == "show_stdin" {
				require.JSONEq(t, after[0].text, string(s.Results), "%s: the stdin shown", after[0].where())
				return
			}
		}
		t.Fatalf("no step show_stdin in\n%s", out)
	},
}, {
	file: "docs/observability.md", command: "tasker workers",
	why:   "a sample: the header and the count line are checked; the rows are another machine's",
	check: checkSample,
}}

// checkSample checks a sample's first line as it is and its last line with
// any number in place of each number.
func checkSample(t *testing.T, out string, shown []string, _ []docBlock) {
	t.Helper()
	require.NotEmpty(t, shown)
	got := nonBlankLines(out)
	require.NotEmpty(t, got)
	assert.Equal(t, squeeze(shown[0]), squeeze(got[0]), "the first line")
	last := regexp.MustCompile(`\d+`).ReplaceAllString(regexp.QuoteMeta(squeeze(shown[len(shown)-1])), `\d+`)
	assert.Regexp(t, "^"+last+"$", squeeze(got[len(got)-1]), "the last line")
}

// docCounts counts what the test did with the docs' commands.
type docCounts struct {
	mu          sync.Mutex
	blocks      int      // blocks run to their end
	run         int      // tasker commands run in the foreground
	background  []string // commands run in the background
	bgTasker    int      // tasker commands among them
	setup       int      // commands of before markers
	notRunnable []string // blocks marked not runnable, with their reason and number of tasker commands
	skipped     []string // blocks skipped: a program they need is missing
	other       []string // commands of other programs, not run
	checked     int      // outputs compared with the doc's
}

func (c *docCounts) add(f func(c *docCounts)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(c)
}

// docRun is a shell block to run, with the files of the blocks marked
// <!-- file: PATH --> before it in its Markdown file.
type docRun struct {
	block docBlock
	files map[string]string
	after []docBlock // the blocks that follow in the file
}

func TestDocsCommandsRun(t *testing.T) {
	bin := e2eBinary(t)
	env := newDocEnv(t, bin)
	var runs []docRun
	files := map[string]map[string]string{}
	blocks := docBlocks(t)
	for i, b := range blocks {
		if paths := b.markerValues("file"); len(paths) > 0 {
			if files[b.file] == nil {
				files[b.file] = map[string]string{}
			}
			for _, p := range paths {
				files[b.file][p] = b.text
			}
		}
		if !isShellBlock(b) || !b.hasCommands() {
			continue
		}
		if reason, ok := b.notRunnable(); ok {
			require.NotEmpty(t, reason, "%s: a not-runnable marker gives its reason", b.where())
			env.counts.notRunnable = append(env.counts.notRunnable, fmt.Sprintf("%s (%d tasker commands): %s", b.where(), len(docCommands(b.text, b.lang == "")), reason))
			continue
		}
		var after []docBlock
		for _, a := range blocks[i+1:] {
			if a.file == b.file {
				after = append(after, a)
			}
		}
		runs = append(runs, docRun{block: b, files: maps.Clone(files[b.file]), after: after})
	}
	t.Run("blocks", func(t *testing.T) {
		for _, r := range runs {
			t.Run(r.block.where(), func(t *testing.T) {
				t.Parallel()
				env.runBlock(t, r)
			})
		}
	})
	c := env.counts
	for _, l := range [][]string{c.background, c.notRunnable, c.skipped, c.other} {
		slices.Sort(l)
	}
	t.Logf("%d of %d blocks run: %d tasker commands in the foreground, %d in the background (and %d other programs), "+
		"%d outputs compared with the docs, %d setup commands of before markers",
		c.blocks, len(runs), c.run, c.bgTasker, len(c.background)-c.bgTasker, c.checked, c.setup)
	t.Logf("%d commands in the background:\n\t%s", len(c.background), strings.Join(c.background, "\n\t"))
	t.Logf("%d blocks marked not runnable:\n\t%s", len(c.notRunnable), strings.Join(c.notRunnable, "\n\t"))
	t.Logf("%d blocks skipped:\n\t%s", len(c.skipped), strings.Join(c.skipped, "\n\t"))
	t.Logf("%d commands of other programs, not run:\n\t%s", len(c.other), strings.Join(c.other, "\n\t"))
	if c.blocks == len(runs) { // not when -run chose some
		for _, chk := range docChecks {
			assert.True(t, env.usedChecks[chk.file+"\x00"+chk.command], "docChecks: no command of %s contains %q", chk.file, chk.command)
		}
	}
	require.Positive(t, c.run)
}

func isShellBlock(b docBlock) bool {
	return b.lang == "sh" || b.lang == "bash" || b.lang == "console" || b.lang == ""
}

// hasCommands says whether a shell block holds a tasker command (or names
// one in a marker).
func (b docBlock) hasCommands() bool {
	if len(b.markerValues("before")) > 0 || len(b.markerValues("background")) > 0 {
		return true
	}
	for _, l := range docScript(b) {
		if strings.Contains(" "+rewriteGoRun(l.text), " tasker ") || strings.Contains(l.text, "$(tasker ") {
			return true
		}
	}
	return false
}

// docLine is a command of a block and the output the doc shows for it.
type docLine struct {
	text   string // continuation lines joined, without "$ "
	line   int    // in the Markdown file
	output []string
}

// docScript returns the commands of a shell block: in a plain block only
// the "$ " lines, each with the lines after it as its output.
func docScript(b docBlock) []docLine {
	promptOnly := b.lang == ""
	var out []docLine
	lines := strings.Split(strings.TrimSuffix(b.text, "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if promptOnly && !strings.HasPrefix(line, "$ ") {
			if len(out) > 0 {
				out[len(out)-1].output = append(out[len(out)-1].output, line)
			}
			continue
		}
		start := i
		text := strings.TrimPrefix(line, "$ ")
		for strings.HasSuffix(text, "\\") && i+1 < len(lines) {
			i++
			text = strings.TrimSuffix(text, "\\") + " " + strings.TrimSpace(lines[i])
		}
		text = strings.TrimSpace(text)
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		out = append(out, docLine{text: text, line: b.line + 1 + start})
	}
	return out
}

func rewriteGoRun(s string) string {
	return strings.ReplaceAll(s, "go run ./cmd/tasker ", "tasker ")
}

// docEnv is what the blocks share: the binary, the stand-in services, the
// certificate and the counts.
type docEnv struct {
	bin        string
	jwks, otlp string // URLs of the local stand-ins
	cert, key  []byte
	counts     *docCounts
	mu         sync.Mutex
	usedChecks map[string]bool
}

func newDocEnv(t *testing.T, bin string) *docEnv {
	t.Helper()
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"keys": []}`)
	}))
	t.Cleanup(jwks.Close)
	otlp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(otlp.Close)
	dir := t.TempDir()
	writePair(t, filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), 1, time.Now())
	cert, err := os.ReadFile(filepath.Join(dir, "cert.pem"))
	require.NoError(t, err)
	key, err := os.ReadFile(filepath.Join(dir, "key.pem"))
	require.NoError(t, err)
	return &docEnv{bin: bin, jwks: jwks.URL + "/jwks.json", otlp: otlp.URL, cert: cert, key: key,
		counts: &docCounts{}, usedChecks: map[string]bool{}}
}

func writeFixture(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
}

// copyTree copies the regular files of src into dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	require.NoError(t, filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		writeFixture(t, dst, filepath.ToSlash(rel), string(data))
		return nil
	}))
}

// docShell is the shell of one block.
type docShell struct {
	t       *testing.T
	env     *docEnv
	run     docRun
	dir     string // the block's directory
	cwd     string
	base    []string          // the environment
	vars    map[string]string // set by the block (exported or not: both reach its commands)
	capture map[string]*regexp.Regexp
	values  map[string]string // captured placeholders
	served  map[string]string // doc port → base URL of a serve started by the block
	bg      []*docProc
	status  int // of the last command
}

func (e *docEnv) runBlock(t *testing.T, r docRun) {
	dir := t.TempDir()
	copyTree(t, examplesDir(t), filepath.Join(dir, "examples"))
	for _, f := range []string{"tasker_worker.py", "example_worker.py"} {
		data, err := os.ReadFile(filepath.Join(repoRoot(t), "clients", "python", f))
		require.NoError(t, err)
		writeFixture(t, dir, "clients/python/"+f, string(data))
	}
	writeFixture(t, dir, "cert.pem", string(e.cert))
	writeFixture(t, dir, "key.pem", string(e.key))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "home", "src"), 0o755))
	require.NoError(t, os.Symlink(repoRoot(t), filepath.Join(dir, "home", "src", "tasker")))
	if f := docFixtures[r.block.file]; f != nil {
		f(t, dir)
	}
	for p, text := range r.files {
		writeFixture(t, dir, p, text)
	}
	s := &docShell{t: t, env: e, run: r, dir: dir, cwd: dir, vars: map[string]string{}, capture: map[string]*regexp.Regexp{},
		values: map[string]string{}, served: map[string]string{}}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "TASKER_") && !strings.HasPrefix(k, "OTEL_") && k != "HOME" && k != "PATH" && k != "SSL_CERT_FILE" {
			s.base = append(s.base, kv)
		}
	}
	s.base = append(s.base, "PATH="+filepath.Dir(e.bin)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"HOME="+filepath.Join(dir, "home"), "SSL_CERT_FILE="+filepath.Join(dir, "cert.pem"), "TASKER_ADDR=127.0.0.1:0",
		"PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1")
	for _, c := range r.block.markerValues("capture") {
		name, expr, ok := strings.Cut(c, "=")
		require.True(t, ok, "%s: <!-- capture: NAME=REGEXP -->", r.block.where())
		s.capture[name] = regexp.MustCompile(expr)
	}
	t.Cleanup(s.kill)
	t.Cleanup(func() {
		if t.Skipped() {
			s.count(func(c *docCounts) { c.skipped = append(c.skipped, r.block.where()) })
		}
	})
	s.lookPrograms()
	for _, c := range r.block.markerValues("before") {
		s.line(docLine{text: c, line: r.block.line - 1}, true)
	}
	for _, l := range docScript(r.block) {
		s.line(l, false)
		if t.Failed() {
			break
		}
	}
	s.stop()
	s.count(func(c *docCounts) { c.blocks++ })
}

// lookPrograms skips the block when a program it runs besides tasker (in
// the background, or in a variable's $( )) is missing; python3 is required
// with TASKER_TEST_REQUIRE_PYTHON=1.
func (s *docShell) lookPrograms() {
	progs := map[string]bool{}
	for _, b := range s.run.block.markerValues("background") {
		if f := strings.Fields(b); len(f) > 0 && f[0] != "tasker" {
			progs[f[0]] = true
		}
	}
	for _, l := range docScript(s.run.block) {
		for _, m := range regexp.MustCompile(`\$\((\w+)`).FindAllStringSubmatch(l.text, -1) {
			if m[1] != "tasker" {
				progs[m[1]] = true
			}
		}
		toks := shTokens(rewriteGoRun(l.text))
		if n := len(toks); n > 0 && toks[n-1].text == "&" {
			k := 0
			for k < n-1 && assignRe.MatchString(toks[k].text) {
				k++
			}
			if k < n-1 && toks[k].text != "tasker" {
				progs[toks[k].text] = true
			}
		}
	}
	for p := range progs {
		req := ""
		if p == "python3" {
			req = "TASKER_TEST_REQUIRE_PYTHON"
		}
		lookTool(s.t, p, req)
	}
}

func (s *docShell) environ() []string {
	env := slices.Clone(s.base)
	for k, v := range s.vars {
		env = append(env, k+"="+v)
	}
	return env
}

// shToken is a word or an operator (&&, &, ;, |, ||) of a shell line.
type shToken struct {
	text       string
	start, end int
	op         bool
}

// shTokens splits a line into words and operators; quotes and $( ) belong
// to their word, and a # that begins a word begins a comment.
func shTokens(s string) []shToken {
	var toks []shToken
	for i := 0; i < len(s); {
		switch c := s[i]; c {
		case ' ', '\t':
			i++
		case '#':
			return toks
		case '&', '|', ';':
			j := i + 1
			if c != ';' && j < len(s) && s[j] == c {
				j++
			}
			toks = append(toks, shToken{text: s[i:j], start: i, end: j, op: true})
			i = j
		default:
			j := shWordEnd(s, i)
			toks = append(toks, shToken{text: s[i:j], start: i, end: j})
			i = j
		}
	}
	return toks
}

func shWordEnd(s string, i int) int {
	depth := 0
	for i < len(s) {
		switch c := s[i]; {
		case c == '\\':
			i += 2
			continue
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return len(s)
			}
			i += j + 2
			continue
		case c == '"':
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			i = j + 1
			continue
		case c == '$' && i+1 < len(s) && s[i+1] == '(':
			depth++
			i += 2
			continue
		case c == ')' && depth > 0:
			depth--
		case depth == 0 && (c == ' ' || c == '\t' || c == '&' || c == '|' || c == ';'):
			return i
		}
		i++
	}
	return min(i, len(s))
}

var (
	assignRe      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)
	postgresURLRe = regexp.MustCompile(`postgres://[^\s'")]+`)
	addrFlagRe    = regexp.MustCompile(`--addr[ =]([^\s'"]*):(\d+)`)
	workerReadyRe = regexp.MustCompile(`^tasker worker running on `)
)

// line runs one line of the block.
func (s *docShell) line(l docLine, setup bool) {
	text := rewriteGoRun(l.text)
	toks := shTokens(text)
	background := false
	if n := len(toks); n > 0 && toks[n-1].op && toks[n-1].text == "&" {
		background = true
		toks = toks[:n-1]
	}
	var parts [][]shToken
	cur := []shToken{}
	for _, tok := range toks {
		if tok.op && tok.text == "&&" {
			parts = append(parts, cur)
			cur = []shToken{}
			continue
		}
		cur = append(cur, tok)
	}
	parts = append(parts, cur)
	where := fmt.Sprintf("%s:%d", s.run.block.file, l.line)
	for i, p := range parts {
		if len(p) == 0 {
			continue
		}
		last := i == len(parts)-1
		raw := text[p[0].start:p[len(p)-1].end]
		var shown []string
		if last {
			shown = l.output
		}
		if !s.part(where, l.text, raw, p, background && last, shown, setup) {
			return
		}
	}
}

// part runs a simple command (or a pipeline) and says whether the line goes
// on.
func (s *docShell) part(where, docText, raw string, toks []shToken, background bool, shown []string, setup bool) bool {
	t := s.t
	k := 0
	for k < len(toks) && !toks[k].op && assignRe.MatchString(toks[k].text) {
		k++
	}
	prog := ""
	if k < len(toks) {
		prog = toks[k].text
	}
	switch {
	case prog == "" || prog == "export":
		assigns := toks[:k]
		if prog == "export" {
			assigns = toks[k+1:]
		}
		for _, a := range assigns {
			s.assign(where, a.text)
		}
		return !t.Failed()
	case prog == "cd":
		require.Len(t, toks, 2, "%s: cd DIR", where)
		s.cwd = filepath.Join(s.cwd, s.substitute(toks[1].text))
		require.DirExists(t, s.cwd, where)
		return true
	case prog == "echo" && len(toks) == 2 && toks[1].text == "$?":
		require.NotEmpty(t, shown, "%s: echo $? shows the status", where)
		assert.Equal(t, strings.TrimSpace(shown[0]), strconv.Itoa(s.status), "%s: the exit status of the command before", where)
		s.count(func(c *docCounts) { c.checked++ })
		return true
	}
	isTasker := prog == "tasker"
	if !background && !setup {
		for _, b := range s.run.block.markerValues("background") {
			if s.names(toks[k:], b) {
				background = true
			}
		}
	}
	if isTasker && !background && len(toks) > k+1 {
		if sub := s.subcommand(toks[k+1:]); sub == "serve" || sub == "worker" {
			t.Errorf("%s: tasker %s runs until stopped: name it in a <!-- background: tasker %s --> marker above the block", where, sub, sub)
			return false
		}
	}
	if !isTasker && !background && !setup {
		s.count(func(c *docCounts) { c.other = append(c.other, where+": "+raw) })
		return true
	}
	for name := range s.capture {
		if _, ok := s.values[name]; !ok && regexp.MustCompile(`\b`+regexp.QuoteMeta(name)+`\b`).MatchString(raw) {
			t.Errorf("%s: %s: no output of the commands before matched the capture of %s", where, raw, name)
			return false
		}
	}
	cmdText := s.substitute(raw)
	if isTasker {
		cmdText = s.serveAddr(cmdText, toks[k+1:])
	}
	switch {
	case setup:
		s.count(func(c *docCounts) { c.setup++ })
	case isTasker && background:
		s.count(func(c *docCounts) { c.bgTasker++ })
	case isTasker:
		s.count(func(c *docCounts) { c.run++ })
	}
	if background {
		docPort := "8080" // serve's default
		if m := addrFlagRe.FindStringSubmatch(raw); m != nil {
			docPort = m[2]
		}
		s.start(where, cmdText, toks, k, isTasker, docPort)
		return !t.Failed()
	}
	s.checkFor(docText)
	out, status := s.exec(cmdText)
	s.status = status
	s.captureFrom(out)
	t.Logf("%s: %s (exit %d)", where, cmdText, status)
	wantFail := false
	for _, l := range shown {
		wantFail = wantFail || strings.HasPrefix(l, "error:")
	}
	if wantFail {
		if !assert.NotZero(t, status, "%s: %s: the doc shows an error\n%s", where, cmdText, out) {
			return false
		}
	} else if !assert.Zero(t, status, "%s: %s\n%s", where, cmdText, out) {
		return false
	}
	s.checkOutput(where, docText, out, shown)
	return !t.Failed()
}

// names says whether the command toks is the one a background marker
// names (its first words; "tasker serve" names a serve whatever its
// global flags).
func (s *docShell) names(toks []shToken, marker string) bool {
	want := strings.Fields(marker)
	if len(want) == 0 || want[0] != toks[0].text {
		return false
	}
	if want[0] == "tasker" && len(want) == 2 {
		return s.subcommand(toks[1:]) == want[1]
	}
	if len(toks) < len(want) {
		return false
	}
	for i, w := range want {
		if toks[i].text != w {
			return false
		}
	}
	return true
}

// subcommand returns the first word of a tasker command line that is no
// flag nor a flag's value.
func (s *docShell) subcommand(toks []shToken) string {
	var args []string
	for _, tok := range toks {
		if tok.op {
			break
		}
		args = append(args, tok.text)
	}
	cmd, _, err := newRoot(io.Discard, io.Discard).Find(args)
	if err != nil || cmd.Parent() == nil {
		return ""
	}
	for cmd.Parent().Parent() != nil {
		cmd = cmd.Parent()
	}
	return cmd.Name()
}

// assign evaluates NAME=VALUE with sh and sets the variable.
func (s *docShell) assign(where, word string) {
	t := s.t
	name, value, ok := strings.Cut(word, "=")
	require.True(t, ok, "%s: %s", where, word)
	value = s.substitute(value)
	if strings.Contains(value, "$(tasker ") {
		s.count(func(c *docCounts) { c.run++ })
	}
	out, status := s.execStdout(fmt.Sprintf("%s=%s; s=$?; printf '%%s' \"$%s\"; exit $s", name, value, name))
	t.Logf("%s: %s=%s (exit %d)", where, name, value, status)
	require.Zero(t, status, "%s: %s\n%s", where, word, out)
	s.vars[name] = out
	s.captureFrom(out)
}

// substitute replaces what the docs name but the test cannot reach, and
// the captured placeholders.
func (s *docShell) substitute(text string) string {
	text = postgresURLRe.ReplaceAllString(text, "sqlite://"+filepath.Join(s.dir, "standin.db"))
	text = strings.ReplaceAll(text, "https://idp.example/jwks.json", s.env.jwks)
	text = strings.ReplaceAll(text, "http://collector:4318", s.env.otlp)
	for port, base := range s.served {
		text = regexp.MustCompile(`https?://[A-Za-z0-9.\-]+:`+port+`\b`).ReplaceAllString(text, base)
	}
	for name, v := range s.values {
		text = regexp.MustCompile(`\b`+regexp.QuoteMeta(name)+`\b`).ReplaceAllString(text, v)
	}
	return text
}

// serveAddr makes a serve listen on a free port: HOST:PORT of --addr
// becomes HOST:0.
func (s *docShell) serveAddr(text string, args []shToken) string {
	if s.subcommand(args) != "serve" {
		return text
	}
	return addrFlagRe.ReplaceAllString(text, "--addr $1:0")
}

func (s *docShell) captureFrom(out string) {
	for name, re := range s.capture {
		if m := re.FindStringSubmatch(out); len(m) > 1 {
			s.values[name] = m[1]
		}
	}
}

func (s *docShell) count(f func(c *docCounts)) { s.env.counts.add(f) }

// exec runs a command with sh and returns its output (stdout and stderr as
// they came) and its exit status.
func (s *docShell) exec(text string) (string, int) {
	var out bytes.Buffer
	return s.execTo(text, &out, &out)
}

// execStdout is exec that returns stdout only.
func (s *docShell) execStdout(text string) (string, int) {
	var out, errOut bytes.Buffer
	got, status := s.execTo(text, &out, &errOut)
	if status != 0 {
		return got + errOut.String(), status
	}
	return got, status
}

func (s *docShell) execTo(text string, stdout, stderr *bytes.Buffer) (string, int) {
	t := s.t
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", text)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = s.cwd, s.environ(), stdout, stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), 0
	case errors.As(err, &ee) && ctx.Err() == nil:
		return stdout.String(), ee.ExitCode()
	default:
		t.Fatalf("%s: %v\n%s", text, err, stdout.String())
		return "", -1
	}
}

// checkFor returns the docCheck of a command, if any, and notes its use.
func (s *docShell) checkFor(docText string) *docCheck {
	for i, c := range docChecks {
		if c.file == s.run.block.file && strings.Contains(docText, c.command) {
			s.env.mu.Lock()
			s.env.usedChecks[c.file+"\x00"+c.command] = true
			s.env.mu.Unlock()
			return &docChecks[i]
		}
	}
	return nil
}

// checkOutput compares a command's output with what the doc shows.
func (s *docShell) checkOutput(where, docText, out string, shown []string) {
	t := s.t
	if c := s.checkFor(docText); c != nil {
		t.Logf("%s: output checked by docChecks (%s)", where, c.why)
		c.check(t, out, nonBlank(shown), s.run.after)
		s.count(func(c *docCounts) { c.checked++ })
		return
	}
	want := nonBlank(shown)
	if len(want) == 0 {
		return
	}
	s.count(func(c *docCounts) { c.checked++ })
	doc := strings.Join(want, "\n")
	if json.Valid([]byte(doc)) {
		assert.JSONEq(t, doc, out, "%s: the output the doc shows", where)
		return
	}
	got := nonBlankLines(out)
	for i := range want {
		want[i] = squeeze(want[i])
	}
	assert.Equal(t, strings.Join(want, "\n"), strings.Join(got, "\n"), "%s: the output the doc shows (blank lines and runs of spaces aside)", where)
}

func nonBlank(lines []string) []string {
	var out []string
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// nonBlankLines returns the non-blank lines of out, each squeezed.
func nonBlankLines(out string) []string {
	var got []string
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) != "" {
			got = append(got, squeeze(l))
		}
	}
	return got
}

var spacesRe = regexp.MustCompile(`[ \t]+`)

func squeeze(s string) string { return strings.TrimSpace(spacesRe.ReplaceAllString(s, " ")) }

// docProc is a command of a block running in the background.
type docProc struct {
	text   string
	tasker bool
	cmd    *exec.Cmd
	stdout lineWriter
	stderr testio.Buffer
	exited chan struct{}
	err    error
}

func (p *docProc) output() string { return p.stdout.buf.String() + p.stderr.String() }

// lineWriter keeps what is written and calls line with each complete line.
type lineWriter struct {
	buf     testio.Buffer
	partial []byte
	line    func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	_, _ = w.buf.Write(p)
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		if w.line != nil {
			w.line(string(w.partial[:i]))
		}
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}

// start runs a command in the background (exec'd by sh, so that it gets
// the signals) and waits until a serve listens or a worker runs; docPort
// is the port the doc's serve listens on.
func (s *docShell) start(where, text string, toks []shToken, k int, isTasker bool, docPort string) {
	t := s.t
	// "NAME=V ... exec PROGRAM ARGS": the assignments apply to the program.
	raw := "exec " + text
	if k > 0 {
		if i := strings.Index(text, " "+toks[k].text); i >= 0 {
			raw = text[:i] + " exec" + text[i:]
		}
	}
	sub := ""
	if isTasker {
		sub = s.subcommand(toks[k+1:])
	}
	ready := make(chan string, 1)
	p := &docProc{text: text, tasker: isTasker, exited: make(chan struct{})}
	p.stdout.line = func(l string) {
		if (sub == "serve" && listeningRe.MatchString(l)) || (sub == "worker" && workerReadyRe.MatchString(l)) {
			select {
			case ready <- l:
			default:
			}
		}
	}
	p.cmd = exec.Command("/bin/sh", "-c", raw)
	p.cmd.Dir, p.cmd.Env, p.cmd.Stdout, p.cmd.Stderr = s.cwd, s.environ(), &p.stdout, &p.stderr
	require.NoError(t, p.cmd.Start())
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	s.bg = append(s.bg, p)
	s.count(func(c *docCounts) { c.background = append(c.background, where+": "+text) })
	t.Logf("%s: %s & (pid %d)", where, text, p.cmd.Process.Pid)
	if sub != "serve" && sub != "worker" {
		return
	}
	select {
	case l := <-ready:
		if m := listeningRe.FindStringSubmatch(l); m != nil {
			base := m[1]
			for _, all := range []string{"0.0.0.0", "[::]"} {
				base = strings.Replace(base, "//"+all+":", "//127.0.0.1:", 1)
			}
			s.served[docPort] = base
			t.Logf("%s: the doc's port %s is %s", where, docPort, base)
		}
	case <-p.exited:
		t.Fatalf("%s: %s exited before it was ready: %v\n%s", where, text, p.err, p.output())
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: %s printed no ready line in 30s\n%s", where, text, p.output())
	}
}

// stop ends the background commands, newest first: each gets SIGTERM and
// must exit 0 (or, for another program than tasker, on the signal).
func (s *docShell) stop() {
	t := s.t
	for i := len(s.bg) - 1; i >= 0; i-- {
		p := s.bg[i]
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.exited:
			case <-time.After(60 * time.Second):
				t.Errorf("%s did not exit within 60s of SIGTERM\n%s", p.text, p.output())
				_ = p.cmd.Process.Kill()
				<-p.exited
				continue
			}
		}
		var ee *exec.ExitError
		ok := p.err == nil
		if !ok && !p.tasker && errors.As(p.err, &ee) {
			ws, isWS := ee.Sys().(syscall.WaitStatus)
			ok = isWS && ws.Signaled() && ws.Signal() == syscall.SIGTERM
		}
		assert.True(t, ok, "%s: exit %v after SIGTERM\n%s", p.text, p.err, p.output())
		if t.Failed() {
			t.Logf("%s:\n%s", p.text, p.output())
		}
	}
	s.bg = nil
}

// kill ends what stop did not (a failed block).
func (s *docShell) kill() {
	for _, p := range s.bg {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		s.t.Logf("%s:\n%s", p.text, p.output())
	}
}
