package profilescmd

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/loadrig/loadrig/internal/cli/cmdflags"
	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/loadrig/loadrig/internal/cli/runner"
	"github.com/loadrig/loadrig/internal/profile"
	"github.com/loadrig/loadrig/profiles"
)

// Options are the inputs of `loadrig profiles`.
type Options struct {
	IO     *iostreams.IOStreams // injected streams
	Getenv func(string) string  // injected environment
	Action string               // list, show or validate
	Arg    string               // the profile name (show) or file (validate)
}

// NewCmdProfiles returns `loadrig profiles` with list, show and validate.
func NewCmdProfiles(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "profiles <list|show|validate>",
		Short: "List, show and validate profiles",
		Long: `A profile is a YAML file: named servers (options are the flags of
'loadrig serve KIND'), variants or a matrix of them, and workloads that run at
once (options are the flags of 'loadrig load PROTOCOL'), with warm-up, repeat
and thresholds. 'loadrig run' and 'loadrig compare' run them; these ship
built in.`,
		Example: `  loadrig profiles list
  loadrig profiles show cache-compare > my.yaml
  loadrig profiles validate my.yaml`,
	}
	cmdutil.GroupCommand(cmd)
	mk := func(use, short, example string, args cobra.PositionalArgs) *cobra.Command {
		action, _, _ := strings.Cut(use, " ")
		return &cobra.Command{
			Use: use, Short: short, Args: args, Example: "  " + example,
			RunE: func(c *cobra.Command, a []string) error {
				opts := &Options{IO: f.IOStreams, Getenv: f.Getenv, Action: action}
				if len(a) > 0 {
					opts.Arg = a[0]
				}
				if runF != nil {
					return runF(opts)
				}
				return profilesRun(c.Context(), opts)
			},
		}
	}
	cmd.AddCommand(mk("list", "List the built-in profiles", "loadrig profiles list", cmdutil.NoArgs))
	cmd.AddCommand(mk("show NAME", "Print a built-in profile's YAML", "loadrig profiles show ci", cmdutil.ExactArgs(1, "a built-in profile name, e.g. loadrig profiles show ci")))
	cmd.AddCommand(mk("validate FILE", "Check a profile (file or built-in name) without running it", "loadrig profiles validate my.yaml", cmdutil.ExactArgs(1, "a profile file, e.g. loadrig profiles validate my.yaml")))
	return cmd
}

func profilesRun(_ context.Context, o *Options) error {
	out := o.IO.Out
	switch o.Action {
	case "list":
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tVARIANTS\tDESCRIPTION")
		for _, n := range profiles.Names() {
			data, file, _ := profiles.Get(n)
			s, err := profile.ParseSpec(file, data, nil)
			if err != nil {
				return fmt.Errorf("built-in %s: %w", n, err)
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\n", n, len(s.Variants), firstSentence(s.Description))
		}
		return tw.Flush()
	case "show":
		data, _, ok := profiles.Get(o.Arg)
		if !ok {
			return cmdutil.FlagErrorf("no built-in profile %q; built-ins: %s", o.Arg, strings.Join(profiles.Names(), ", "))
		}
		_, err := out.Write(data)
		return err
	case "validate":
		s, err := runner.LoadSpec(o.Arg, cmdflags.New(o.Getenv))
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s: ok — profile %s, %d variant(s): %s; %d workload(s); %d server(s)\n", s.File, s.Name,
			len(s.Variants), strings.Join(s.VariantNames(), " "), len(s.Workloads), len(s.Servers))
		return nil
	}
	return cmdutil.FlagErrorf("unknown action %q", o.Action)
}

func firstSentence(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if i := strings.Index(s, ". "); i > 0 {
		s = s[:i+1]
	}
	if len(s) > 90 {
		s = s[:87] + "..."
	}
	return s
}
