package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker"
)

// repoRoot is the root of the tasker checkout (tests run in cmd/tasker):
// the --tasker-replace of generated projects.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	return root
}

// runGo runs the go command in dir and returns its output. It shares the
// user's module and build caches, sets GOFLAGS=-mod=mod (so that go.sum is
// written) and GOWORK=off, and passes no TASKER_* variable (a generated
// program reads $TASKER_DATABASE_URL).
func runGo(t *testing.T, dir string, args ...string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	require.NoError(t, err, "the scaffolding tests need the go command on the PATH")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "TASKER_") && k != "GOFLAGS" && k != "GOWORK" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go %s in %s:\n%s", strings.Join(args, " "), dir, out)
	return string(out)
}

// initProject runs tasker init into a new directory with --tasker-replace
// pointing at this checkout, and returns the directory.
func initProject(t *testing.T, args ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "hello-flow")
	out := mustRun(t, append([]string{"init", dir, "--tasker-replace", repoRoot(t)}, args...)...)
	require.Contains(t, out, "wrote "+filepath.Join(dir, "go.mod"))
	require.Contains(t, out, "go mod tidy")
	return dir
}

func readString(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(data)
}

// TestScaffoldInit generates a project, checks its templates and config
// with the CLI, then vets, tests and runs it with the go command.
func TestScaffoldInit(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds, tests and runs a generated project (slow); runs without -short")
	}
	dir := initProject(t, "--module", "example.com/hello-flow", "--namespace", "demo")

	goMod := readString(t, filepath.Join(dir, "go.mod"))
	require.Contains(t, goMod, "module example.com/hello-flow\n")
	require.Contains(t, goMod, "\ngo "+scaffoldGoVersion+"\n")
	require.Contains(t, goMod, "\nreplace "+taskerModule+" => "+repoRoot(t)+"\n")
	for _, f := range []string{"main.go", "greet.go", "greet_test.go", "templates/hello.yaml", "tasker.yaml", "README.md", ".gitignore"} {
		require.FileExists(t, filepath.Join(dir, f))
	}

	// tasker.yaml is a config file of the CLI (unknown keys are errors
	// there), and the template passes validate with its Go handler named.
	out := mustRun(t, "--config", filepath.Join(dir, "tasker.yaml"), "template", "validate", filepath.Join(dir, "templates"), "--handler", "greet")
	require.Contains(t, out, "ok  demo.hello@0.1.0 (3 steps)")
	out, _, err := run(t, "template", "validate", filepath.Join(dir, "templates"))
	require.Error(t, err, "without --handler greet")
	require.Contains(t, out, `handler "greet" is not registered`)

	runGo(t, dir, "mod", "tidy")
	runGo(t, dir, "vet", "./...")
	out = runGo(t, dir, "test", "-count=1", "-v", "./...")
	require.Contains(t, out, "--- PASS: TestHello ")
	out = runGo(t, dir, "run", ".", "-name", "Ada")
	require.Contains(t, out, "task 1 demo.hello@0.1.0: complete")
	require.Contains(t, out, `{"message":"Hello, Ada!"}`)
}

// TestScaffoldGenerateGo generates each kind of Go file into a project made
// by init (package main, found from its files) and a handler into a new
// package, then vets and tests the module.
func TestScaffoldGenerateGo(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and tests generated code (slow); runs without -short")
	}
	dir := initProject(t)
	require.Contains(t, readString(t, filepath.Join(dir, "go.mod")), "module hello-flow\n")

	out := mustRun(t, "generate", "handler", "charge_card", "--dir", dir)
	require.Contains(t, out, "wrote "+filepath.Join(dir, "charge_card.go"))
	require.Contains(t, out, "wrote "+filepath.Join(dir, "charge_card_test.go"))
	mustRun(t, "generate", "subscriber", "audit_log", "--dir", dir)
	mustRun(t, "generate", "authenticator", "static_key", "--dir", dir)
	billing := filepath.Join(dir, "billing")
	mustRun(t, "generate", "handler", "sendInvoice", "--dir", billing, "--package", "billing")
	mustRun(t, "generate", "subscriber", "BillingEvents", "--dir", billing) // package billing, from the handler's files

	require.Contains(t, readString(t, filepath.Join(dir, "charge_card.go")), "package main\n")
	require.Contains(t, readString(t, filepath.Join(dir, "audit_log_subscriber.go")), "type AuditLogSubscriber struct")
	require.Contains(t, readString(t, filepath.Join(dir, "static_key_authenticator.go")), "subtle.ConstantTimeCompare")
	require.Contains(t, readString(t, filepath.Join(billing, "send_invoice.go")), "package billing\n")
	require.Contains(t, readString(t, filepath.Join(billing, "send_invoice.go")), `const SendInvoiceHandlerName = "sendInvoice"`)
	require.FileExists(t, filepath.Join(billing, "billing_events_subscriber_test.go"))

	runGo(t, dir, "mod", "tidy")
	runGo(t, dir, "vet", "./...")
	out = runGo(t, dir, "test", "-count=1", "-v", "./...")
	for _, test := range []string{
		"TestChargeCard", "TestChargeCardWithoutID", "TestAuditLogSubscriber", "TestStaticKeyAuthenticatorAuthenticate",
		"TestStaticKeyAuthenticatorServer", "TestSendInvoice", "TestBillingEventsSubscriber", "TestHello",
	} {
		require.Contains(t, out, "--- PASS: "+test+" ", "go test output:\n%s", out)
	}
}

// TestScaffoldGenerateTemplate generates a template of every handler kind,
// chained and parallel, and validates it with the CLI.
func TestScaffoldGenerateTemplate(t *testing.T) {
	t.Parallel()
	for _, handler := range []string{"exec", "http", "remote", "go"} {
		for _, parallel := range []bool{false, true} {
			dir := t.TempDir()
			args := []string{"generate", "template", "order", "--steps", "validate,charge", "--steps", "ship",
				"--handler", handler, "--namespace", "shop", "--version", "1.2.0", "--dir", dir}
			if parallel {
				args = append(args, "--parallel")
			}
			file := filepath.Join(dir, "order.yaml")
			out := mustRun(t, args...)
			require.Contains(t, out, "wrote "+file)

			validate := []string{"template", "validate", dir}
			if handler == "go" {
				_, _, err := run(t, validate...)
				require.Error(t, err, "the Go handlers are unknown to the CLI")
				validate = append(validate, "--handler", "validate,charge,ship")
			}
			require.Contains(t, mustRun(t, validate...), "ok  shop.order@1.2.0 (3 steps)")

			tmpl, err := tasker.ParseTemplate(file, []byte(readString(t, file)), tasker.LoadOptions{})
			require.NoError(t, err)
			require.Len(t, tmpl.Steps, 3)
			for i, s := range tmpl.Steps {
				require.Equal(t, []string{"validate", "charge", "ship"}[i], s.Name)
				switch {
				case parallel || i == 0:
					require.Empty(t, s.DependsOn, "step %s", s.Name)
				default:
					require.Equal(t, []string{tmpl.Steps[i-1].Name}, s.DependsOn, "step %s", s.Name)
				}
				if handler == "go" {
					require.Equal(t, s.Name, s.Handler)
				} else {
					require.Equal(t, handler, s.Handler)
				}
			}
		}
	}
}

func TestScaffoldInitRefusesNonEmptyDir(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o600))
	_, _, err := run(t, "init", dir, "--module", "example.com/x", "--tasker-replace", root)
	require.ErrorContains(t, err, "is not empty")
	require.ErrorContains(t, err, "notes.txt")
	require.ErrorContains(t, err, "--force")
	require.NoFileExists(t, filepath.Join(dir, "go.mod"))

	dir = t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o600))
	_, _, err = run(t, "init", dir, "--module", "example.com/x", "--tasker-replace", root)
	require.ErrorContains(t, err, "overwriting main.go")
	require.Equal(t, "package main\n", readString(t, filepath.Join(dir, "main.go")))
	require.NoFileExists(t, filepath.Join(dir, "go.mod"))

	out := mustRun(t, "init", dir, "--module", "example.com/x", "--tasker-replace", root, "--force")
	require.Contains(t, out, "overwrote "+filepath.Join(dir, "main.go"))
	require.Contains(t, readString(t, filepath.Join(dir, "main.go")), "func registerHandlers")
	require.Equal(t, "mine", readString(t, filepath.Join(dir, "notes.txt")))
}

func TestScaffoldGenerateRefusesOverwrite(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"generate", "handler", "charge"},
		{"generate", "subscriber", "audit"},
		{"generate", "authenticator", "static_key"},
		{"generate", "template", "order", "--steps", "a,b"},
	} {
		dir := filepath.Join(t.TempDir(), "gen")
		args = append(args, "--dir", dir)
		mustRun(t, args...)
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
			require.NoError(t, os.WriteFile(filepath.Join(dir, e.Name()), []byte("edited"), 0o600))
		}
		_, _, err = run(t, args...)
		require.ErrorContains(t, err, strings.Join(names, ", ")+" already exist in "+dir, "tasker %s", strings.Join(args, " "))
		require.ErrorContains(t, err, "--force")
		for _, n := range names {
			require.Equal(t, "edited", readString(t, filepath.Join(dir, n)))
		}
		out := mustRun(t, append(args, "--force")...)
		require.Contains(t, out, "overwrote ")
		for _, n := range names {
			require.NotEqual(t, "edited", readString(t, filepath.Join(dir, n)))
		}
	}
}

func TestScaffoldBadNames(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	declared := filepath.Join(t.TempDir(), "declared")
	require.NoError(t, os.Mkdir(declared, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(declared, "x.go"), []byte("package main\n\ntype ChargeCard struct{}\n"), 0o600))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"init", filepath.Join(t.TempDir(), "x"), "--module", "bad module"}, `--module "bad module" is not a valid module path`},
		{[]string{"init", filepath.Join(t.TempDir(), "x"), "--module", "example.com//x"}, "--module"},
		{[]string{"init", filepath.Join(t.TempDir(), "my flow")}, "give --module"},
		{[]string{"init", filepath.Join(t.TempDir(), "x"), "--namespace", "a b"}, `--namespace "a b" is not a valid name`},
		{[]string{"init", filepath.Join(t.TempDir(), "x"), "--tasker-replace", t.TempDir()}, "--tasker-replace"},
		{[]string{"init", filepath.Join(t.TempDir(), "x"), "--tasker-replace", filepath.Join(root, "cmd", "tasker")}, "give the root of a tasker checkout"},
		{[]string{"generate", "template", "bad name", "--steps", "a"}, `template NAME "bad name" is not a valid name`},
		{[]string{"generate", "template", "t"}, "--steps is required"},
		{[]string{"generate", "template", "t", "--steps", "a,a"}, `--steps names "a" twice`},
		{[]string{"generate", "template", "t", "--steps", "a,b c"}, `--steps: step "b c" is not a valid name`},
		{[]string{"generate", "template", "t", "--steps", "a", "--version", "v1"}, `--version "v1" is not a semantic version`},
		{[]string{"generate", "template", "t", "--steps", "a", "--namespace", "x/y"}, "--namespace"},
		{[]string{"generate", "template", "t", "--steps", "a", "--handler", "ruby"}, `--handler "ruby" is unknown: use exec, http, remote or go`},
		{[]string{"generate", "handler", "1charge"}, `handler NAME "1charge" is not valid`},
		{[]string{"generate", "handler", "sync_linux"}, "which Go builds only for linux"},
		{[]string{"generate", "handler", "charge_test"}, "which Go builds only in tests"},
		{[]string{"generate", "handler", "charge", "--package", "1x"}, `--package "1x" is not a Go package name`},
		{[]string{"generate", "handler", "charge", "--package", "func"}, "--package"},
		{[]string{"generate", "handler", "charge_card", "--dir", declared}, "declares ChargeCard, which " + declared + " declares already (in x.go)"},
		{[]string{"generate", "handler", "charge", "--dir", declared, "--package", "other"}, "holds package main already"},
		{[]string{"generate", "subscriber", "audit.log"}, `subscriber NAME "audit.log" is not valid`},
		{[]string{"generate", "authenticator", "key/x"}, `authenticator NAME "key/x" is not valid`},
	} {
		args := tc.args
		if args[0] == "generate" && !strings.Contains(strings.Join(args, " "), "--dir") {
			args = append(args, "--dir", filepath.Join(t.TempDir(), "gen"))
		}
		_, _, err := run(t, args...)
		require.ErrorContains(t, err, tc.want, "tasker %s", strings.Join(args, " "))
	}
}

func TestScaffoldGoNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, camel, snake string }{
		{"charge", "Charge", "charge"},
		{"charge_card", "ChargeCard", "charge_card"},
		{"charge-card", "ChargeCard", "charge_card"},
		{"chargeCard", "ChargeCard", "charge_card"},
		{"HTTPCall", "HTTPCall", "http_call"},
		{"step2Go", "Step2Go", "step2_go"},
	} {
		require.Equal(t, tc.camel, camelName(tc.name), tc.name)
		require.Equal(t, tc.snake, snakeName(tc.name), tc.name)
	}
	require.Equal(t, "AuditSubscriber", suffixed("audit", "Subscriber"))
	require.Equal(t, "AuditSubscriber", suffixed("audit_subscriber", "Subscriber"))
}

// TestScaffoldGoVersionIsTheModules: generated go.mod files have the go
// directive of the tasker module, which they require.
func TestScaffoldGoVersionIsTheModules(t *testing.T) {
	t.Parallel()
	goMod := readString(t, filepath.Join(repoRoot(t), "go.mod"))
	require.Contains(t, goMod, "\ngo "+scaffoldGoVersion+"\n")
}

func TestScaffoldTaskerVersionOf(t *testing.T) {
	t.Parallel()
	main := func(v string) *debug.BuildInfo {
		return &debug.BuildInfo{Main: debug.Module{Path: taskerModule, Version: v}}
	}
	require.Equal(t, "v1.4.0", taskerVersionOf(main("v1.4.0")))
	require.Equal(t, "v0.3.1-0.20261201120000-abcdefabcdef", taskerVersionOf(main("v0.3.1-0.20261201120000-abcdefabcdef")))
	require.Empty(t, taskerVersionOf(main("(devel)")))
	require.Empty(t, taskerVersionOf(main("")))
	require.Empty(t, taskerVersionOf(main("v0.3.1-0.20261201120000-abcdefabcdef+dirty")))

	dep := &debug.BuildInfo{Main: debug.Module{Path: "example.com/app", Version: "(devel)"},
		Deps: []*debug.Module{{Path: "example.com/other", Version: "v9.0.0"}, {Path: taskerModule, Version: "v1.2.3"}}}
	require.Equal(t, "v1.2.3", taskerVersionOf(dep))
	dep.Deps[1].Replace = &debug.Module{Path: "../tasker"}
	require.Empty(t, taskerVersionOf(dep))
	require.Empty(t, taskerVersionOf(&debug.BuildInfo{Main: debug.Module{Path: "example.com/app", Version: "v1.0.0"}}))
}

// TestScaffoldInitWithoutVersion: a development build without
// --tasker-replace writes a go.mod without a tasker requirement and says
// how to add one.
func TestScaffoldInitWithoutVersion(t *testing.T) {
	t.Parallel()
	if taskerVersion() != "" {
		t.Skip("this test binary has a tasker version")
	}
	dir := filepath.Join(t.TempDir(), "x")
	out := mustRun(t, "init", dir)
	require.Contains(t, out, "go get "+taskerModule+"@latest")
	goMod := readString(t, filepath.Join(dir, "go.mod"))
	require.Equal(t, "module x\n\ngo "+scaffoldGoVersion+"\n", goMod)
}
