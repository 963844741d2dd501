package report

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
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
	// Output is -o/--output: write the report to this file instead of
	// stdout; for hgrm, an existing directory gets one .hgrm file per
	// histogram. Default "": stdout.
	Output string
	Gate   // --threshold, --junit
}

// NewCmdReport returns `loadrig report`. runF replaces the run function in
// tests; nil runs reportRun.
func NewCmdReport(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Getenv: f.Getenv}
	cmd := &cobra.Command{
		Use:   "report FILE|DIR...",
		Short: "Render result files: one as a summary, several side by side",
		Long: `Render loadrig result files (loadrig.result/v1) from the files alone.
One file prints as the same summary 'loadrig load' printed; several print as
one table with a column per result, labelled by the result's name (--name at
run time) or else its file name. A directory is searched recursively for
result files; a summary.json stands for the runs it lists.

Formats: text, markdown, json (the result file itself, or an array),
csv (one row per result under a fixed header), html (one self-contained
page: charts and tables, nothing loaded from anywhere), hgrm (HdrHistogram's
percentile distribution in ms, one per histogram; -o DIR writes one file
each), junit (a testcase per --threshold).

--threshold judges every result (or those of WORKLOAD:); a breach exits 3
after the report is written.`,
		Example: `  loadrig report result.json
  loadrig report --format markdown before.json after.json >> $GITHUB_STEP_SUMMARY
  loadrig report --format json a.json b.json | jq '.[].latency_us.p99'
  loadrig report --format html -o report.html results/
  loadrig report --threshold 'p99<50ms' --threshold 'error_rate<0.1%' --junit junit.xml results/`,
		Args: cmdutil.MinimumArgs(1, "at least one result file, e.g. loadrig report result.json"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			if err := CheckFormat(opts.Format); err != nil {
				return err
			}
			if err := opts.Gate.Parse(); err != nil {
				return err
			}
			if !hgrmDir(opts) {
				if err := CheckOutputDir("-o", opts.Output); err != nil {
					return err
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return reportRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Format, "format", report.FormatText, "output format: "+strings.Join(report.Formats, ", "))
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(report.Formats, cobra.ShellCompDirectiveNoFileComp))
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", "write the report to this file (hgrm: an existing directory, or a path ending in / made if missing, gets a file per histogram)")
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
	ropts := report.Options{Color: opts.IO.ColorEnabled, Verdicts: vs}
	if hgrmDir(opts) {
		if err := os.MkdirAll(opts.Output, 0o755); err != nil {
			return cmdutil.FlagErrorf("-o %s: %v", opts.Output, err)
		}
	}
	switch st, err := os.Stat(opts.Output); {
	case opts.Output == "" || opts.Output == "-":
		if err := report.Render(opts.IO.Out, opts.Format, ropts, results...); err != nil {
			return err
		}
	case err == nil && st.IsDir() && opts.Format == report.FormatHgrm:
		files, err := report.Hgrm(results...)
		if err != nil {
			return cmdutil.FlagErrorWrap(err)
		}
		for _, f := range files {
			if err := cmdutil.WriteFile(filepath.Join(opts.Output, f.Name), func(w io.Writer) error {
				_, err := w.Write(f.Text)
				return err
			}); err != nil {
				return err
			}
		}
		fmt.Fprintf(opts.IO.ErrOut, "%d .hgrm files written to %s\n", len(files), opts.Output)
	case err == nil && st.IsDir():
		return cmdutil.FlagErrorf("-o %s is a directory; name a file (a directory is for --format hgrm)", opts.Output)
	default:
		ropts.Color = false
		if err := cmdutil.WriteFile(opts.Output, func(w io.Writer) error {
			return report.Render(w, opts.Format, ropts, results...)
		}); err != nil {
			return err
		}
	}
	return opts.Gate.Finish("loadrig report", vs, opts.Getenv)
}

// hgrmDir reports whether -o names a directory for --format hgrm by its
// trailing slash (-o hgrm/): it is created when missing.
func hgrmDir(opts *Options) bool {
	return opts.Format == report.FormatHgrm && (strings.HasSuffix(opts.Output, "/") || strings.HasSuffix(opts.Output, string(os.PathSeparator)))
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
