package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/loadrig/loadrig/internal/cli/cmdflags"
	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/loadrig/loadrig/internal/cli/loadcmd"
	"github.com/loadrig/loadrig/internal/metrics"
	"github.com/loadrig/loadrig/internal/profile"
)

// Overrides change every workload of a run.
type Overrides struct {
	// Duration, when set, replaces every workload's --duration (workloads
	// on --stages keep theirs: the stages are their length).
	Duration string
	// Rate, when set, replaces every open-model workload's --rate
	// (closed-model and staged workloads keep their model).
	Rate string
	// Extra flags for every workload (e.g. --shard, --start-at).
	Extra []string
	// ShardByTick adds --shard-by=tick to every workload with --rate or
	// --stages; the closed model (and sessions) have no ticks to deal.
	ShardByTick bool
}

func hasFlag(args []string, name string) bool {
	return slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--"+name+"=") })
}

func setFlag(args []string, name, val string) []string {
	out := slices.DeleteFunc(slices.Clone(args), func(a string) bool { return strings.HasPrefix(a, "--"+name+"=") })
	return append(out, "--"+name+"="+val)
}

// WorkloadArgs returns `load PROTOCOL TARGET flags...` for w, writing its
// result to out, with o applied.
func WorkloadArgs(w profile.WorkloadPlan, o Overrides, out string) []string {
	args := slices.Clone(w.Args)
	if o.Duration != "" && !hasFlag(args, "stages") {
		args = setFlag(args, "duration", o.Duration)
	}
	if o.Rate != "" && hasFlag(args, "rate") {
		args = setFlag(args, "rate", o.Rate)
	}
	args = append(args, o.Extra...)
	if o.ShardByTick && (hasFlag(args, "rate") || hasFlag(args, "stages")) {
		args = append(args, "--shard-by=tick")
	}
	args = append(args, "--name="+w.Name, "--output="+out, "--quiet", "--format=text")
	return append([]string{w.Protocol, w.Target}, args...)
}

// Run is one execution of a variant's workloads.
type Run struct {
	Plan       *profile.RunPlan // resolved (addresses filled in)
	PlanHash   string           // of the unresolved plan
	Repetition int              // 1-based
	Dir        string           // results go to Dir/<workload>-r<k>.json
	Overrides  Overrides
	Getenv     func(string) string
}

// WorkloadResult is one workload's outcome.
type WorkloadResult struct {
	Name    string
	File    string          // the result file
	Result  *metrics.Result // nil when the run failed before a result
	Summary string          // the load command's text summary
	Err     error
}

// ResultFile is the result path of workload name, repetition k, in dir.
func ResultFile(dir, name string, k int) string {
	return filepath.Join(dir, fmt.Sprintf("%s-r%d.json", name, k))
}

// RunWorkloads runs every workload of r.Plan at once and waits for all.
// An interrupt reaches every workload; the results they wrote are kept.
func RunWorkloads(ctx context.Context, r Run) ([]WorkloadResult, error) {
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		return nil, err
	}
	getenv := r.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	out := make([]WorkloadResult, len(r.Plan.Workloads))
	var wg sync.WaitGroup
	for i, w := range r.Plan.Workloads {
		file := ResultFile(r.Dir, w.Name, r.Repetition)
		out[i] = WorkloadResult{Name: w.Name, File: file}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var stdout, stderr bytes.Buffer
			ios := iostreams.System(strings.NewReader(""), &stdout, &stderr, getenv)
			f := cmdutil.NewFactory(ios, getenv)
			tree := cmdflags.Tree(f, cmdflags.Load)
			tree.SetArgs(WorkloadArgs(w, r.Overrides, file))
			var res *metrics.Result
			hook := &loadcmd.Hook{Annotate: func(m *metrics.Result) {
				// The shard (--shard in Overrides.Extra) is the load command's.
				m.Variant, m.Repetition, m.PlanHash = r.Plan.Variant, r.Repetition, r.PlanHash
				res = m
			}}
			err := tree.ExecuteContext(loadcmd.WithHook(ctx, hook))
			out[i].Result, out[i].Summary = res, stdout.String()
			if err != nil {
				out[i].Err = fmt.Errorf("workload %s: %w", w.Name, err)
			}
		}()
	}
	wg.Wait()
	var errs []error
	for _, o := range out {
		if o.Err != nil && !errors.Is(o.Err, cmdutil.ErrInterrupted) {
			errs = append(errs, o.Err)
		}
	}
	if ctx.Err() != nil {
		return out, cmdutil.ErrInterrupted
	}
	return out, errors.Join(errs...)
}
