package main

// The docs cannot drift: every fenced YAML block of README.md and docs/*.md
// loads (a template, a subscriptions file or the config file), and every
// tasker command in a fenced shell block names a command and flags that
// exist, and runs (TestDocsCommandsRun, docs_exec_test.go). A block that is
// a fragment on purpose says so with <!-- not-runnable: REASON --> above its
// fence, and is counted, not silently skipped.

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/tasker-go/tasker"
	"github.com/tasker-go/tasker/taskersub"
)

// docBlock is one fenced block of a Markdown file.
type docBlock struct {
	file   string
	line   int    // of the opening fence
	lang   string // yaml, sh, ...
	text   string
	marker string // the comment on the line before the fence, if any
	// markers are the comment lines right above the fence, nearest last
	// (<!-- KIND: VALUE -->, see markerValues).
	markers []string
}

func (b docBlock) where() string { return b.file + ":" + strconv.Itoa(b.line) }

var markerRe = regexp.MustCompile(`^<!--\s*([a-z-]+):?\s*(.*?)\s*-->$`)

// docBlocks returns the fenced blocks of README.md and docs/*.md.
func docBlocks(t *testing.T) []docBlock {
	t.Helper()
	root := filepath.Join("..", "..")
	files, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	require.NoError(t, err)
	files = append([]string{filepath.Join(root, "README.md")}, files...)
	var blocks []docBlock
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		lines := strings.Split(string(data), "\n")
		rel, _ := filepath.Rel(root, f)
		for i := 0; i < len(lines); i++ {
			if !strings.HasPrefix(lines[i], "```") {
				continue
			}
			b := docBlock{file: rel, line: i + 1, lang: strings.TrimSpace(strings.TrimPrefix(lines[i], "```"))}
			if i > 0 {
				b.marker = strings.TrimSpace(lines[i-1])
			}
			for j := i - 1; j >= 0 && markerRe.MatchString(strings.TrimSpace(lines[j])); j-- {
				b.markers = append([]string{strings.TrimSpace(lines[j])}, b.markers...)
			}
			var body []string
			for i++; i < len(lines) && !strings.HasPrefix(lines[i], "```"); i++ {
				body = append(body, lines[i])
			}
			b.text = strings.Join(body, "\n") + "\n"
			blocks = append(blocks, b)
		}
	}
	return blocks
}

// notRunnable returns the reason of a block's not-runnable marker.
func (b docBlock) notRunnable() (string, bool) {
	v := b.markerValues("not-runnable")
	if len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// markerValues returns the values of the block's markers of a kind: the
// VALUE of each <!-- KIND: VALUE -->, split at ";" for background.
func (b docBlock) markerValues(kind string) []string {
	var out []string
	for _, line := range b.markers {
		m := markerRe.FindStringSubmatch(line)
		if m == nil || m[1] != kind {
			continue
		}
		if kind != "background" {
			out = append(out, m[2])
			continue
		}
		for _, v := range strings.Split(m[2], ";") {
			if v = strings.TrimSpace(v); v != "" {
				out = append(out, v)
			}
		}
	}
	return out
}

func TestDocsYAMLBlocksLoad(t *testing.T) {
	t.Parallel()
	var loaded, fragments int
	for _, b := range docBlocks(t) {
		if b.lang != "yaml" {
			continue
		}
		if reason, ok := b.notRunnable(); ok {
			require.NotEmpty(t, reason, "%s: a not-runnable marker gives its reason", b.where())
			fragments++
			continue
		}
		var top map[string]any
		var list []any
		if yaml.Unmarshal([]byte(b.text), &top) != nil {
			if !assert.NoError(t, yaml.Unmarshal([]byte(b.text), &list), "%s: the block is neither a map nor a list", b.where()) {
				continue
			}
		}
		text := b.text
		switch {
		case strings.HasPrefix(b.marker, "<!-- same-as:"):
			m := markerRe.FindStringSubmatch(b.marker)
			require.NotNil(t, m, b.where())
			data, err := os.ReadFile(filepath.Join("..", "..", strings.Fields(m[2])[0]))
			require.NoError(t, err, b.where())
			file := string(data)
			for strings.HasPrefix(file, "#") { // the file's header comments
				_, file, _ = strings.Cut(file, "\n")
			}
			assert.Equal(t, file, b.text, "%s: the block is %s as it is", b.where(), m[2])
			loadDocTemplate(t, b, text)
		case strings.HasPrefix(b.marker, "<!-- config-keys:"):
			file := filepath.Join(t.TempDir(), "tasker.yaml")
			require.NoError(t, os.WriteFile(file, []byte(text), 0o600))
			_, err := readConfigFile(file)
			assert.NoError(t, err, b.where())
		case top["subscriptions"] != nil:
			file := filepath.Join(t.TempDir(), "subs.yaml")
			require.NoError(t, os.WriteFile(file, []byte(text), 0o600))
			_, err := taskersub.Load(file)
			assert.NoError(t, err, b.where())
		case list != nil: // steps: a template's step_templates
			loadDocTemplate(t, b, "name: doc_example\nstep_templates:\n"+indent(text))
		case top["step_templates"] != nil:
			if top["name"] == nil {
				text = "name: doc_example\n" + text
			}
			loadDocTemplate(t, b, text)
		default:
			t.Errorf("%s: a YAML block that is no template, subscriptions file or config file: make it one, or mark it <!-- not-runnable: REASON -->", b.where())
		}
		loaded++
	}
	t.Logf("%d YAML blocks loaded, %d marked not runnable", loaded, fragments)
	require.Positive(t, loaded)
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ") + "\n"
}

// loadDocTemplate loads a template of the docs; its Go handlers (charge_card
// and such) are the program's, so unknown handlers are accepted.
func loadDocTemplate(t *testing.T, b docBlock, text string) {
	t.Helper()
	reg := tasker.NewRegistry()
	_, err := reg.LoadYAML(b.where(), []byte(text), tasker.LoadOptions{
		RegisterOptions: tasker.RegisterOptions{AllowUnknownHandlers: true},
		LookupEnv:       func(string) (string, bool) { return "x", true },
		Warn:            func(*tasker.TemplateError) {},
	})
	assert.NoError(t, err, "%s:\n%s", b.where(), text)
}

// docCommands returns the tasker commands of a shell block: continuation
// lines joined, "$ " prompts and "go run ./cmd/tasker" turned into
// "tasker", trailing comments and "&" dropped.
func docCommands(text string, promptOnly bool) []string {
	var cmds []string
	var cur string
	for line := range strings.Lines(text) {
		line = strings.TrimRight(line, "\n")
		if strings.HasSuffix(line, "\\") {
			cur += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		line = strings.TrimSpace(cur + line)
		cur = ""
		if promptOnly && !strings.HasPrefix(line, "$ ") {
			continue // a block of text, output or a diagram: only "$ tasker ..." lines are commands
		}
		line = strings.TrimPrefix(line, "$ ")
		line = strings.Replace(line, "go run ./cmd/tasker ", "tasker ", 1)
		if !strings.HasPrefix(line, "tasker ") {
			continue
		}
		cmds = append(cmds, line)
	}
	return cmds
}

// shellWords splits a command line as sh would for plain words and quotes;
// it stops at a comment, "&", "|", ";" or a redirection.
func shellWords(s string) []string {
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' || c == '"': // to the closing quote of the same kind
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				j = len(s) - i - 1
			}
			w.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case !inWord && (c == '#' || c == '&' || c == '|' || c == ';' || c == '>' || c == '<'):
			return words
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// synopsisRe matches the words of a usage synopsis (DIR|FILE..., [--x]).
var synopsisRe = regexp.MustCompile(`[\[\]|]|\.\.\.`)

func TestDocsCommandsExist(t *testing.T) {
	t.Parallel()
	var checked int
	for _, b := range docBlocks(t) {
		if b.lang != "sh" && b.lang != "bash" && b.lang != "console" && b.lang != "" {
			continue
		}
		if _, ok := b.notRunnable(); ok {
			continue
		}
		for _, line := range docCommands(b.text, b.lang == "") {
			args := shellWords(line)[1:]
			synopsis := false
			for _, a := range args {
				synopsis = synopsis || synopsisRe.MatchString(a)
			}
			root := newRoot(io.Discard, io.Discard)
			cmd, rest, err := root.Find(args)
			if !assert.NoError(t, err, "%s: %s", b.where(), line) {
				continue
			}
			if cmd.HasSubCommands() && len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
				t.Errorf("%s: %s: %q is no command of %q", b.where(), line, rest[0], cmd.CommandPath())
			}
			if !synopsis {
				assert.NoError(t, cmd.ParseFlags(rest), "%s: %s: a flag of the docs is not the command's", b.where(), line)
			}
			checked++
		}
	}
	t.Logf("%d commands checked", checked)
	require.Positive(t, checked)
}
