package version

import (
	"context"
	"fmt"

	"github.com/loadrig/loadrig/internal/cli/buildinfo"
	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/spf13/cobra"
)

// Options are the inputs of `loadrig version`.
type Options struct {
	IO        *iostreams.IOStreams // injected streams
	BuildInfo buildinfo.Info       // injected build information
	Short     bool                 // --short: print the version only; default false
}

// NewCmdVersion returns `loadrig version`. runF replaces the run function in
// tests; nil runs versionRun.
func NewCmdVersion(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, BuildInfo: f.BuildInfo}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print loadrig's version, commit and build date",
		Example: `  loadrig version
  loadrig version --short
  loadrig --version`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return versionRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Short, "short", false, "print the version only")
	return cmd
}

func versionRun(_ context.Context, opts *Options) error {
	bi := opts.BuildInfo
	if opts.Short {
		_, err := fmt.Fprintln(opts.IO.Out, bi.Version)
		return err
	}
	_, err := fmt.Fprintf(opts.IO.Out, "%s\n  go:       %s\n  platform: %s\n", bi.String(), bi.GoVersion, bi.Platform)
	return err
}
