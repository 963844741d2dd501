package compare

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/loadrig/loadrig/internal/cache/rediscache"
	"github.com/loadrig/loadrig/internal/cli/cmdflags"
	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/cpupin"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	clireport "github.com/loadrig/loadrig/internal/cli/report"
	runcmd "github.com/loadrig/loadrig/internal/cli/run"
	"github.com/loadrig/loadrig/internal/cli/runner"
	"github.com/loadrig/loadrig/internal/metrics"
	"github.com/loadrig/loadrig/internal/profile"
	"github.com/loadrig/loadrig/internal/report"
)

// Options are the inputs of `loadrig compare`.
type Options struct {
	IO     *iostreams.IOStreams // injected streams
	Getenv func(string) string  // injected environment

	Profile    string   // the argument: a profile file or built-in name
	Variants   []string // --variants: the variants to compare; default all
	Repeat     int      // --repeat: repetitions per variant; default 0 (the profile's)
	Output     string   // -o/--output: results directory; default "" (compare-<profile>-<time>)
	Duration   string   // --duration: every workload's duration; default "" (the profile's)
	Rate       string   // --rate: every open-model workload's rate; default "" (the profile's)
	InProc     bool     // --inproc: servers in this process; default false (child processes)
	RedisURL   string   // --redis-url: Redis for every server that takes one; default "" (each spawns its own)
	RedisFlush bool     // --redis-flush: flush --redis-url's database before each variant run; default false
	ServerCPUs string   // --server-cpus: pin child servers to these CPUs (Linux); default "" (no pinning)
	LoadCPUs   string   // --load-cpus: pin this process (the load generator); default "" (no pinning)
	// Reports is --report: formats written into the results directory.
	Reports []string
	// Gate is --threshold and --junit (with the profile's thresholds).
	Gate clireport.Gate
	// Executable is the loadrig binary for child servers; default "" (os.Executable).
	Executable string
}

// NewCmdCompare returns `loadrig compare`.
func NewCmdCompare(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Getenv: f.Getenv}
	cmd := &cobra.Command{
		Use:   "compare PROFILE",
		Short: "Compare a profile's variants, each in isolation, repetitions interleaved",
		Long: `Run every variant of a profile in isolation and compare them: each repetition
of each variant gets fresh servers (child 'loadrig serve' processes; --inproc
keeps them in this process) and its warm-up; repetitions go round robin over
the variants so a noisy host's drift hits all alike. Prints variants x metrics
(req/s, p50, p99, errors, hit ratio, store calls per operation, connections)
as medians with their range; a best value is marked (*) only when it is
significantly better than every other variant's (from 4 runs each).

Writes DIR/<variant>/<workload>-r<k>.json and DIR/summary.json.`,
		Example: `  loadrig compare cache-compare --repeat 4 --duration 5s
  loadrig compare rest-vs-grpc --server-cpus 0 --load-cpus 1
  loadrig compare my.yaml --variants a,b --redis-url redis://127.0.0.1:6379/3 --redis-flush`,
		Args: cmdutil.ExactArgs(1, "a profile file or built-in name, e.g. loadrig compare cache-compare"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Profile = args[0]
			if err := runcmd.CheckOverrides(opts.Repeat, opts.Duration, opts.Rate); err != nil {
				return err
			}
			switch {
			case opts.RedisFlush && opts.RedisURL == "":
				return cmdutil.FlagErrorf("--redis-flush flushes the Redis that --redis-url names; add --redis-url (loadrig never flushes a Redis it was not told to)")
			case opts.InProc && opts.ServerCPUs != "":
				return cmdutil.FlagErrorf("--server-cpus pins child servers; with --inproc the servers share this process (use --load-cpus alone)")
			}
			for _, c := range []struct{ flag, val string }{{"--server-cpus", opts.ServerCPUs}, {"--load-cpus", opts.LoadCPUs}} {
				if c.val == "" {
					continue
				}
				if !cpupin.Supported {
					return cmdutil.FlagErrorf("%s: CPU pinning needs Linux", c.flag)
				}
				if _, err := cpupin.Parse(c.val); err != nil {
					return cmdutil.FlagErrorf("%s: %v", c.flag, err)
				}
			}
			if _, err := report.ParseThresholds(opts.Gate.Thresholds); err != nil {
				return cmdutil.FlagErrorf("--threshold: %v", err)
			}
			if err := runner.CheckReports(opts.Reports); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&opts.Variants, "variants", nil, "variants to compare, comma-separated (default: all)")
	fl.IntVar(&opts.Repeat, "repeat", 0, "repetitions of each variant (default: the profile's repeat)")
	fl.StringVarP(&opts.Output, "output", "o", "", "results directory (default: compare-<profile>-<time>)")
	fl.StringVarP(&opts.Duration, "duration", "d", "", "override every workload's --duration")
	fl.StringVar(&opts.Rate, "rate", "", "override every open-model workload's --rate")
	fl.BoolVar(&opts.InProc, "inproc", false, "run the servers inside this process instead of as child processes")
	fl.StringVar(&opts.RedisURL, "redis-url", "", "Redis for every server that takes --redis-url (default: each starts its own, fresh)")
	fl.BoolVar(&opts.RedisFlush, "redis-flush", false, "flush the --redis-url database before every variant run")
	fl.StringVar(&opts.ServerCPUs, "server-cpus", "", "pin the child servers to these CPUs, e.g. 0 or 0-1 (Linux)")
	fl.StringVar(&opts.LoadCPUs, "load-cpus", "", "pin loadrig itself (the load generator) to these CPUs (Linux)")
	fl.StringSliceVar(&opts.Reports, "report", nil, "also write reports into the results directory: html (report.html), markdown (report.md), csv (results.csv), text, json")
	opts.Gate.AddFlags(fl)
	return cmd
}

// Run compares the variants.
func Run(ctx context.Context, o *Options) error {
	flags := cmdflags.New(o.Getenv)
	spec, err := runner.LoadSpec(o.Profile, flags)
	if err != nil {
		return err
	}
	names := spec.VariantNames()
	if len(o.Variants) > 0 {
		for _, v := range o.Variants {
			if !slices.Contains(names, v) {
				return cmdutil.FlagErrorf("--variants: %q is not in profile %s; choose from %s", v, spec.Name, strings.Join(names, ", "))
			}
		}
		names = o.Variants
	}
	plans := make([]*profile.RunPlan, len(names))
	for i, n := range names {
		if plans[i], err = spec.Plan(n, o.Getenv, flags); err != nil {
			return cmdutil.FlagErrorWrap(err)
		}
	}
	ths, err := runner.ProfileThresholds(spec, plans[0])
	if err != nil {
		return err
	}
	repeat := o.Repeat
	if repeat == 0 {
		repeat = spec.Repeat
	}
	var serverCPUs []int
	if o.ServerCPUs != "" {
		serverCPUs, _ = cpupin.Parse(o.ServerCPUs)
	}
	if o.LoadCPUs != "" {
		cpus, _ := cpupin.Parse(o.LoadCPUs)
		if err := cpupin.Pin(os.Getpid(), cpus); err != nil {
			return err
		}
	}
	dir := o.Output
	if dir == "" {
		dir = runcmd.DefaultDir("compare", spec.Name, time.Now())
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return cmdutil.FlagErrorf("-o %s: %v", dir, err)
	}
	if err := o.Gate.Parse(); err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(dir, "servers.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	extra := func(kind string) []string {
		if o.RedisURL == "" {
			return nil
		}
		if _, ok := flags.Lookup(cmdflags.Serve, kind, "redis-url"); ok {
			return []string{"--redis-url=" + o.RedisURL}
		}
		return nil
	}
	var beforeLoad func(context.Context, *runner.ServerSet) error
	if o.RedisFlush {
		beforeLoad = func(ctx context.Context, _ *runner.ServerSet) error { return rediscache.FlushDB(ctx, o.RedisURL) }
	}
	sum := &runner.Summary{Schema: runner.SummarySchema, Profile: spec.Name, Command: "compare", StartedAt: time.Now().UTC()}
	out := o.IO.Out
	fmt.Fprintf(out, "profile %s: %d variant(s) x %d repetition(s), round robin, fresh servers each\n", spec.Name, len(plans), repeat)
	var runErr error
rounds:
	for k := 1; k <= repeat; k++ {
		for _, p := range plans {
			runErr = runner.Repetition{
				Plan: p, Hash: p.Hash(), K: k, Dir: runner.VariantDir(dir, p.Variant), Base: dir, Summary: sum, Out: out,
				Servers: runner.ServerOptions{InProc: o.InProc, Executable: o.Executable, Log: logf, Flags: flags,
					Getenv: o.Getenv, Extra: extra, CPUs: serverCPUs},
				Overrides: runner.Overrides{Duration: o.Duration, Rate: o.Rate}, Getenv: o.Getenv, BeforeLoad: beforeLoad,
			}.Do(ctx)
			if runErr != nil {
				break rounds
			}
		}
	}
	return runcmd.Finish(out, dir, "loadrig compare", sum, append(ths, o.Gate.Parsed()...), o.Reports, &o.Gate, o.Getenv, runErr, Table)
}

// metric is one column of the comparison table.
type metric struct {
	key, title string
	better     int    // +1 higher is better, -1 lower, 0 neither
	diff       string // the metric's name for report.Diff ("": not tested)
	format     func(float64) string
}

var columns = []metric{
	{"rps", "req/s", +1, "rps", func(x float64) string { return fmt.Sprintf("%.1f", x) }},
	{"p50_us", "p50", -1, "p50", runner.Micros},
	{"p99_us", "p99", -1, "p99", runner.Micros},
	{"error_rate", "errors", -1, "error_rate", func(x float64) string { return fmt.Sprintf("%.2f%%", 100*x) }},
	{"hit_ratio", "hit ratio", +1, "hit_ratio", func(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }},
	{"store_calls_per_op", "store calls/op", -1, "", func(x float64) string { return fmt.Sprintf("%.3f", x) }},
	{"msgs_rps", "msgs/s", +1, "", func(x float64) string { return fmt.Sprintf("%.1f", x) }},
	{"msg_p50_us", "msg p50", -1, "message_latency.p50", runner.Micros},
	{"msg_p99_us", "msg p99", -1, "message_latency.p99", runner.Micros},
	{"connections", "connections", 0, "", func(x float64) string { return fmt.Sprintf("%.0f", x) }},
}

// cell is one row of a comparison table: a variant on a workload.
type cell struct{ variant, workload string }

// Table prints the comparison: variants as rows, metrics as columns,
// "median (min–max)", a * on a significantly best value. Variants that run
// the same workloads get one table per workload. When no two variants share
// a workload (a protocol comparison: rest-vs-grpc, rest-vs-graphql), the
// variants are one table, each row naming its workload; a best value is
// marked there only when every variant ran one workload, so that the rows
// stand for the variants.
func Table(w io.Writer, s *runner.Summary) {
	if rows, ok := ownWorkloads(s); ok {
		fmt.Fprintln(w, "each variant on its own workloads")
		table(w, s, rows, true)
	} else {
		var workloads []string
		for _, v := range s.Variants {
			for _, wl := range v.Workloads {
				if !slices.Contains(workloads, wl.Name) {
					workloads = append(workloads, wl.Name)
				}
			}
		}
		for i, wl := range workloads {
			if i > 0 {
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "workload %s\n", wl)
			var rows []cell
			for _, v := range s.Variants {
				rows = append(rows, cell{v.Name, wl})
			}
			table(w, s, rows, false)
		}
	}
	fmt.Fprintln(w, "\nmedian (min–max) over runs; * best, significantly: every run beats every run of each other variant and loadrig diff's test agrees (Mann-Whitney p < 0.05, > 5 % change; needs 4 runs each)")
}

// ownWorkloads returns a row per variant and workload it ran when there
// are several variants and no workload was run by two of them.
func ownWorkloads(s *runner.Summary) ([]cell, bool) {
	if len(s.Variants) < 2 {
		return nil, false
	}
	var rows []cell
	by := map[string]string{}
	for _, v := range s.Variants {
		for _, wl := range v.Workloads {
			if len(s.Values(v.Name, wl.Name, "rps")) == 0 {
				continue
			}
			if other, ok := by[wl.Name]; ok && other != v.Name {
				return nil, false
			}
			by[wl.Name] = v.Name
			rows = append(rows, cell{v.Name, wl.Name})
		}
	}
	return rows, len(rows) > 0
}

// table prints one comparison table over rows; named adds a workload
// column (rows on their own workloads).
func table(w io.Writer, s *runner.Summary, rows []cell, named bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	var present []metric
	for _, m := range columns {
		for _, r := range rows {
			if len(s.Values(r.variant, r.workload, m.key)) > 0 {
				present = append(present, m)
				break
			}
		}
	}
	hdr := []string{"variant"}
	if named {
		hdr = append(hdr, "workload")
	}
	hdr = append(hdr, "runs")
	for _, m := range present {
		hdr = append(hdr, m.title)
	}
	fmt.Fprintln(tw, strings.Join(hdr, "\t"))
	// A best is marked only where each row stands for its variant: a
	// variant with several rows (several workloads of its own) has none.
	vals := map[string][]float64{}
	best := map[string]string{}
	for _, m := range present {
		clear(vals)
		for _, r := range rows {
			vals[r.variant] = s.Values(r.variant, r.workload, m.key)
		}
		if len(vals) != len(rows) {
			break
		}
		if b, ok := SignificantBest(vals, m.better); ok && confirmed(s, rows, b, m) {
			best[m.key] = b
		}
	}
	for _, r := range rows {
		n := len(s.Values(r.variant, r.workload, "rps"))
		if n == 0 {
			continue
		}
		row := []string{r.variant}
		if named {
			row = append(row, r.workload)
		}
		row = append(row, fmt.Sprint(n))
		for _, m := range present {
			xs := s.Values(r.variant, r.workload, m.key)
			if len(xs) == 0 {
				row = append(row, "-")
				continue
			}
			c := m.format(runner.Median(xs))
			if len(xs) > 1 {
				c += " (" + m.format(slices.Min(xs)) + "–" + m.format(slices.Max(xs)) + ")"
			}
			if best[m.key] == r.variant {
				c += " *"
			}
			row = append(row, c)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	_ = tw.Flush()
}

// confirmed asks report.Diff (Mann-Whitney U through benchmath, as
// loadrig diff does) whether best is an improvement over every other
// variant on m: significant at 5 % and more than a 5 % change. Metrics
// diff does not know are judged by SignificantBest alone. Rows on
// different workloads are compared under one name, as their variants'.
func confirmed(s *runner.Summary, rows []cell, best string, m metric) bool {
	if m.diff == "" {
		return true
	}
	var bs []*metrics.Result
	for _, r := range rows {
		if r.variant == best {
			bs = s.Results(r.variant, r.workload)
		}
	}
	for _, r := range rows {
		if r.variant == best {
			continue
		}
		d, err := report.Diff(sameName(s.Results(r.variant, r.workload)), sameName(bs), report.DiffOptions{Metrics: []string{m.diff}})
		if err != nil || len(d.Rows) != 1 || d.Rows[0].Verdict != report.VerdictImprovement {
			return false
		}
	}
	return true
}

// sameName returns copies of rs under one workload name and without
// per-operation sections, so that two variants' runs of different
// workloads can be tested against each other on the run metrics.
func sameName(rs []*metrics.Result) []*metrics.Result {
	out := make([]*metrics.Result, len(rs))
	for i, r := range rs {
		c := *r
		c.Name, c.Workload, c.Variant, c.Operations = "compared", "", "", nil
		out[i] = &c
	}
	return out
}

// Alpha is the significance level of SignificantBest.
const Alpha = 0.05

// SignificantBest returns the variant with the best median of vals
// (better: +1 higher is better, -1 lower) when it is significantly better
// than every other: the samples are completely separated, whose exact
// two-sided Mann-Whitney p, 2/C(n1+n2, n1), is below Alpha.
func SignificantBest(vals map[string][]float64, better int) (string, bool) {
	if better == 0 || len(vals) < 2 {
		return "", false
	}
	best, bestMed := "", math.NaN()
	for name, xs := range vals {
		if len(xs) == 0 {
			return "", false
		}
		m := runner.Median(xs)
		if best == "" || float64(better)*(m-bestMed) > 0 || (m == bestMed && name < best) {
			best, bestMed = name, m
		}
	}
	bx := vals[best]
	for name, xs := range vals {
		if name == best {
			continue
		}
		var separated bool
		if better > 0 {
			separated = slices.Min(bx) > slices.Max(xs)
		} else {
			separated = slices.Max(bx) < slices.Min(xs)
		}
		if !separated || separationP(len(bx), len(xs)) >= Alpha {
			return "", false
		}
	}
	return best, true
}

// separationP is the exact two-sided Mann-Whitney p of complete
// separation of samples of sizes n and m: 2 / C(n+m, n).
func separationP(n, m int) float64 {
	c := 1.0
	for i := 1; i <= n; i++ {
		c = c * float64(m+i) / float64(i)
	}
	return math.Min(1, 2/c)
}
