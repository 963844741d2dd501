package completion

import (
	"context"
	"fmt"
	"slices"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/spf13/cobra"
)

// Shells are the supported shells.
var Shells = []string{"bash", "zsh", "fish", "powershell"}

// Options are the inputs of `loadrig completion`.
type Options struct {
	IO    *iostreams.IOStreams // injected streams
	Root  *cobra.Command       // the command tree to complete; set at run time
	Shell string               // the argument: bash, zsh, fish or powershell
}

// NewCmdCompletion returns `loadrig completion SHELL`. runF replaces the run
// function in tests; nil runs completionRun.
func NewCmdCompletion(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: `Print a completion script for your shell to stdout. Load it in the current
shell, or save it where your shell loads completions from.`,
		Example: `  # bash, current shell
  source <(loadrig completion bash)
  # bash, permanently (Debian/Ubuntu)
  loadrig completion bash > /etc/bash_completion.d/loadrig
  # zsh
  loadrig completion zsh > "${fpath[1]}/_loadrig"
  # fish
  loadrig completion fish > ~/.config/fish/completions/loadrig.fish
  # PowerShell
  loadrig completion powershell | Out-String | Invoke-Expression`,
		ValidArgs: Shells,
		Args:      cmdutil.ExactArgs(1, "a shell: bash, zsh, fish or powershell"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Shell = args[0]
			opts.Root = cmd.Root()
			if !slices.Contains(Shells, opts.Shell) {
				return cmdutil.FlagErrorf("unknown shell %q; use bash, zsh, fish or powershell", opts.Shell)
			}
			if runF != nil {
				return runF(opts)
			}
			return completionRun(cmd.Context(), opts)
		},
	}
	return cmd
}

func completionRun(_ context.Context, opts *Options) error {
	w := opts.IO.Out
	switch opts.Shell {
	case "bash":
		return opts.Root.GenBashCompletionV2(w, true)
	case "zsh":
		return opts.Root.GenZshCompletion(w)
	case "fish":
		return opts.Root.GenFishCompletion(w, true)
	case "powershell":
		return opts.Root.GenPowerShellCompletionWithDesc(w)
	}
	return fmt.Errorf("unknown shell %q", opts.Shell)
}
