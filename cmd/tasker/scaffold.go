package main

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"text/template"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/tasker-go/tasker"
)

// scaffoldFS holds the file templates of tasker init and tasker generate
// (text/template, *.tmpl so that Go tooling does not compile them).
//
//go:embed scaffold
var scaffoldFS embed.FS

const (
	// taskerModule is the module generated projects require.
	taskerModule = "github.com/tasker-go/tasker"
	// scaffoldGoVersion is the go directive of generated go.mod files: the
	// tasker module's own (TestScaffoldGoVersionIsTheModules checks it).
	scaffoldGoVersion = "1.26.0"
	// replacedVersion is the version a go.mod requires of a module it
	// replaces with a directory (what go mod tidy writes).
	replacedVersion = "v0.0.0-00010101000000-000000000000"
)

var (
	// scaffoldNameRE is the shape of template, namespace and step names
	// (the template loader's rule for template and namespace names).
	scaffoldNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)
	// goNameRE is the shape of the NAME of a generated Go file: it becomes
	// a Go identifier (CamelCase) and a file name (snake_case).
	goNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)
	// semverRE is the semver.org pattern the template loader uses.
	semverRE = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
		`(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?` +
		`(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)
	// moduleElemRE is the shape of one element of a module path.
	moduleElemRE = regexp.MustCompile(`^[A-Za-z0-9_~-][A-Za-z0-9._~-]*$`)
	// queueRE is the shape of a remote queue name.
	queueRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`)
)

// buildSuffixes are the file name suffixes (_linux, _amd64, _test) that
// make the go command build a file only in some cases.
var buildSuffixes = []string{
	"test", "aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js", "linux",
	"nacl", "netbsd", "openbsd", "plan9", "solaris", "wasip1", "windows", "zos",
	"386", "amd64", "amd64p32", "arm", "arm64", "arm64be", "armbe", "loong64", "mips", "mips64", "mips64le",
	"mips64p32", "mips64p32le", "mipsle", "ppc", "ppc64", "ppc64le", "riscv", "riscv64", "s390", "s390x",
	"sparc", "sparc64", "wasm",
}

// scaffoldFile is one file to write, relative to the target directory.
type scaffoldFile struct {
	path string
	data []byte
}

// renderScaffold executes the template scaffold/name with data; Go source
// is gofmt'ed.
func renderScaffold(name string, data any) ([]byte, error) {
	t, err := template.New(path.Base(name)).Option("missingkey=error").ParseFS(scaffoldFS, "scaffold/"+name)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return nil, err
	}
	if strings.HasSuffix(name, ".go.tmpl") {
		src, err := format.Source(buf.Bytes())
		if err != nil {
			return nil, fmt.Errorf("format %s: %w", name, err)
		}
		return src, nil
	}
	return buf.Bytes(), nil
}

// existing returns the files of files that exist in dir.
func existing(dir string, files []scaffoldFile) ([]string, error) {
	var found []string
	for _, f := range files {
		_, err := os.Lstat(filepath.Join(dir, f.path))
		switch {
		case err == nil:
			found = append(found, f.path)
		case !errors.Is(err, fs.ErrNotExist):
			return nil, err
		}
	}
	return found, nil
}

// writeScaffold writes files into dir. An existing file is an error naming
// every such file, and nothing is written, unless force.
func writeScaffold(out io.Writer, dir string, files []scaffoldFile, force bool) error {
	found, err := existing(dir, files)
	if err != nil {
		return err
	}
	if len(found) > 0 && !force {
		return refusal(dir, found)
	}
	for _, f := range files {
		p := filepath.Join(dir, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		verb := "wrote"
		if slices.Contains(found, f.path) {
			verb = "overwrote"
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s %s\n", verb, p)
	}
	return nil
}

// refusal is the error of files found existing in dir.
func refusal(dir string, found []string) error {
	return fmt.Errorf("%s already exist in %s; nothing was written: choose another name or --dir, remove them, or pass --force to overwrite them",
		strings.Join(found, ", "), dir)
}

// checkScaffoldName checks a template, namespace or step name given to
// flag (or to the NAME argument when flag is "NAME").
func checkScaffoldName(flag, name, example string) error {
	if !scaffoldNameRE.MatchString(name) {
		return fmt.Errorf("%s %q is not a valid name: use letters, digits and _ . - (not first), such as %q", flag, name, example)
	}
	return nil
}

// checkGoName checks the NAME of a generated Go file.
func checkGoName(kind, name, example string) error {
	if !goNameRE.MatchString(name) {
		return fmt.Errorf("%s NAME %q is not valid: start with a letter, then letters, digits, _ or -, such as %q", kind, name, example)
	}
	return nil
}

// goWords splits a name into its words: at _ and -, and where a lower-case
// letter or a digit meets an upper-case one (chargeCard, HTTPCall).
func goWords(name string) []string {
	var words []string
	for part := range strings.FieldsFuncSeq(name, func(r rune) bool { return r == '_' || r == '-' }) {
		rs := []rune(part)
		start := 0
		for i := 1; i < len(rs); i++ {
			lowerToUpper := (unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1])) && unicode.IsUpper(rs[i])
			acronymEnd := i+1 < len(rs) && unicode.IsUpper(rs[i-1]) && unicode.IsUpper(rs[i]) && unicode.IsLower(rs[i+1])
			if lowerToUpper || acronymEnd {
				words = append(words, string(rs[start:i]))
				start = i
			}
		}
		words = append(words, string(rs[start:]))
	}
	return words
}

// camelName is name as an exported Go identifier: charge_card → ChargeCard.
func camelName(name string) string {
	var b strings.Builder
	for _, w := range goWords(name) {
		rs := []rune(w)
		b.WriteString(strings.ToUpper(string(rs[0])) + string(rs[1:]))
	}
	return b.String()
}

// snakeName is name as a file name: chargeCard → charge_card.
func snakeName(name string) string {
	words := goWords(name)
	for i, w := range words {
		words[i] = strings.ToLower(w)
	}
	return strings.Join(words, "_")
}

// checkFileName refuses a Go file name whose last _part (such as _linux or
// _test) would make the go command build it only on some systems or only
// in tests.
func checkFileName(kind, name, file string) error {
	base := strings.TrimSuffix(file, ".go")
	i := strings.LastIndex(base, "_")
	if i < 0 || !slices.Contains(buildSuffixes, base[i+1:]) {
		return nil
	}
	when := "for " + base[i+1:]
	if base[i+1:] == "test" {
		when = "in tests"
	}
	return fmt.Errorf("%s NAME %q would make the file %s, which Go builds only %s: choose another name", kind, name, file, when)
}

// goPackage is what generate learns of the Go package in a directory.
type goPackage struct {
	name  string            // the package name ("" when there is no Go file)
	decls map[string]string // its top-level identifiers and their files
}

// readGoPackage reads the package clauses and top-level identifiers of the
// Go files in dir but skip (a missing dir is an empty package).
func readGoPackage(dir string, skip []string) (*goPackage, error) {
	pkg := &goPackage{decls: map[string]string{}}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return pkg, nil
	}
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	names := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || slices.Contains(skip, e.Name()) {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("read the Go package in %s: %w", dir, err)
		}
		name := strings.TrimSuffix(f.Name.Name, "_test")
		names[name] = true
		for _, d := range f.Decls {
			for _, id := range declNames(d) {
				pkg.decls[id] = e.Name()
			}
		}
	}
	switch len(names) {
	case 0:
	case 1:
		for n := range names {
			pkg.name = n
		}
	default:
		return nil, fmt.Errorf("the Go files in %s are of several packages (%s): give --dir a directory of one package",
			dir, strings.Join(slices.Sorted(maps.Keys(names)), ", "))
	}
	return pkg, nil
}

// declNames returns the identifiers a top-level declaration declares
// (methods excluded).
func declNames(d ast.Decl) []string {
	var names []string
	switch d := d.(type) {
	case *ast.FuncDecl:
		if d.Recv == nil {
			names = append(names, d.Name.Name)
		}
	case *ast.GenDecl:
		for _, s := range d.Specs {
			switch s := s.(type) {
			case *ast.TypeSpec:
				names = append(names, s.Name.Name)
			case *ast.ValueSpec:
				for _, n := range s.Names {
					if n.Name != "_" {
						names = append(names, n.Name)
					}
				}
			}
		}
	}
	return names
}

// packageName chooses the package of files generated into dir: flagValue
// (--package) when given, which must match the package already there; else
// the package already there; else one named after the directory.
func packageName(dir, flagValue string, pkg *goPackage) (string, error) {
	if flagValue != "" {
		if !token.IsIdentifier(flagValue) || token.IsKeyword(flagValue) {
			return "", fmt.Errorf("--package %q is not a Go package name: use a lower-case identifier, such as \"handlers\"", flagValue)
		}
		if pkg.name != "" && pkg.name != flagValue {
			return "", fmt.Errorf("--package %s: %s holds package %s already: drop --package, or choose another --dir", flagValue, dir, pkg.name)
		}
		return flagValue, nil
	}
	if pkg.name != "" {
		return pkg.name, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	name := strings.ToLower(strings.Map(func(r rune) rune {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_') {
			return r
		}
		return -1
	}, filepath.Base(abs)))
	if !token.IsIdentifier(name) || token.IsKeyword(name) {
		return "", fmt.Errorf("%s holds no Go file and its name gives no package name: give --package NAME", dir)
	}
	return name, nil
}

// generateGo renders the Go file kind (scaffold/generate/KIND.go.tmpl) and
// its test for NAME into dir.
func (a *app) generateGo(kind, name, typeName, dir, pkgFlag string, force bool) error {
	file := snakeName(typeName) + ".go"
	if kind == "handler" {
		file = snakeName(name) + ".go"
	}
	if err := checkFileName(kind, name, file); err != nil {
		return err
	}
	files := []scaffoldFile{{path: file}, {path: strings.TrimSuffix(file, ".go") + "_test.go"}}
	found, err := existing(dir, files)
	if err != nil {
		return err
	}
	if len(found) > 0 && !force {
		return refusal(dir, found)
	}
	pkg, err := readGoPackage(dir, found) // the files to overwrite do not count
	if err != nil {
		return err
	}
	pkgName, err := packageName(dir, pkgFlag, pkg)
	if err != nil {
		return err
	}
	data := map[string]string{"Package": pkgName, "Name": name, "Type": typeName}
	for i, tmpl := range []string{"generate/" + kind + ".go.tmpl", "generate/" + kind + "_test.go.tmpl"} {
		if files[i].data, err = renderScaffold(tmpl, data); err != nil {
			return err
		}
		if err := declaredAlready(kind, name, dir, files[i].data, pkg); err != nil {
			return err
		}
	}
	return writeScaffold(a.out, dir, files, force)
}

// declaredAlready refuses generated source that declares an identifier the
// package in dir declares already.
func declaredAlready(kind, name, dir string, src []byte, pkg *goPackage) error {
	f, err := parser.ParseFile(token.NewFileSet(), "", src, parser.SkipObjectResolution)
	if err != nil {
		return err
	}
	for _, d := range f.Decls {
		for _, id := range declNames(d) {
			if file, ok := pkg.decls[id]; ok {
				return fmt.Errorf("%s NAME %q declares %s, which %s declares already (in %s): choose another name", kind, name, id, dir, file)
			}
		}
	}
	return nil
}

func (a *app) generateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Write a task template, a Go step handler, an event subscriber or an API authenticator",
		Long: `Writes a starting point that builds and passes its tests (Go files) or
tasker template validate (templates). An existing file is never overwritten
without --force. See docs/scaffolding.md.`,
	}
	cmd.AddCommand(a.generateTemplateCmd(), a.generateHandlerCmd(), a.generateSubscriberCmd(), a.generateAuthenticatorCmd())
	return cmd
}

// goGenFlags are the flags of the generate commands that write Go.
type goGenFlags struct {
	dir, pkg string
	force    bool
}

func (f *goGenFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.dir, "dir", ".", "directory to write into (created if missing)")
	cmd.Flags().StringVar(&f.pkg, "package", "", "Go package name; default: the package of the Go files in --dir, else the directory's name")
	cmd.Flags().BoolVar(&f.force, "force", false, "overwrite existing files")
}

// generateGoCmd completes cmd (its Use, Short, Long and Example given) as
// the command that writes the Go file of kind (handler, subscriber,
// authenticator) and its test for NAME: typeName(NAME) is the type's name,
// and sample a valid NAME that the error of an invalid one suggests.
func (a *app) generateGoCmd(cmd *cobra.Command, kind, sample string, typeName func(string) string) *cobra.Command {
	var f goGenFlags
	cmd.Args = cobra.ExactArgs(1)
	cmd.RunE = func(_ *cobra.Command, args []string) error {
		name := args[0]
		if err := checkGoName(kind, name, sample); err != nil {
			return err
		}
		return a.generateGo(kind, name, typeName(name), f.dir, f.pkg, f.force)
	}
	f.add(cmd)
	return cmd
}

func (a *app) generateHandlerCmd() *cobra.Command {
	return a.generateGoCmd(&cobra.Command{
		Use:   "handler NAME",
		Short: "Write a Go step handler (NAME.go) and its test (NAME_test.go)",
		Long: `Writes a Go step handler registered under NAME (the name a step's handler
key uses), as the type CamelCase(NAME), and a test that runs it through a real
client on a temporary SQLite database. Register it in your program:
reg.MustRegisterHandler(<Type>HandlerName, <Type>{}).`,
		Example: "  tasker generate handler charge_card             # charge_card.go: type ChargeCard\n" +
			"  tasker generate handler charge_card --dir handlers --package handlers",
	}, "handler", "charge_card", camelName)
}

// suffixed is camelName(name) ending in suffix once.
func suffixed(name, suffix string) string {
	n := camelName(name)
	if strings.HasSuffix(n, suffix) {
		return n
	}
	return n + suffix
}

func (a *app) generateSubscriberCmd() *cobra.Command {
	return a.generateGoCmd(&cobra.Command{
		Use:   "subscriber NAME",
		Short: "Write a Go in-process event subscriber and its test",
		Long: `Writes the type <Name>Subscriber, whose Subscribe(client) has the client
call its Handle for every event matching its Patterns (Client.SubscribeFunc),
and a test that runs a task through a real client on a temporary SQLite
database and counts the events.`,
		Example: "  tasker generate subscriber audit_log   # audit_log_subscriber.go: type AuditLogSubscriber",
	}, "subscriber", "audit_log", func(name string) string { return suffixed(name, "Subscriber") })
}

func (a *app) generateAuthenticatorCmd() *cobra.Command {
	return a.generateGoCmd(&cobra.Command{
		Use:   "authenticator NAME",
		Short: "Write a Go authenticator for the REST API (taskerhttp) and its test",
		Long: `Writes the type <Name>Authenticator, a taskerauth.Authenticator for
taskerhttp.Options.Authenticator that accepts one shared key in the X-Api-Key
header (compared in constant time) as a principal with fixed permissions, and
tests that call it directly and through taskerhttp.NewHandler.`,
		Example: "  tasker generate authenticator static_key   # static_key_authenticator.go: type StaticKeyAuthenticator",
	}, "authenticator", "static_key", func(name string) string { return suffixed(name, "Authenticator") })
}

// templateStep is one step of a generated template.
type templateStep struct {
	Name, DependsOn string
}

func (a *app) generateTemplateCmd() *cobra.Command {
	var (
		steps                       []string
		namespace, version, handler string
		dir                         string
		parallel, force             bool
	)
	cmd := &cobra.Command{
		Use:   "template NAME --steps a,b,c",
		Short: "Write a task template (NAME.yaml) whose steps form a chain a → b → c",
		Long: `Writes the task template NAME whose steps, named by --steps, form a chain:
each depends on the one before (--parallel: none depends on another). Every
step uses the --handler kind, with the handler_config it needs as a
placeholder:

  exec     a command (echo of a JSON object)
  http     method and url (https://api.example.com/NAME/STEP)
  remote   the queue remote workers poll (NAME)
  go       a Go handler registered under the step's name

The file passes tasker template validate (for go: with --handler for each
step). --dir defaults to ./templates when it exists, else the current
directory.`,
		Example: "  tasker generate template order --steps validate,charge,ship\n" +
			"  tasker generate template order --steps validate,charge,ship --handler go --namespace shop --version 1.0.0",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := checkScaffoldName("template NAME", name, "process_order"); err != nil {
				return err
			}
			if err := checkScaffoldName("--namespace", namespace, "ecommerce"); err != nil {
				return err
			}
			if !semverRE.MatchString(version) {
				return fmt.Errorf("--version %q is not a semantic version: use MAJOR.MINOR.PATCH without a leading v, such as 1.0.0", version)
			}
			if !slices.Contains([]string{"exec", "http", "remote", "go"}, handler) {
				return fmt.Errorf("--handler %q is unknown: use exec, http, remote or go", handler)
			}
			if len(steps) == 0 {
				return errors.New("--steps is required: give the step names in order, such as --steps validate,charge,ship")
			}
			var list []templateStep
			for i, s := range steps {
				if err := checkScaffoldName("--steps: step", s, "charge"); err != nil {
					return err
				}
				if slices.Contains(steps[:i], s) {
					return fmt.Errorf("--steps names %q twice: step names must be unique", s)
				}
				st := templateStep{Name: s}
				if i > 0 && !parallel {
					st.DependsOn = steps[i-1]
				}
				list = append(list, st)
			}
			if !cmd.Flags().Changed("dir") {
				if info, err := os.Stat("templates"); err == nil && info.IsDir() {
					dir = "templates"
				}
			}
			file := filepath.Join(dir, name+".yaml")
			sep := " → "
			if parallel {
				sep = ", "
			}
			validate := "tasker template validate " + file
			if handler == "go" {
				validate += " --handler " + strings.Join(steps, ",")
			}
			queue := name
			if !queueRE.MatchString(queue) {
				queue = "work"
			}
			data, err := renderScaffold("generate/template.yaml.tmpl", map[string]any{
				"Name": name, "Namespace": namespace, "Version": version, "Handler": handler, "Steps": list,
				"Parallel": parallel, "Graph": strings.Join(steps, sep), "Validate": validate, "Queue": queue,
			})
			if err != nil {
				return err
			}
			// What tasker template validate does, so the file is known
			// to pass it.
			reg := tasker.NewRegistry()
			if handler == "go" {
				for _, s := range steps {
					reg.MustRegisterHandler(s, tasker.StepHandlerFunc(nil))
				}
			}
			if _, err := reg.LoadYAML(file, data, tasker.LoadOptions{}); err != nil {
				return fmt.Errorf("the generated template does not load: %w", err)
			}
			if err := writeScaffold(a.out, dir, []scaffoldFile{{path: name + ".yaml", data: data}}, force); err != nil {
				return err
			}
			fmt.Fprintf(a.out, "check it: %s\n", validate)
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&steps, "steps", nil, "step names, in order (comma-separated or repeated); each depends on the one before")
	cmd.Flags().BoolVar(&parallel, "parallel", false, "make the steps independent (they run in parallel) instead of a chain")
	cmd.Flags().StringVar(&namespace, "namespace", "default", "the template's namespace_name")
	cmd.Flags().StringVar(&version, "version", "0.1.0", "the template's version (semantic version)")
	cmd.Flags().StringVar(&handler, "handler", "exec", "the steps' handler: exec, http, remote or go")
	cmd.Flags().StringVar(&dir, "dir", ".", "directory to write NAME.yaml into; default ./templates when it exists, else .")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite an existing file")
	return cmd
}

// initData is the data of tasker init's templates.
type initData struct {
	Module, Binary, Namespace string
	GoVersion                 string
	TaskerModule              string
	TaskerVersion             string // "" when unknown and not replaced
	TaskerReplace             string
}

func (a *app) initCmd() *cobra.Command {
	var (
		module, namespace, replace string
		force                      bool
	)
	cmd := &cobra.Command{
		Use:   "init DIR",
		Short: "Write a runnable Go project: a task template, a Go handler and a program embedding a worker",
		Long: `Writes a Go project into DIR (created if missing; it must be empty unless
--force): a task template (templates/hello.yaml), a Go step handler with its
test (greet.go, greet_test.go), a main.go that runs the sample task on an
embedded SQLite database (go run .; go run . -worker only serves as a
worker), tasker.yaml (the CLI's config file format), a README and a go.mod.
Then: cd DIR && go mod tidy && go test ./... && go run .

go.mod requires github.com/tasker-go/tasker at the version this tasker was
built from. A development build has none: pass --tasker-replace with the path
of a tasker checkout (written as a replace directive), or run go get
github.com/tasker-go/tasker@latest in DIR. See docs/scaffolding.md.`,
		Example: "  tasker init myflow\n  tasker init ./myflow --module example.com/myflow --namespace shop\n" +
			"  tasker init /tmp/try --tasker-replace ~/src/tasker",
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			dir := args[0]
			p := initData{Namespace: namespace, GoVersion: scaffoldGoVersion, TaskerModule: taskerModule}
			var err error
			if p.Module, err = initModule(dir, module); err != nil {
				return err
			}
			p.Binary = path.Base(p.Module)
			if err := checkScaffoldName("--namespace", namespace, "ecommerce"); err != nil {
				return err
			}
			if replace != "" {
				if p.TaskerReplace, err = checkTaskerReplace(replace); err != nil {
					return err
				}
			}
			p.TaskerVersion = taskerVersion()
			if p.TaskerVersion == "" && p.TaskerReplace != "" {
				p.TaskerVersion = replacedVersion
			}
			files := []scaffoldFile{
				{path: "go.mod"}, {path: "main.go"}, {path: "greet.go"}, {path: "greet_test.go"},
				{path: filepath.Join("templates", "hello.yaml")}, {path: "tasker.yaml"}, {path: "README.md"}, {path: ".gitignore"},
			}
			tmpls := []string{"go.mod", "main.go", "greet.go", "greet_test.go", "hello.yaml", "tasker.yaml", "README.md", "gitignore"}
			for i := range files {
				if files[i].data, err = renderScaffold("init/"+tmpls[i]+".tmpl", p); err != nil {
					return err
				}
			}
			if err := checkInitDir(dir, files, force); err != nil {
				return err
			}
			if err := writeScaffold(a.out, dir, files, force); err != nil {
				return err
			}
			fmt.Fprintf(a.out, "\nmodule %s in %s; next:\n  cd %s\n", p.Module, dir, dir)
			if p.TaskerVersion == "" {
				fmt.Fprintf(a.out, "  go get %s@latest   # this tasker is a development build: go.mod names no tasker version\n", taskerModule)
			}
			fmt.Fprintf(a.out, "  go mod tidy        # resolves the dependencies, writes go.sum\n  go test ./...\n  go run .           # runs the sample task %s.hello\n", namespace)
			return nil
		},
	}
	cmd.Flags().StringVar(&module, "module", "", "Go module path (default: the directory's name)")
	cmd.Flags().StringVar(&namespace, "namespace", "default", "namespace_name of the sample template")
	cmd.Flags().StringVar(&replace, "tasker-replace", "", "path of a local tasker checkout: go.mod gets replace "+taskerModule+" => PATH")
	cmd.Flags().BoolVar(&force, "force", false, "write into a non-empty DIR, overwriting the files of the same names")
	return cmd
}

// initModule returns the module path: flagValue (--module), checked, or
// the name of dir.
func initModule(dir, flagValue string) (string, error) {
	if flagValue != "" {
		if err := checkModulePath(flagValue); err != nil {
			return "", fmt.Errorf("--module %q is not a valid module path: %w", flagValue, err)
		}
		return flagValue, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	name := strings.ToLower(filepath.Base(abs))
	if checkModulePath(name) != nil {
		return "", fmt.Errorf("the directory name %q is not a module path: give --module, such as --module example.com/myflow", filepath.Base(abs))
	}
	return name, nil
}

// checkModulePath checks the shape of a module path: slash-separated
// elements of letters, digits and . _ ~ -, none starting or ending with a
// dot.
func checkModulePath(p string) error {
	for elem := range strings.SplitSeq(p, "/") {
		switch {
		case elem == "":
			return errors.New("it has an empty element (a leading, trailing or double /)")
		case !moduleElemRE.MatchString(elem), strings.HasSuffix(elem, "."):
			return fmt.Errorf("the element %q may hold letters, digits and . _ ~ - only, not starting or ending with a dot", elem)
		}
	}
	return nil
}

// checkTaskerReplace returns the absolute path of a tasker checkout given
// to --tasker-replace.
func checkTaskerReplace(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	data, err := os.ReadFile(filepath.Join(abs, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("--tasker-replace %s: %w: give the root of a tasker checkout (the directory of its go.mod)", p, err)
	}
	for line := range strings.Lines(string(data)) {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
			if f[1] != taskerModule {
				return "", fmt.Errorf("--tasker-replace %s: its go.mod is module %s, not %s: give the root of a tasker checkout", p, f[1], taskerModule)
			}
			return abs, nil
		}
	}
	return "", fmt.Errorf("--tasker-replace %s: its go.mod names no module: give the root of a tasker checkout", p)
}

// checkInitDir refuses a non-empty dir unless force, naming what is there
// and which files would be overwritten.
func checkInitDir(dir string, files []scaffoldFile, force bool) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(entries) == 0) || force {
		return nil
	}
	if err != nil {
		return err
	}
	found, err := existing(dir, files)
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("%s is not empty; nothing was written: choose a new or empty directory", dir)
	if len(found) == 0 {
		var names []string
		for _, e := range entries[:min(len(entries), 5)] {
			names = append(names, e.Name())
		}
		if len(entries) > 5 {
			names = append(names, "...")
		}
		return fmt.Errorf("%s (it has %s), or pass --force to add the project's files to it", msg, strings.Join(names, ", "))
	}
	return fmt.Errorf("%s, or pass --force to write into it, overwriting %s", msg, strings.Join(found, ", "))
}

// taskerVersion is the version of the tasker module this binary was built
// from, "" for a development build.
func taskerVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	return taskerVersionOf(info)
}

// taskerVersionOf finds the tasker module's version in a build's info: the
// main module's (tasker built with go install ...@version) or a
// dependency's. A development build ((devel), a dirty tree's +dirty, a
// replaced module) has none.
func taskerVersionOf(info *debug.BuildInfo) string {
	mod := &info.Main
	if mod.Path != taskerModule {
		mod = nil
		for _, d := range info.Deps {
			if d.Path == taskerModule {
				mod = d
			}
		}
	}
	if mod == nil || mod.Replace != nil || !strings.HasPrefix(mod.Version, "v") || strings.Contains(mod.Version, "+") ||
		!semverRE.MatchString(mod.Version[1:]) {
		return ""
	}
	return mod.Version
}
