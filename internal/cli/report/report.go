package report

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/loadrig/loadrig/internal/metrics"
	"github.com/loadrig/loadrig/internal/report"
	"github.com/spf13/cobra"
)

// Options are the inputs of `loadrig report`.
type Options struct {
	IO     *iostreams.IOStreams // injected streams
	Files  []string             // result files to render (arguments)
	Format string               // --format: one of report.Formats; default text
	Getenv func(string) string  // injected environment (GITHUB_STEP_SUMMARY)
	Gate                        // --threshold, --junit
}

// NewCmdReport returns `loadrig report`. runF replaces the run function in
// tests; nil runs reportRun.
func NewCmdReport(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Getenv: f.Getenv}
	cmd := &cobra.Command{
		Use:   "report FILE...",
		Short: "Render result files: one as a summary, several side by side",
		Long: `Render loadrig result files (loadrig.result/v1) from the files alone.
One file prints as the same summary 'loadrig load' printed; several print as
one table with a column per result, labelled by the result's name (--name at
run time) or else its file name.`,
		Example: `  loadrig report result.json
  loadrig report --format markdown before.json after.json >> $GITHUB_STEP_SUMMARY
  loadrig report --format json a.json b.json | jq '.[].latency_us.p99'`,
		Args: cmdutil.MinimumArgs(1, "at least one result file, e.g. loadrig report result.json"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			if err := CheckFormat(opts.Format); err != nil {
				return err
			}
			if err := opts.Gate.Parse(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return reportRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Format, "format", report.FormatText, "output format: "+strings.Join(report.Formats, ", "))
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(report.Formats, cobra.ShellCompDirectiveNoFileComp))
	opts.Gate.AddFlags(cmd.Flags())
	return cmd
}

// CheckFormat rejects an unknown --format as a usage error.
func CheckFormat(format string) error {
	return cmdutil.FlagErrorWrap(report.CheckFormat(format))
}

func reportRun(_ context.Context, opts *Options) error {
	results, err := LoadPaths(opts.Files)
	if err != nil {
		return err
	}
	vs := report.Evaluate(opts.Gate.Parsed(), results...)
	if err := report.Render(opts.IO.Out, opts.Format, report.Options{Color: opts.IO.ColorEnabled, Verdicts: vs}, results...); err != nil {
		return err
	}
	return opts.Gate.Finish("loadrig report", vs, opts.Getenv)
}

// LoadResults reads result files. A missing or invalid file is a usage error
// naming it. When there are several, results without a name are labelled
// with their file name (without .json) for the side-by-side columns.
func LoadResults(paths []string) ([]*metrics.Result, error) {
	results := make([]*metrics.Result, 0, len(paths))
	for _, p := range paths {
		r, err := metrics.Load(p)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				return nil, cmdutil.FlagErrorf("result file %s: %v", p, pe.Err)
			}
			return nil, cmdutil.FlagErrorWrap(err)
		}
		results = append(results, r)
	}
	if len(results) > 1 {
		for i, r := range results {
			if r.Name == "" {
				r.Name = strings.TrimSuffix(filepath.Base(paths[i]), ".json")
			}
		}
	}
	return results, nil
}

// Render writes results in format (one of report.Formats); color
// highlights warnings in text (pass IOStreams.ColorEnabled).
func Render(w io.Writer, format string, color bool, results ...*metrics.Result) error {
	return report.Render(w, format, report.Options{Color: color}, results...)
}
