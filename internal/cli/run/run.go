package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/loadrig/loadrig/internal/cli/cmdflags"
	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/loadrig/loadrig/internal/cli/loadcmd"
	clireport "github.com/loadrig/loadrig/internal/cli/report"
	"github.com/loadrig/loadrig/internal/cli/runner"
	"github.com/loadrig/loadrig/internal/report"
)

// Options are the inputs of `loadrig run`.
type Options struct {
	IO     *iostreams.IOStreams // injected streams
	Getenv func(string) string  // injected environment, for ${env.X}

	Profile  string // the argument: a profile file or a built-in name
	Variant  string // --variant: the variant to run; default "" (the first)
	Repeat   int    // --repeat: repetitions; default 0 (the profile's repeat)
	Output   string // -o/--output: results directory; default "" (run-<profile>-<time>)
	Duration string // --duration: every workload's duration; default "" (the profile's)
	Rate     string // --rate: every open-model workload's rate; default "" (the profile's)
	InProc   bool   // --inproc: servers in this process, not child processes; default false
	Shard    string // --shard i/N: every workload runs shard i of N; default "" (all of it)
	ShardBy  string // --shard-by seq|tick: how open-model workloads deal their operations; default seq
	StartAt  string // --start-at: the shards' aligned start; default "" (now)
	// Reports is --report: formats written into the results directory
	// (html: report.html, markdown: report.md, csv: results.csv). Default none.
	Reports []string
	// Gate is --threshold and --junit (the profile's thresholds are judged
	// too); a breach exits 3 after everything is written.
	Gate clireport.Gate
	// Executable is the loadrig binary for child servers; default "" (os.Executable).
	Executable string
}

// NewCmdRun returns `loadrig run`. runF replaces the run function in tests.
func NewCmdRun(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Getenv: f.Getenv}
	cmd := &cobra.Command{
		Use:   "run PROFILE",
		Short: "Run a profile: its servers and all its workloads at once",
		Long: `Run one variant of a profile: start its servers (each a child 'loadrig serve'
on free loopback ports), run all its workloads at once (each 'loadrig load'
with the profile's options as flags), --repeat times on fresh servers, and
write DIR/<variant>/<workload>-r<k>.json and DIR/summary.json.

PROFILE is a file or a built-in (loadrig profiles list); a file wins. The
profile is checked against the commands' own flags before anything starts:
a mistake exits 2 naming file:line:col.`,
		Example: `  loadrig run ci -o results
  loadrig run cache-compare --variant cache=redis --repeat 3 --duration 5s
  loadrig run my-profile.yaml --rate 100`,
		Args: cmdutil.ExactArgs(1, "a profile file or built-in name, e.g. loadrig run smoke (loadrig profiles list)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Profile = args[0]
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Variant, "variant", "", "variant to run (default: the profile's first)")
	fl.IntVar(&opts.Repeat, "repeat", 0, "repetitions, each on fresh servers (default: the profile's repeat, else 1)")
	fl.StringVarP(&opts.Output, "output", "o", "", "results directory (default: run-<profile>-<time>)")
	fl.StringVarP(&opts.Duration, "duration", "d", "", "override every workload's --duration (staged workloads keep their stages)")
	fl.StringVar(&opts.Rate, "rate", "", "override every open-model workload's --rate")
	fl.BoolVar(&opts.InProc, "inproc", false, "run the servers inside this process instead of as child processes")
	fl.StringVar(&opts.Shard, "shard", "", "run shard i of N of every workload (i/N, 0-based), e.g. --shard 0/4")
	fl.StringVar(&opts.ShardBy, "shard-by", loadcmd.ShardBySeq, "how --shard deals the operations of workloads with a rate or stages: seq (i, i+N, ...) or tick (those in 1/N of the scheduler ticks: the shards together cost as one process); others split by seq")
	fl.StringVar(&opts.StartAt, "start-at", "", "with --shard: start at this time (RFC 3339, or +5s from now) so shards align")
	fl.StringSliceVar(&opts.Reports, "report", nil, "also write reports into the results directory: html (report.html), markdown (report.md), csv (results.csv), text, json")
	opts.Gate.AddFlags(fl)
	_ = cmd.RegisterFlagCompletionFunc("shard-by", cobra.FixedCompletions([]string{loadcmd.ShardBySeq, loadcmd.ShardByTick}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// CheckOverrides checks --repeat, --duration and --rate (shared with compare).
func CheckOverrides(repeat int, duration, rate string) error {
	if repeat < 0 || repeat > 1000 {
		return cmdutil.FlagErrorf("--repeat must be from 1 to 1000, got %d", repeat)
	}
	if duration != "" {
		if d, err := time.ParseDuration(duration); err != nil || d <= 0 {
			return cmdutil.FlagErrorf("--duration %q is not a positive duration like 5s", duration)
		}
	}
	if rate != "" {
		if r, err := strconv.ParseFloat(rate, 64); err != nil || !(r > 0) || r > 1e9 {
			return cmdutil.FlagErrorf("--rate %q must be a number > 0 (operations/s)", rate)
		}
	}
	return nil
}

func (o *Options) validate() error {
	if err := CheckOverrides(o.Repeat, o.Duration, o.Rate); err != nil {
		return err
	}
	if o.StartAt != "" && o.Shard == "" {
		return cmdutil.FlagErrorf("--start-at aligns shards; add --shard i/N")
	}
	// The model is each workload's: tick goes only to open ones (Run).
	if err := loadcmd.CheckShardBy(o.ShardBy, o.Shard, true, "--shard-by"); err != nil {
		return cmdutil.FlagErrorWrap(err)
	}
	if _, err := report.ParseThresholds(o.Gate.Thresholds); err != nil {
		return cmdutil.FlagErrorf("--threshold: %v", err)
	}
	return runner.CheckReports(o.Reports)
}

// DefaultDir names a fresh results directory: CMD-PROFILE-TIME.
func DefaultDir(cmd, profile string, now time.Time) string {
	return fmt.Sprintf("%s-%s-%s", cmd, profile, now.Format("20060102-150405"))
}

// Run runs the profile.
func Run(ctx context.Context, o *Options) error {
	flags := cmdflags.New(o.Getenv)
	spec, err := runner.LoadSpec(o.Profile, flags)
	if err != nil {
		return err
	}
	plan, err := spec.Plan(o.Variant, o.Getenv, flags)
	if err != nil {
		return cmdutil.FlagErrorWrap(err)
	}
	ths, err := runner.ProfileThresholds(spec, plan)
	if err != nil {
		return err
	}
	repeat := o.Repeat
	if repeat == 0 {
		repeat = plan.Repeat
	}
	var extra []string
	if o.Shard != "" {
		extra = append(extra, "--shard="+o.Shard)
	}
	if o.StartAt != "" {
		extra = append(extra, "--start-at="+o.StartAt)
	}
	dir := o.Output
	if dir == "" {
		dir = DefaultDir("run", spec.Name, time.Now())
	}
	vdir := runner.VariantDir(dir, plan.Variant)
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		return cmdutil.FlagErrorf("-o %s: %v", dir, err)
	}
	if err := o.Gate.Parse(); err != nil { // after -o exists: --junit may go into it
		return err
	}
	logf, err := os.Create(filepath.Join(vdir, "servers.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	sum := &runner.Summary{Schema: runner.SummarySchema, Profile: spec.Name, Command: "run", StartedAt: time.Now().UTC()}
	out := o.IO.Out
	fmt.Fprintf(out, "profile %s, variant %s: %d workload(s) at once, %d repetition(s)\n", spec.Name, plan.Variant, len(plan.Workloads), repeat)
	var runErr error
	for k := 1; k <= repeat && runErr == nil; k++ {
		runErr = runner.Repetition{
			Plan: plan, Hash: plan.Hash(), K: k, Dir: vdir, Base: dir, Summary: sum, Out: out,
			Servers:   runner.ServerOptions{InProc: o.InProc, Executable: o.Executable, Log: logf, Flags: flags, Getenv: o.Getenv},
			Overrides: runner.Overrides{Duration: o.Duration, Rate: o.Rate, Extra: extra, ShardByTick: o.ShardBy == loadcmd.ShardByTick}, Getenv: o.Getenv,
		}.Do(ctx)
	}
	return Finish(out, dir, "loadrig run", sum, append(ths, o.Gate.Parsed()...), o.Reports, &o.Gate, o.Getenv, runErr, runner.PrintMedians)
}

// Finish ends a run or compare: judge the thresholds, write summary.json
// and the reports, print the table and the verdicts, then the gate (junit,
// step summary, exit 3 on a breach). runErr (an interrupt included) wins
// over a breach, after everything is written.
func Finish(out io.Writer, dir, suite string, sum *runner.Summary, ths []report.Threshold, reports []string, gate *clireport.Gate,
	getenv func(string) string, runErr error, table func(io.Writer, *runner.Summary)) error {
	var vs []report.Verdict
	if runErr == nil {
		vs = runner.Judge(sum, ths)
	}
	if err := cmdutil.WriteFile(filepath.Join(dir, "summary.json"), sum.Write); err != nil {
		return err
	}
	files, err := runner.WriteReports(dir, reports, vs, sum.All())
	if err != nil {
		return err
	}
	if runErr != nil && !errors.Is(runErr, cmdutil.ErrInterrupted) {
		return runErr
	}
	fmt.Fprintln(out)
	table(out, sum)
	if len(vs) > 0 {
		fmt.Fprintln(out)
		if err := report.Verdicts(out, report.FormatText, vs); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "\nresults in %s (summary.json", strings.TrimSuffix(dir, "/"))
	for _, f := range files {
		fmt.Fprintf(out, ", %s", filepath.Base(f))
	}
	fmt.Fprintln(out, ")")
	if runErr != nil {
		return runErr
	}
	return gate.Finish(suite, vs, getenv)
}
