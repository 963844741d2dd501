package examples

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/loadrig/loadrig/profiles"
)

// Options are the inputs of `loadrig examples`.
type Options struct {
	IO   *iostreams.IOStreams // injected streams
	Name string               // the argument: the example to print
}

// NewCmdExamples returns `loadrig examples NAME`.
func NewCmdExamples(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	names := profiles.ExampleNames()
	cmd := &cobra.Command{
		Use:   "examples NAME",
		Short: "Print a ready CI workflow or Kubernetes Job that uses loadrig",
		Long: `Print an example to adapt:

  github-actions    a workflow: install loadrig, restore the baseline results,
                    'loadrig run ci --repeat 6', 'loadrig diff', upload the
                    results and the HTML report, fail on a regression (exit 3)
  k8s-indexed-job   an Indexed Job running one load test as N shards
                    (--shard $(JOB_COMPLETION_INDEX)/N) on a shared volume,
                    then a Job that merges them and checks thresholds`,
		Example: `  loadrig examples github-actions > .github/workflows/loadrig.yml
  loadrig examples k8s-indexed-job > loadrig-job.yaml`,
		Args:      cmdutil.ExactArgs(1, "an example name: "+strings.Join(names, ", ")),
		ValidArgs: names,
		RunE: func(_ *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return examplesRun(opts)
		},
	}
	return cmd
}

func examplesRun(o *Options) error {
	b, ok := profiles.Example(o.Name)
	if !ok {
		return cmdutil.FlagErrorf("no example %q; choose from %s", o.Name, strings.Join(profiles.ExampleNames(), ", "))
	}
	_, err := o.IO.Out.Write(b)
	return err
}
