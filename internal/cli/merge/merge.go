package merge

import (
	"context"
	"fmt"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	clireport "github.com/loadrig/loadrig/internal/cli/report"
	"github.com/loadrig/loadrig/internal/metrics"
	"github.com/spf13/cobra"
)

// Options are the inputs of `loadrig merge`.
type Options struct {
	IO     *iostreams.IOStreams // injected streams
	Files  []string             // result files to merge (arguments)
	Output string               // -o/--output: merged result file; "-" writes it to stdout. Required.
	Format string               // --format: how to print the merged summary: text (default), markdown or json
	Quiet  bool                 // --quiet: do not print the summary
	// AllowPartial is --allow-partial: merge an incomplete set of shards,
	// marking the result partial. Default false: a missing shard is an error.
	AllowPartial bool
}

// NewCmdMerge returns `loadrig merge`. runF replaces the run function in
// tests; nil runs mergeRun.
func NewCmdMerge(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "merge FILE... -o OUT",
		Short: "Merge results of concurrent runs into one, exactly",
		Long: `Merge result files of runs made at the same time against one target (for
example one generator per machine) into one result. Histograms are added and
every percentile is recomputed from them, never averaged; counters are
summed; the merged file lists its inputs. Then the merged summary is printed.

Shards of one run (load --shard i/N) merge exactly, timelines too (each
shard keeps per-second histograms). merge refuses a missing or duplicate
shard, shards dealt two ways (--shard-by) and results of different plans
(exit 2); --allow-partial merges an incomplete set and marks the result
partial.`,
		Example: `  loadrig merge gen1.json gen2.json gen3.json -o total.json
  loadrig merge a.json b.json -o - | jq .latency_us
  loadrig merge shard-*.json -o merged.json`,
		Args: cmdutil.MinimumArgs(1, "the result files to merge, e.g. loadrig merge a.json b.json -o total.json"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			if opts.Output == "" {
				return cmdutil.FlagErrorf("merge needs -o OUT: the file to write the merged result to (- for stdout)")
			}
			if err := clireport.CheckFormat(opts.Format); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return mergeRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", "write the merged result to this file (- for stdout)")
	cmd.Flags().StringVar(&opts.Format, "format", "text", "summary format: text, markdown or json")
	cmd.Flags().BoolVarP(&opts.Quiet, "quiet", "q", false, "do not print the summary")
	cmd.Flags().BoolVar(&opts.AllowPartial, "allow-partial", false, "merge an incomplete set of shards (the result is marked partial)")
	return cmd
}

func mergeRun(_ context.Context, opts *Options) error {
	results := make([]*metrics.Result, 0, len(opts.Files))
	for _, p := range opts.Files {
		rs, err := clireport.LoadResults([]string{p})
		if err != nil {
			return err
		}
		results = append(results, rs[0])
	}
	partial, err := metrics.CheckShards(results, opts.Files, opts.AllowPartial)
	if err != nil {
		return cmdutil.FlagErrorWrap(err)
	}
	merged, err := metrics.Merge(results, opts.Files)
	if err != nil {
		return cmdutil.FlagErrorWrap(err)
	}
	merged.Partial = partial
	merged.PlanHash = results[0].PlanHash
	if opts.Output == "-" {
		return merged.Write(opts.IO.Out)
	}
	if err := cmdutil.WriteFile(opts.Output, merged.Write); err != nil {
		return err
	}
	if opts.Quiet {
		return nil
	}
	if err := clireport.Render(opts.IO.Out, opts.Format, opts.IO.ColorEnabled, merged); err != nil {
		return err
	}
	if opts.Format == "text" {
		_, err := fmt.Fprintf(opts.IO.Out, "\nmerged %d results into %s\n", len(results), opts.Output)
		return err
	}
	return nil
}
