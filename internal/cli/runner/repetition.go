package runner

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/loadrig/loadrig/internal/profile"
)

// Repetition is one run of one variant: fresh servers, all workloads, the
// servers stopped, the results added to the summary.
type Repetition struct {
	Plan *profile.RunPlan // unresolved
	Hash string           // Plan.Hash()
	K    int              // 1-based
	// Dir is the variant's directory; Base the summary's.
	Dir, Base string
	Summary   *Summary
	// Out gets one line per workload.
	Out       io.Writer
	Servers   ServerOptions
	Overrides Overrides
	Getenv    func(string) string
	// BeforeLoad runs after the servers started, before the workloads
	// (compare flushes Redis there). May be nil.
	BeforeLoad func(context.Context, *ServerSet) error
}

// Do runs the repetition.
func (r Repetition) Do(ctx context.Context) error {
	set, err := StartServers(ctx, r.Plan, r.Servers)
	if err != nil {
		return err
	}
	resolved, err := r.Plan.Resolve(set.Addrs)
	if err != nil {
		_ = set.Stop()
		return err
	}
	if r.BeforeLoad != nil {
		if err := r.BeforeLoad(ctx, set); err != nil {
			_ = set.Stop()
			return err
		}
	}
	results, runErr := RunWorkloads(ctx, Run{
		Plan: resolved, PlanHash: r.Hash, Repetition: r.K, Dir: r.Dir, Overrides: r.Overrides, Getenv: r.Getenv,
	})
	stopErr := set.Stop()
	for _, w := range results {
		if w.Result == nil {
			continue
		}
		r.Summary.Add(r.Plan.Variant, r.Hash, w.Name, r.Base, w.File, w.Result)
		if r.Out != nil {
			fmt.Fprintf(r.Out, "  %-24s r%-2d %s\n", r.Plan.Variant+"/"+w.Name, r.K, OneLine(ResultMetrics(w.Result)))
		}
	}
	if runErr != nil {
		return runErr
	}
	if stopErr != nil {
		return fmt.Errorf("stopping servers: %w", stopErr)
	}
	return nil
}

// OneLine renders the summary metrics of one run.
func OneLine(m map[string]float64) string {
	s := fmt.Sprintf("%9.1f req/s  p50 %8s  p99 %8s  errors %6.2f%%", m["rps"], Micros(m["p50_us"]), Micros(m["p99_us"]), 100*m["error_rate"])
	if h, ok := m["hit_ratio"]; ok {
		s += fmt.Sprintf("  hit %5.1f%%", 100*h)
	}
	if p50, ok := m["msg_p50_us"]; ok {
		s += fmt.Sprintf("  messages %.1f/s  p50 %s  p99 %s", m["msgs_rps"], Micros(p50), Micros(m["msg_p99_us"]))
	}
	return s
}

// Micros renders microseconds as a duration.
func Micros(us float64) string {
	d := time.Duration(us * float64(time.Microsecond))
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// VariantDir is where a variant's results go under base.
func VariantDir(base, variant string) string { return filepath.Join(base, variant) }
