package loadcmd

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	clireport "github.com/loadrig/loadrig/internal/cli/report"
	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/report"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Defaults of the load model when the user names none.
const (
	// DefaultConcurrency is the closed-model worker count used when neither
	// --rate, --stages nor --concurrency is given.
	DefaultConcurrency = 50
	// DefaultDuration is the run length when neither --duration, --requests
	// nor --stages is given.
	DefaultDuration = 10 * time.Second
)

// OutputFormats are the values of --format for load commands: the one
// list of report formats.
var OutputFormats = report.Formats

// LoadFlags are the engine and output flags every `load <protocol>` command
// shares. Embed it in the command's options, call AddFlags on the command's
// flag set, Validate in RunE, and Config to get the engine configuration.
type LoadFlags struct {
	// Rate is --rate: the open model's total operations per second. Default
	// 0: not set.
	Rate float64
	// Stages is --stages: the open model's rate over time, e.g.
	// "10s:0-1000,30s:1000,10s:1000-0". Default "": not set.
	Stages string
	// MaxInflight is --max-inflight: the open model's cap on operations in
	// flight. Default load.DefaultMaxInflight.
	MaxInflight int
	// Concurrency is --concurrency/-c: the closed model's worker count.
	// Default 0: not set (DefaultConcurrency when no model is given).
	Concurrency int
	// ThinkTime is --think-time: the closed model's pause between a
	// worker's operations. Default 0.
	ThinkTime time.Duration
	// Duration is --duration/-d: the measured phase's length. Default
	// DefaultDuration, or unlimited when --requests or --stages bound the run.
	Duration time.Duration
	// Requests is --requests/-n: stop after this many measured operations.
	// Default 0: no count limit.
	Requests int64
	// Warmup is --warmup: run this long before measuring; warm-up operations
	// are not recorded. Default 0.
	Warmup time.Duration
	// Timeout is --timeout: the per-operation deadline. Default
	// load.DefaultTimeout.
	Timeout time.Duration
	// MaxErrors is --max-errors: stop the run (stop reason error_budget)
	// after this many errors. Default 0: no limit.
	MaxErrors int64
	// Tick is --tick: the open-model scheduler's wake-up period. Default
	// load.DefaultTick.
	Tick time.Duration
	// Grace is --grace: how long in-flight operations may finish after an
	// interrupt or an error-budget stop. Default load.DefaultGrace.
	Grace time.Duration
	// Output is -o/--output: write the result file here. Default "": none.
	Output string
	// Format is --format: how the result is printed on stdout: text (the
	// summary, default), json (the result file) or markdown.
	Format string
	// Quiet is --quiet/-q: no live progress line. Default false.
	Quiet bool
	// Name is --name: the result's label in side-by-side reports. Default "".
	Name string
	// CPUProfile is --cpuprofile: write a pprof CPU profile of the
	// generator itself (the whole run) to this file. Default "": none.
	CPUProfile string
	// Shard is --shard i/N: run part i (0-based) of N of the load: 1/N of
	// the rate on the whole run's schedule, 1/N of --concurrency and of
	// --requests, operations i, i+N, ... Default "": the whole load.
	Shard string
	// ShardBy is --shard-by seq|tick: how the open model deals operations
	// to shards; seq: i, i+N, ... (each shard an even stream); tick: those
	// intended in 1/N of the scheduler ticks (the shards together wake
	// as often as one process). Default "seq".
	ShardBy string
	// StartAt is --start-at: the aligned start of the shards, RFC 3339 or
	// +DURATION from now. Default "": now.
	StartAt string
	// Gate is --threshold (repeatable) and --junit FILE: judge the result;
	// a breach exits 3 after everything is written. Default none.
	Gate clireport.Gate

	// fs is the flag set AddFlags registered on, to tell set flags from
	// defaults (a value from LOADRIG_* or --config counts as set).
	fs *pflag.FlagSet
	// source names where a flag's value came from, for error messages.
	source func(flag string) string
}

// AddFlags registers the shared load flags on fs. source (may be nil) names
// where a flag's value came from in error messages; pass Factory.Source.
func (lf *LoadFlags) AddFlags(fs *pflag.FlagSet, source func(flag string) string) {
	lf.fs, lf.source = fs, source
	fs.Float64Var(&lf.Rate, "rate", 0, "open model: total operations per second (latency is measured from each operation's intended start)")
	fs.StringVar(&lf.Stages, "stages", "", "open model: rate over time, DURATION:RATE or DURATION:FROM-TO segments, e.g. 10s:0-1000,30s:1000,10s:1000-0")
	fs.IntVar(&lf.MaxInflight, "max-inflight", load.DefaultMaxInflight, "open model: most operations in flight at once; when reached, sends are late, never skipped")
	fs.IntVarP(&lf.Concurrency, "concurrency", "c", 0, fmt.Sprintf("closed model: number of workers (default %d when no model is given)", DefaultConcurrency))
	fs.DurationVar(&lf.ThinkTime, "think-time", 0, "closed model: pause between a worker's operations")
	fs.DurationVarP(&lf.Duration, "duration", "d", DefaultDuration, "length of the measured phase (without it, -n or --stages alone bound the run)")
	fs.Int64VarP(&lf.Requests, "requests", "n", 0, "stop after this many measured operations")
	fs.DurationVar(&lf.Warmup, "warmup", 0, "run this long first without recording")
	fs.DurationVar(&lf.Timeout, "timeout", load.DefaultTimeout, "per-operation timeout")
	fs.Int64Var(&lf.MaxErrors, "max-errors", 0, "stop the run after this many errors (stop reason error_budget)")
	fs.DurationVar(&lf.Tick, "tick", load.DefaultTick, "open model: the scheduler wakes at most once per tick and sends everything due")
	fs.DurationVar(&lf.Grace, "grace", load.DefaultGrace, "time in-flight operations get to finish after an interrupt or error-budget stop")
	fs.StringVarP(&lf.Output, "output", "o", "", "write the result file (loadrig.result/v1 JSON) here")
	fs.StringVar(&lf.Format, "format", "text", "stdout format, one of "+strings.Join(report.Formats, ", ")+" (text: the summary; json: the result file)")
	fs.BoolVarP(&lf.Quiet, "quiet", "q", false, "no live progress line")
	fs.StringVar(&lf.Name, "name", "", "label for this result in side-by-side reports")
	fs.StringVar(&lf.CPUProfile, "cpuprofile", "", "write a pprof CPU profile of loadrig itself during the run to this file")
	fs.StringVar(&lf.Shard, "shard", "", "run shard i of N (0-based), e.g. 0/4: 1/N of the rate on the one-process schedule, of --concurrency and of --requests; merge the shards with loadrig merge")
	fs.StringVar(&lf.ShardBy, "shard-by", ShardBySeq, "how --shard deals an open model's operations: seq (i, i+N, ...: each shard an even stream) or tick (those in 1/N of the scheduler ticks: the shards together wake, and cost, as one process; --requests stays the whole run's)")
	fs.StringVar(&lf.StartAt, "start-at", "", "start at this time, RFC 3339 (2026-01-02T15:04:05Z) or +DURATION from now, so shards on several machines align")
	lf.Gate.AddFlags(fs)
}

// completeLoadFlags registers shell completions for the shared load flags
// with fixed values.
func completeLoadFlags(cmd *cobra.Command) {
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(OutputFormats, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("shard-by", cobra.FixedCompletions([]string{ShardBySeq, ShardByTick}, cobra.ShellCompDirectiveNoFileComp))
}

// The values of --shard-by.
const (
	ShardBySeq  = "seq"
	ShardByTick = "tick"
)

// CheckShardBy checks --shard-by's value against --shard and the model
// (open says the load has a rate or stages); flag names --shard-by where
// the value came from.
func CheckShardBy(by, shard string, open bool, flag string) error {
	switch {
	case by != ShardBySeq && by != ShardByTick:
		return fmt.Errorf("%s %q: use seq (operations i, i+N, ...) or tick (operations in 1/N of the scheduler ticks)", flag, by)
	case by == ShardByTick && shard == "":
		return fmt.Errorf("%s tick deals the shards of --shard i/N; add --shard", flag)
	case by == ShardByTick && !open:
		return fmt.Errorf("%s tick needs the open model (--rate or --stages): the closed model splits its workers", flag)
	}
	return nil
}

// ParseShard reads "i/N" (0 <= i < N <= 100000).
func ParseShard(s string) (index, count int, err error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || n > 100000 || i < 0 || i >= n {
		return 0, 0, fmt.Errorf("%q is not a shard i/N with 0 <= i < N, e.g. 0/4", s)
	}
	return i, n, nil
}

// ParseStartAt reads an RFC 3339 time or +DURATION from now.
func ParseStartAt(s string, now time.Time) (time.Time, error) {
	if d, ok := strings.CutPrefix(s, "+"); ok {
		dd, err := time.ParseDuration(d)
		if err != nil || dd < 0 {
			return time.Time{}, fmt.Errorf("%q: +DURATION like +5s, or an RFC 3339 time", s)
		}
		return now.Add(dd), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time like 2026-01-02T15:04:05Z or +5s", s)
	}
	return t, nil
}

// part is shard i's share of n items dealt round robin over count shards.
func part(n int64, i, count int) int64 {
	q, r := n/int64(count), n%int64(count)
	if int64(i) < r {
		q++
	}
	return q
}

// ShardSeed derives shard i's template seed from the run's seed, so
// shards draw different random values; unsharded, the seed is unchanged.
func (lf *LoadFlags) ShardSeed(seed uint64) uint64 {
	i, n, err := ParseShard(lf.Shard)
	if lf.Shard == "" || err != nil || n == 1 {
		return seed
	}
	x := seed ^ (uint64(i)+1)*0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (lf *LoadFlags) set(name string) bool {
	return lf.fs != nil && lf.fs.Changed(name)
}

func (lf *LoadFlags) src(name string) string {
	if lf.source != nil {
		return lf.source(name)
	}
	return "--" + name
}

// open reports whether the flags select the open model.
func (lf *LoadFlags) open() bool { return lf.set("rate") || lf.set("stages") }

// Validate checks the flags as the user gave them and returns a FlagError
// saying what is wrong and how to fix it.
func (lf *LoadFlags) Validate() error {
	switch {
	case lf.set("rate") && lf.set("stages"):
		return cmdutil.FlagErrorf("%s and %s both set the open model's rate; give one of them", lf.src("rate"), lf.src("stages"))
	case lf.open() && lf.set("concurrency"):
		return cmdutil.FlagErrorf("%s (closed model) and %s (open model) exclude each other; pick one load model",
			lf.src("concurrency"), lf.src(map[bool]string{true: "rate", false: "stages"}[lf.set("rate")]))
	case lf.set("rate") && !(lf.Rate > 0):
		return cmdutil.FlagErrorf("%s must be > 0 operations/s, got %v; e.g. --rate 1000", lf.src("rate"), lf.Rate)
	case lf.set("concurrency") && lf.Concurrency <= 0:
		return cmdutil.FlagErrorf("%s must be at least 1 worker, got %d", lf.src("concurrency"), lf.Concurrency)
	case lf.open() && lf.set("think-time"):
		return cmdutil.FlagErrorf("%s applies to the closed model (--concurrency); the open model's pacing comes from --rate or --stages", lf.src("think-time"))
	case !lf.open() && lf.set("max-inflight"):
		return cmdutil.FlagErrorf("%s applies to the open model; add --rate or --stages, or use --concurrency for the closed model", lf.src("max-inflight"))
	case lf.MaxInflight <= 0:
		return cmdutil.FlagErrorf("%s must be at least 1, got %d", lf.src("max-inflight"), lf.MaxInflight)
	case lf.Duration < 0 || lf.Warmup < 0 || lf.Timeout <= 0 || lf.ThinkTime < 0 || lf.Tick <= 0 || lf.Grace < 0:
		return cmdutil.FlagErrorf("--duration, --warmup, --think-time and --grace must not be negative, --timeout and --tick must be > 0")
	case lf.Requests < 0:
		return cmdutil.FlagErrorf("%s must not be negative, got %d", lf.src("requests"), lf.Requests)
	case lf.MaxErrors < 0:
		return cmdutil.FlagErrorf("%s must not be negative, got %d", lf.src("max-errors"), lf.MaxErrors)
	case lf.set("duration") && lf.Duration == 0 && lf.Requests == 0 && !lf.set("stages"):
		return cmdutil.FlagErrorf("%s 0 needs --requests N or --stages to end the run; give a positive duration, e.g. -d 30s", lf.src("duration"))
	}
	if lf.Shard != "" {
		if _, _, err := ParseShard(lf.Shard); err != nil {
			return cmdutil.FlagErrorf("%s: %v", lf.src("shard"), err)
		}
	}
	if err := CheckShardBy(lf.ShardBy, lf.Shard, lf.open(), lf.src("shard-by")); err != nil {
		return cmdutil.FlagErrorWrap(err)
	}
	if lf.StartAt != "" {
		if _, err := ParseStartAt(lf.StartAt, time.Now()); err != nil {
			return cmdutil.FlagErrorf("%s: %v", lf.src("start-at"), err)
		}
	}
	if lf.set("stages") {
		if _, err := load.ParseStages(lf.Stages); err != nil {
			return cmdutil.FlagErrorf("%s %q: %v", lf.src("stages"), lf.Stages, err)
		}
	}
	if lf.Output != "" {
		// Fail before the run, not after it: a long run must not lose its result.
		dir := filepath.Dir(lf.Output)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return cmdutil.FlagErrorf("%s %s: directory %s does not exist; create it or write elsewhere", lf.src("output"), lf.Output, dir)
		}
	}
	if !slices.Contains(OutputFormats, lf.Format) {
		return cmdutil.FlagErrorf("unknown %s %q; use %s", lf.src("format"), lf.Format, strings.Join(OutputFormats, ", "))
	}
	if err := lf.Gate.Parse(); err != nil {
		return err
	}
	_, err := lf.Config() // the engine's own checks, as usage errors
	return err
}

// Config returns the engine configuration the flags describe, with the
// defaults of this package applied, checked by load.Config.Validate (whose
// complaints are usage errors). Progress is left for Execute to set.
func (lf *LoadFlags) Config() (load.Config, error) {
	cfg := load.Config{
		Concurrency: lf.Concurrency,
		ThinkTime:   lf.ThinkTime,
		Duration:    lf.Duration,
		Requests:    lf.Requests,
		Warmup:      lf.Warmup,
		Timeout:     lf.Timeout,
		MaxErrors:   lf.MaxErrors,
		Tick:        lf.Tick,
		Grace:       lf.Grace,
	}
	if lf.set("rate") {
		cfg.Rate = lf.Rate
	}
	if lf.open() {
		cfg.MaxInflight = lf.MaxInflight
	}
	if lf.set("stages") {
		st, err := load.ParseStages(lf.Stages)
		if err != nil {
			return load.Config{}, cmdutil.FlagErrorf("%s %q: %v", lf.src("stages"), lf.Stages, err)
		}
		cfg.Stages = st
	}
	if !lf.open() && cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if lf.Shard != "" {
		i, n, err := ParseShard(lf.Shard)
		if err != nil {
			return load.Config{}, cmdutil.FlagErrorf("%s: %v", lf.src("shard"), err)
		}
		cfg.ShardIndex, cfg.ShardCount, cfg.IntervalHists = i, n, true
		cfg.ShardByTick = lf.ShardBy == ShardByTick
		if cfg.Concurrency > 0 {
			if c := part(int64(cfg.Concurrency), i, n); c > 0 {
				cfg.Concurrency = int(c)
			} else {
				return load.Config{}, cmdutil.FlagErrorf("--concurrency %d cannot be split over %d shards: give each at least one worker", cfg.Concurrency, n)
			}
		}
		if cfg.Requests > 0 && !cfg.ShardByTick {
			if cfg.Requests = part(cfg.Requests, i, n); cfg.Requests == 0 {
				return load.Config{}, cmdutil.FlagErrorf("--requests %d cannot be split over %d shards", lf.Requests, n)
			}
		}
	}
	if lf.StartAt != "" {
		t, err := ParseStartAt(lf.StartAt, time.Now())
		if err != nil {
			return load.Config{}, cmdutil.FlagErrorf("%s: %v", lf.src("start-at"), err)
		}
		cfg.StartAt = t
	}
	// -n or --stages alone bound the run; the default duration applies only
	// when nothing else does.
	if !lf.set("duration") && (lf.Requests > 0 || lf.set("stages")) {
		cfg.Duration = 0
	}
	if err := cfg.Validate(); err != nil {
		return load.Config{}, cmdutil.FlagErrorWrap(err)
	}
	return cfg, nil
}
