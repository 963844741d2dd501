package loadcmd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/metrics"
	"github.com/loadrig/loadrig/internal/report"
	"github.com/spf13/pflag"
)

// Runner runs the engine; load.Run in production, a fake in tests.
type Runner func(ctx context.Context, d load.Driver, cfg load.Config) (*metrics.Result, error)

// Run is what a protocol command hands to Execute.
type Run struct {
	IO     *iostreams.IOStreams // injected streams
	Flags  *LoadFlags           // the validated shared flags
	Driver load.Driver          // the protocol's driver; Execute does not close it
	// Workload names the run when --name does not (Result.Workload): the
	// protocol command's method and target, e.g. "GET URL-template".
	Workload    string
	ToolVersion string // goes into Result.ToolVersion
	Runner      Runner // nil: load.Run
	// Adjust, if set, changes the engine configuration the flags gave
	// (session commands turn it into arrivals of held connections).
	Adjust func(*load.Config)
	// Getenv reads the environment for GITHUB_STEP_SUMMARY; nil: os.Getenv.
	Getenv func(string) string
}

// Execute runs one load test and does everything user-facing around it:
// the live progress line on a terminal, the summary or JSON on stdout, the
// -o result file. It returns cmdutil.ErrInterrupted when the run was stopped
// by a signal (after printing and writing the partial result), so the
// process exits 130.
func Execute(ctx context.Context, r Run) error {
	cfg, err := r.Flags.Config()
	if err != nil {
		return err
	}
	if r.Adjust != nil {
		r.Adjust(&cfg)
		if err := cfg.Validate(); err != nil {
			return cmdutil.FlagErrorWrap(err)
		}
	}
	if cmdutil.IsDryRun(ctx) {
		return cmdutil.ErrDryRun
	}
	if cs, ok := r.Driver.(interface{ CacheSource() string }); ok {
		cfg.CacheSource = cs.CacheSource()
	}
	var prog *progressLine
	if !r.Flags.Quiet && r.IO.ShowProgress() {
		prog = &progressLine{w: r.IO.ErrOut}
		cfg.Progress = prog.update
	}
	run := r.Runner
	if run == nil {
		run = load.Run
	}
	stopProfile, err := startCPUProfile(r.Flags.CPUProfile)
	if err != nil {
		return err
	}
	res, runErr := run(ctx, r.Driver, cfg)
	stopProfile()
	prog.finish()
	if res == nil {
		if runErr == nil {
			runErr = errors.New("the engine returned no result")
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %v", cmdutil.ErrInterrupted, runErr)
		}
		return runErr
	}
	res.ToolVersion = r.ToolVersion
	if c, ok := r.Driver.(interface{ Path() string }); ok {
		res.Client = c.Path()
	}
	if r.Flags.Name != "" {
		res.Name = r.Flags.Name
	} else {
		res.Workload = r.Workload
	}
	if cfg.ShardCount > 0 {
		res.Shard = &metrics.ShardInfo{Index: cfg.ShardIndex, Count: cfg.ShardCount}
		if cfg.ShardByTick {
			res.Shard.By = ShardByTick
		}
		res.PlanHash = r.Flags.planHash(r.Driver)
	}
	if h := hookFrom(ctx); h != nil && h.Annotate != nil {
		h.Annotate(res)
	}
	if r.Flags.Output != "" {
		if err := cmdutil.WriteFile(r.Flags.Output, res.Write); err != nil {
			return err
		}
	}
	vs := report.Evaluate(r.Flags.Gate.Parsed(), res)
	if err := report.Render(r.IO.Out, r.Flags.Format, report.Options{Color: r.IO.ColorEnabled, Verdicts: vs}, res); err != nil {
		return err
	}
	if r.Flags.Output != "" && r.Flags.Format == "text" {
		fmt.Fprintf(r.IO.Out, "\nresult written to %s\n", r.Flags.Output)
	}
	if runErr != nil {
		return runErr
	}
	if res.StopReason == metrics.StopInterrupted || ctx.Err() != nil {
		return cmdutil.ErrInterrupted
	}
	getenv := r.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	return r.Flags.Gate.Finish("loadrig load "+res.Protocol, vs, getenv)
}

// progressLine draws the live progress line on a terminal: one line,
// rewritten in place with \r each time the engine reports.
type progressLine struct {
	mu   sync.Mutex
	w    io.Writer
	last int // width of the last line drawn
}

func (p *progressLine) update(pr load.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	line := formatProgress(pr)
	pad := ""
	if n := len(line); n < p.last {
		pad = strings.Repeat(" ", p.last-n)
	}
	p.last = len(line)
	fmt.Fprint(p.w, "\r"+line+pad)
}

// finish clears the line so the summary starts on a clean one. Safe on nil.
func (p *progressLine) finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last > 0 {
		fmt.Fprint(p.w, "\r"+strings.Repeat(" ", p.last)+"\r")
		p.last = 0
	}
}

// formatProgress renders one progress report: phase, elapsed/total,
// operations done, rate, p99 and errors.
func formatProgress(pr load.Progress) string {
	var b strings.Builder
	if pr.Warmup {
		b.WriteString("warm-up  ")
	}
	b.WriteString(roundDur(pr.Elapsed))
	if pr.Total > 0 {
		b.WriteString("/" + roundDur(pr.Total))
	}
	fmt.Fprintf(&b, "  %d done  %.1f/s  p99 %s  errors %d", pr.Done, pr.RPS, fmtLatency(pr.P99), pr.Errors)
	if pr.MsgRPS > 0 {
		fmt.Fprintf(&b, "  messages %.1f/s", pr.MsgRPS)
	}
	return b.String()
}

func roundDur(d time.Duration) string {
	return d.Round(time.Second).String()
}

func fmtLatency(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// startCPUProfile starts a CPU profile of the generator when path is set and
// returns the function that stops and flushes it.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, cmdutil.FlagErrorf("--cpuprofile: %v", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// planHash identifies a sharded load's plan: the protocol, the target and
// every flag's value except the shard index and where the output goes, so
// shards of one plan share it and merge can refuse mixed plans.
func (lf *LoadFlags) planHash(d load.Driver) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", d.Protocol(), d.Target())
	if lf.fs != nil {
		lf.fs.VisitAll(func(f *pflag.Flag) {
			switch f.Name {
			case "output", "format", "quiet", "cpuprofile", "config":
				return
			case "shard":
				_, n, _ := ParseShard(f.Value.String())
				fmt.Fprintf(h, "shards=%d\x00", n)
				return
			}
			fmt.Fprintf(h, "%s=%s\x00", f.Name, f.Value.String())
		})
	}
	return hex.EncodeToString(h.Sum(nil))
}
