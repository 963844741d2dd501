package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/spf13/cobra"
)

// ExitCode is the process exit status of one invocation.
type ExitCode int

// Exit codes (ARCHITECTURE.md convention 1).
const (
	ExitOK          ExitCode = 0   // success
	ExitError       ExitCode = 1   // the command failed
	ExitUsage       ExitCode = 2   // usage error or bad input
	ExitThreshold   ExitCode = 3   // a threshold or regression check failed
	ExitInterrupted ExitCode = 130 // stopped by SIGINT/SIGTERM
)

// Main runs loadrig with args (without the program name) and returns the
// exit code. ctx is canceled on SIGINT/SIGTERM by main; nothing below
// installs signal handlers.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) ExitCode {
	ios := iostreams.System(stdin, stdout, stderr, getenv)
	f := cmdutil.NewFactory(ios, getenv)
	root := NewCmdRoot(f)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	return exitCode(ctx, cmd, err, stderr)
}

// exitCode maps an error to an exit code and prints it: the one place that
// does either.
func exitCode(ctx context.Context, cmd *cobra.Command, err error, stderr io.Writer) ExitCode {
	if err == nil {
		return ExitOK
	}
	var (
		flagErr   *cmdutil.FlagError
		threshErr *cmdutil.ThresholdError
		silentErr *cmdutil.SilentError
	)
	switch {
	case errors.Is(err, cmdutil.ErrInterrupted):
		fmt.Fprintln(stderr, "loadrig: interrupted")
		return ExitInterrupted
	case errors.As(err, &flagErr):
		msg := oneLine(flagErr.Error())
		path := "loadrig"
		if cmd != nil {
			path = cmd.CommandPath()
		}
		fmt.Fprintf(stderr, "loadrig: %s (see '%s --help')\n", msg, path)
		return ExitUsage
	case ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, ctx.Err())):
		fmt.Fprintln(stderr, "loadrig: interrupted")
		return ExitInterrupted
	case errors.As(err, &threshErr):
		fmt.Fprintf(stderr, "loadrig: %s\n", oneLine(threshErr.Error()))
		return ExitThreshold
	case errors.As(err, &silentErr):
		return ExitError
	}
	fmt.Fprintf(stderr, "loadrig: %s\n", oneLine(err.Error()))
	return ExitError
}

// oneLine folds a multi-line message onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
