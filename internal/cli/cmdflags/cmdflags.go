package cmdflags

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/loadrig/loadrig/internal/cli/loadcmd"
	"github.com/loadrig/loadrig/internal/cli/serve"
	"github.com/loadrig/loadrig/internal/profile"
)

// Sections are the command groups a profile configures.
const (
	Serve = "serve"
	Load  = "load"
)

// Tree returns a fresh `loadrig SECTION` command tree over f, standalone
// (not under the root: no LOADRIG_* environment or --config binding, so
// a profile means the same everywhere), silent, with usage errors wrapped
// as the root wraps them.
func Tree(f *cmdutil.Factory, section string) *cobra.Command {
	var cmd *cobra.Command
	switch section {
	case Serve:
		cmd = serve.NewCmdServe(f)
	case Load:
		cmd = loadcmd.NewCmdLoad(f)
	default:
		panic("cmdflags: unknown section " + section)
	}
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cmdutil.FlagErrorWrap(err) })
	cmd.SetOut(f.IOStreams.Out)
	cmd.SetErr(f.IOStreams.ErrOut)
	return cmd
}

// Commands implements profile.Flags over the real commands.
type Commands struct {
	getenv func(string) string
	trees  map[string]*cobra.Command // for lookups only; checks build fresh trees
}

// New returns the commands' flags. getenv is given to the commands'
// factory (they read no environment when standalone; nil is fine).
func New(getenv func(string) string) *Commands {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	c := &Commands{getenv: getenv, trees: map[string]*cobra.Command{}}
	for _, s := range []string{Serve, Load} {
		c.trees[s] = Tree(c.factory(), s)
	}
	return c
}

func (c *Commands) factory() *cmdutil.Factory {
	ios := iostreams.System(strings.NewReader(""), io.Discard, io.Discard, c.getenv)
	return cmdutil.NewFactory(ios, c.getenv)
}

func sub(tree *cobra.Command, kind string) *cobra.Command {
	for _, s := range tree.Commands() {
		if s.Name() == kind {
			return s
		}
	}
	return nil
}

// Kinds lists section's subcommands.
func (c *Commands) Kinds(section string) []string {
	var out []string
	for _, s := range c.trees[section].Commands() {
		if s.IsAvailableCommand() {
			out = append(out, s.Name())
		}
	}
	return out
}

// Lookup returns the type of a long flag of section kind.
func (c *Commands) Lookup(section, kind, name string) (string, bool) {
	s := sub(c.trees[section], kind)
	if s == nil {
		return "", false
	}
	fl := s.Flags().Lookup(name)
	if fl == nil || fl.Hidden {
		return "", false
	}
	return fl.Value.Type(), true
}

// Names lists section kind's long flags.
func (c *Commands) Names(section, kind string) []string {
	s := sub(c.trees[section], kind)
	if s == nil {
		return nil
	}
	var out []string
	s.Flags().VisitAll(func(f *pflag.Flag) {
		if !f.Hidden {
			out = append(out, f.Name)
		}
	})
	return out
}

// Check parses args through section kind's flag set, each flag on its own
// (so a bad value is pinned to its flag), then runs the command's own
// validation in a dry run.
func (c *Commands) Check(section, kind string, args []string) error {
	tree := Tree(c.factory(), section)
	cmd := sub(tree, kind)
	if cmd == nil {
		return fmt.Errorf("loadrig %s %s does not exist in this build", section, kind)
	}
	var flagNames []string
	for _, a := range args {
		name, val, ok := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !ok || !strings.HasPrefix(a, "--") {
			continue // the positional argument
		}
		flagNames = append(flagNames, name)
		if err := cmd.Flags().Set(name, val); err != nil {
			return &profile.OptionError{Flag: name, Err: fmt.Errorf("%s: %v", name, unwrap(err))}
		}
	}
	tree = Tree(c.factory(), section)
	tree.SetArgs(append([]string{kind}, args...))
	ctx, cancel := context.WithCancel(cmdutil.WithDryRun(context.Background()))
	cancel() // nothing may dial out while checking
	err := tree.ExecuteContext(ctx)
	var fe *cmdutil.FlagError
	switch {
	case err == nil, errors.Is(err, cmdutil.ErrDryRun):
		return nil
	case !errors.As(err, &fe):
		return nil // needs the target (e.g. gRPC reflection): checked when it runs
	}
	msg := err.Error()
	// Pin the message to the first flag it names.
	best, at := "", len(msg)+1
	for _, n := range flagNames {
		if i := strings.Index(msg, "--"+n); i >= 0 && i < at {
			best, at = n, i
		}
	}
	if best != "" {
		return &profile.OptionError{Flag: best, Err: errors.New(msg)}
	}
	return errors.New(msg)
}

func unwrap(err error) string {
	s := err.Error()
	// pflag: `invalid argument "x" for "--rate" flag: strconv.ParseFloat: parsing "x": invalid syntax`
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.Contains(s, "strconv.") {
		s = s[:strings.Index(s, " flag:")+5]
	}
	return s
}

var _ profile.Flags = (*Commands)(nil)
