package cli

import (
	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/compare"
	"github.com/loadrig/loadrig/internal/cli/completion"
	"github.com/loadrig/loadrig/internal/cli/demo"
	"github.com/loadrig/loadrig/internal/cli/diff"
	"github.com/loadrig/loadrig/internal/cli/examples"
	"github.com/loadrig/loadrig/internal/cli/loadcmd"
	"github.com/loadrig/loadrig/internal/cli/merge"
	"github.com/loadrig/loadrig/internal/cli/profilescmd"
	"github.com/loadrig/loadrig/internal/cli/report"
	runcmd "github.com/loadrig/loadrig/internal/cli/run"
	"github.com/loadrig/loadrig/internal/cli/serve"
	"github.com/loadrig/loadrig/internal/cli/version"
	"github.com/spf13/cobra"
)

// NewCmdRoot returns the loadrig command tree for one invocation.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "loadrig <command> [flags]",
		Short: "Load generator with reference servers to aim it at",
		Long: `loadrig drives load at a target (HTTP, and more protocols as they land) and
reports latency truthfully: in the open model every operation has an intended
start, and latency is measured from it, so stalls are not hidden.

Every flag can also come from the environment (LOADRIG_<FLAG>, dashes as
underscores, e.g. LOADRIG_MAX_INFLIGHT) or from a --config file (YAML, JSON
or TOML, keys are flag names). A flag on the command line wins over the
environment, which wins over the config file.

Exit codes: 0 ok, 1 error, 2 usage or bad input, 3 threshold breached,
130 interrupted.`,
		Example: `  # measure an HTTP endpoint at 500 requests/s for 10 s
  loadrig load http --rate 500 -d 10s http://127.0.0.1:8080/hello

  # render a saved result
  loadrig report result.json`,
		Version:       f.BuildInfo.Version,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return f.BindFlags(cmd)
		},
	}
	cmdutil.GroupCommand(root)
	root.SetVersionTemplate(f.BuildInfo.String() + "\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cmdutil.FlagErrorWrap(err) })
	root.CompletionOptions.DisableDefaultCmd = true
	root.PersistentFlags().String(cmdutil.ConfigFlag, "", "config file (YAML, JSON or TOML; keys are flag names); also $LOADRIG_CONFIG")

	// Register commands here, one line each: root.AddCommand(yourpkg.NewCmdX(f, nil)).
	// A parent command (like `load`) owns its subcommands; add `load grpc` in
	// loadcmd.NewCmdLoad. Do not define PersistentPreRunE in a subcommand: the
	// root's resolves env and config values for every command.
	root.AddCommand(version.NewCmdVersion(f, nil))
	root.AddCommand(completion.NewCmdCompletion(f, nil))
	root.AddCommand(loadcmd.NewCmdLoad(f))
	root.AddCommand(report.NewCmdReport(f, nil))
	root.AddCommand(merge.NewCmdMerge(f, nil))
	root.AddCommand(serve.NewCmdServe(f))
	root.AddCommand(demo.NewCmdDemo(f, nil))
	root.AddCommand(runcmd.NewCmdRun(f, nil))
	root.AddCommand(compare.NewCmdCompare(f, nil))
	root.AddCommand(profilescmd.NewCmdProfiles(f, nil))
	root.AddCommand(examples.NewCmdExamples(f, nil))
	root.AddCommand(diff.NewCmdDiff(f, nil))

	return root
}
