package diff

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	clireport "github.com/loadrig/loadrig/internal/cli/report"
	"github.com/loadrig/loadrig/internal/report"
)

// Options are the inputs of `loadrig diff`.
type Options struct {
	IO     *iostreams.IOStreams // injected streams
	Getenv func(string) string  // injected environment (GITHUB_STEP_SUMMARY)
	// Base and Current are the two sides: result files, directories
	// (searched recursively) or summary.json files.
	Base, Current string
	// Metrics is --metric (repeatable or comma-separated). Default
	// report.DefaultDiffMetrics: p50, p99, rps, error_rate (and, for
	// sessions, report.SessionDiffMetrics).
	Metrics []string
	// Alpha is --alpha: the significance level. Default 0.05.
	Alpha float64
	// MinChange is --min-change: the smallest change worth calling, "5%"
	// or "0.05". Default "5%".
	MinChange string
	// Format is --format: text (default), json (loadrig.diff/v1) or
	// markdown.
	Format string
	// JUnit is --junit FILE: a testcase per row. Default "": none.
	JUnit string

	minChange float64
}

// NewCmdDiff returns `loadrig diff`. runF replaces the run function in
// tests; nil runs diffRun.
func NewCmdDiff(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Getenv: f.Getenv}
	cmd := &cobra.Command{
		Use:   "diff BASE CURRENT",
		Short: "Call regressions between two sets of runs, only when the data says so",
		Long: `Compare two sets of runs of the same workloads. Each side is a result file,
a directory (searched recursively for result files, as run -o and compare -o
write them) or a summary.json. A result's workload is its --name (a profile's
workload); for a plain load, the method and URL template (load http), the
method and target (grpc). Runs of a profile are grouped by variant too: two
compare -o directories are compared variant by variant, and must hold the
same variants; one variant a side (DIR/a against DIR/b) compares those two.

Per variant, workload and metric the per-run values are compared with a Mann-Whitney U
test (benchstat's; no assumption about their distribution). A row is a
regression when p < --alpha AND the median moved more than --min-change in the
bad direction (latency and errors up, rps and hit ratio down); an improvement
the other way; otherwise same (~). With 3 runs a side the smallest p is 0.10,
so diff needs at least 4 a side and recommends 6.

Exit codes: 0 no regression, 3 a regression, 2 bad input.`,
		Example: `  loadrig diff baseline/ current/
  loadrig diff --metric p99,rps --format markdown base/summary.json out/summary.json
  loadrig diff --junit diff.xml --format json base/ current/ > diff.json`,
		Args: cmdutil.ExactArgs(2, "two sides, BASE and CURRENT: result files, directories or summary.json files"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Base, opts.Current = args[0], args[1]
			switch opts.Format {
			case report.FormatText, report.FormatJSON, report.FormatMarkdown:
			default:
				return cmdutil.FlagErrorf("unknown --format %q; use text, json or markdown", opts.Format)
			}
			if err := report.DiffMetricsValid(opts.Metrics); err != nil {
				return cmdutil.FlagErrorf("--metric: %v", err)
			}
			if !(opts.Alpha > 0 && opts.Alpha < 1) {
				return cmdutil.FlagErrorf("--alpha must be between 0 and 1, got %v; e.g. --alpha 0.05", opts.Alpha)
			}
			mc, err := parseChange(opts.MinChange)
			if err != nil {
				return cmdutil.FlagErrorf("--min-change %q: %v; e.g. --min-change 5%%", opts.MinChange, err)
			}
			opts.minChange = mc
			if err := clireport.CheckOutputDir("--junit", opts.JUnit); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return diffRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringSliceVar(&opts.Metrics, "metric", report.DefaultDiffMetrics, "metrics to compare (p50 p90 p99 p999 max mean, service_time.p99, error_rate, rps, hit_ratio, ...)")
	cmd.Flags().Float64Var(&opts.Alpha, "alpha", 0.05, "significance level: a change needs p below it")
	cmd.Flags().StringVar(&opts.MinChange, "min-change", "5%", "smallest change of the median worth calling, e.g. 5% or 0.05")
	cmd.Flags().StringVar(&opts.Format, "format", report.FormatText, "output format: text, json (loadrig.diff/v1) or markdown")
	cmd.Flags().StringVar(&opts.JUnit, "junit", "", "write a JUnit XML report (a testcase per row) to this file")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"text", "json", "markdown"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// parseChange reads "5%" or "0.05" as a fraction.
func parseChange(s string) (float64, error) {
	t := strings.TrimSpace(s)
	pct := strings.HasSuffix(t, "%")
	f, err := strconv.ParseFloat(strings.TrimSuffix(t, "%"), 64)
	if err != nil || f < 0 || f != f {
		return 0, errors.New("not a non-negative number")
	}
	if pct {
		f /= 100
	}
	if f >= 10 {
		return 0, errors.New("larger than 1000%")
	}
	return f, nil
}

func diffRun(_ context.Context, opts *Options) error {
	base, err := clireport.LoadPaths([]string{opts.Base})
	if err != nil {
		return err
	}
	cur, err := clireport.LoadPaths([]string{opts.Current})
	if err != nil {
		return err
	}
	d, err := report.Diff(base, cur, report.DiffOptions{Metrics: opts.Metrics, Alpha: opts.Alpha, MinChange: opts.minChange})
	if err != nil {
		return cmdutil.FlagErrorWrap(err)
	}
	if err := report.WriteDiff(opts.IO.Out, opts.Format, d); err != nil {
		return err
	}
	if opts.JUnit != "" {
		if err := cmdutil.WriteFile(opts.JUnit, func(w io.Writer) error {
			return report.WriteJUnit(w, "loadrig diff", report.DiffCases(d))
		}); err != nil {
			return err
		}
	}
	if err := clireport.AppendStepSummary(opts.Getenv, func(w io.Writer) error {
		return report.WriteDiff(w, report.FormatMarkdown, d)
	}); err != nil {
		return err
	}
	if n := d.Regressions(); n > 0 {
		return &cmdutil.ThresholdError{Err: fmt.Errorf("%d regression(s) between %s and %s", n, opts.Base, opts.Current)}
	}
	return nil
}
