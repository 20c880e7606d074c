package main

// Behaviour shared by every command: unknown subcommands are errors with a
// suggestion, --version, and the output flag (-o/--output text|json, with
// --json kept as a deprecated alias).

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tasker-go/tasker/internal/dburl"
	"github.com/tasker-go/tasker/taskerdriver"
)

// rejectUnknownSubcommands makes every command that only groups others
// (tasker task, tasker events, ...) answer an unknown subcommand with an
// error and the nearest names, instead of printing its help and exiting 0.
// Without arguments such a command still prints its help.
func rejectUnknownSubcommands(cmd *cobra.Command) {
	for _, sub := range cmd.Commands() {
		rejectUnknownSubcommands(sub)
	}
	if !cmd.HasSubCommands() || cmd.Run != nil || cmd.RunE != nil || !cmd.HasParent() {
		return // the root checks its own arguments (cobra's legacy rule)
	}
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		return unknownCommand(cmd, args[0])
	}
}

// unknownCommand is the error of an unknown subcommand name under cmd.
func unknownCommand(cmd *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default, set lazily by its own lookup
	}
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	msg += "\n  its commands: " + strings.Join(names, ", ") + " (run '" + cmd.CommandPath() + " --help')"
	return &exitError{code: 2, err: fmt.Errorf("%s", msg)}
}

// version is the binary's version: the module version it was built at
// (go install ...@vX), else its VCS revision, else "devel".
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	v := bi.Main.Version
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "-dirty"
			}
		}
	}
	switch {
	case v != "" && v != "(devel)":
	case rev != "":
		v = "devel " + rev[:min(12, len(rev))] + modified
	default:
		v = "devel"
	}
	return v + " (" + bi.GoVersion + ")"
}

// anyToken describes the --token of the commands whose actions need
// permissions of their own.
const anyToken = "an API token (tasker token create) or a JWT"

// addServerFlags adds --server and --token to f; token describes the
// credential --token sends.
func (a *app) addServerFlags(f *pflag.FlagSet, token string) {
	f.StringVar(&a.s.server, "server", "", "`URL` of a running tasker serve (http://HOST:PORT): use its REST API instead of the database [$TASKER_SERVER]")
	f.StringVar(&a.s.token, "token", "", "the credential sent to --server: "+token+" [$TASKER_TOKEN]")
}

// addOutputFlag adds -o/--output text|json to f, writing to output, and
// --json, a deprecated alias of -o json (hidden from the help) kept so that
// scripts written for it still work.
func addOutputFlag(f *pflag.FlagSet, output *string) {
	f.StringVarP(output, "output", "o", "text", "output format: text or json")
	f.VarPF(jsonAlias{output}, "json", "", "the same as -o json (deprecated)").NoOptDefVal = "true"
	// Hidden rather than pflag's MarkDeprecated, whose notice goes to
	// stdout, ahead of the JSON a script reads.
	_ = f.MarkHidden("json")
}

// checkOutput returns an error for an --output other than text or json.
func checkOutput(output string) error {
	if output != "text" && output != "json" {
		return fmt.Errorf("--output %q is unknown: use text or json", output)
	}
	return nil
}

// jsonAlias is the value of --json: true sets the output to json.
type jsonAlias struct{ output *string }

func (j jsonAlias) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	if b {
		*j.output = "json"
	}
	return nil
}

func (j jsonAlias) String() string { return strconv.FormatBool(j.output != nil && *j.output == "json") }
func (j jsonAlias) Type() string   { return "bool" }

// annExistingDatabase marks the commands that only use a database that
// exists: they do not create a SQLite file or the tables of an empty
// database (see existingDatabase).
const annExistingDatabase = "tasker.existing-database"

// needExistingDatabase marks cmds with annExistingDatabase.
func needExistingDatabase(cmds ...*cobra.Command) {
	for _, c := range cmds {
		if c.Annotations == nil {
			c.Annotations = map[string]string{}
		}
		c.Annotations[annExistingDatabase] = "true"
	}
}

// wantsExistingDatabase says whether the running command is one of those.
func (a *app) wantsExistingDatabase() bool {
	return a.cmd != nil && a.cmd.Annotations[annExistingDatabase] != ""
}

// noSuchDatabase is the error of a command that reads a database that does
// not exist (yet), with the ways out.
func (a *app) noSuchDatabase(what string) error {
	return fmt.Errorf("the database %s %s: create it with `tasker migrate` (or start `tasker worker` or `tasker serve` on it), "+
		"or check --database [$TASKER_DATABASE_URL, config database]", dburl.Redact(a.s.database), what)
}

// checkDatabaseFile refuses a SQLite database file that does not exist,
// before opening it creates the file (existing-database commands only).
func (a *app) checkDatabaseFile() error {
	if !a.wantsExistingDatabase() {
		return nil
	}
	file, ok := dburl.SQLiteFile(a.s.database)
	if !ok || strings.HasPrefix(file, ":memory:") {
		return nil
	}
	if _, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) {
		abs := file
		if wd, err := os.Getwd(); err == nil && !strings.HasPrefix(file, "/") {
			abs = wd + "/" + file
		}
		return a.noSuchDatabase("does not exist (no file " + abs + ")")
	}
	return nil
}

// checkDatabaseTables refuses a database without Tasker's tables (an empty
// SQLite file, a Postgres database never migrated) instead of creating
// them (existing-database commands only). A database at an older version
// is migrated as before.
func (a *app) checkDatabaseTables(ctx context.Context, drv taskerdriver.Driver) error {
	if !a.wantsExistingDatabase() {
		return nil
	}
	v, err := drv.MigrationVersion(ctx)
	if err != nil || v > 0 {
		return err
	}
	return a.noSuchDatabase("has no Tasker tables")
}
