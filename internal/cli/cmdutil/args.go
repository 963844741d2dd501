package cmdutil

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// ExactArgs is cobra.ExactArgs failing as a usage error; hint says what the
// arguments are, e.g. "the target URL".
func ExactArgs(n int, hint string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		if len(args) < n {
			return FlagErrorf("%s needs %s", cmd.CommandPath(), hint)
		}
		return FlagErrorf("%s takes %d argument(s) (%s), got %d: %s",
			cmd.CommandPath(), n, hint, len(args), strings.Join(args, " "))
	}
}

// MinimumArgs is cobra.MinimumNArgs failing as a usage error.
func MinimumArgs(n int, hint string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= n {
			return nil
		}
		return FlagErrorf("%s needs %s", cmd.CommandPath(), hint)
	}
}

// NoArgs is cobra.NoArgs failing as a usage error.
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	return FlagErrorf("%s takes no arguments, got %q", cmd.CommandPath(), args[0])
}

// GroupCommand makes cmd a parent of subcommands: run bare it prints its
// help; run with an unknown subcommand it fails as a usage error (cobra
// would otherwise print help and exit 0). Use it for `loadrig load`,
// `loadrig serve` and the like.
func GroupCommand(cmd *cobra.Command) *cobra.Command {
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return c.Help()
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
		if c.SuggestionsMinimumDistance <= 0 {
			c.SuggestionsMinimumDistance = 2
		}
		if s := c.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "; did you mean " + strings.Join(s, " or ") + "?"
		}
		return FlagErrorf("%s", msg)
	}
	return cmd
}
