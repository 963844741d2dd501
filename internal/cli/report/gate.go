package report

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/report"
	"github.com/spf13/pflag"
)

// StepSummaryEnv names the file GitHub Actions renders as the job summary;
// every command that judges appends its Markdown verdicts to it.
const StepSummaryEnv = "GITHUB_STEP_SUMMARY"

// Gate is the CI side of a command that judges: --threshold and --junit.
// Embed it in a command's options, AddFlags, Parse in RunE (before any run:
// a bad threshold exits 2 with nothing started), and Finish after
// everything else is written.
type Gate struct {
	// Thresholds is --threshold (repeatable): `[WORKLOAD:]METRIC OP VALUE`
	// rules. Default none.
	Thresholds []string
	// JUnit is --junit FILE: write a JUnit XML report of the verdicts.
	// Default "": none.
	JUnit string

	parsed []report.Threshold
}

// AddFlags registers --threshold and --junit on fs.
func (g *Gate) AddFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&g.Thresholds, "threshold", nil, "pass/fail rule [WORKLOAD:]METRIC OP VALUE, e.g. p99<50ms, error_rate<0.1%, hit_ratio>0.9 (repeatable; a breach exits 3)")
	fs.StringVar(&g.JUnit, "junit", "", "write a JUnit XML report (a testcase per threshold) to this file")
}

// Parse checks the thresholds and the --junit directory; errors are usage
// errors.
func (g *Gate) Parse() error {
	ths, err := report.ParseThresholds(g.Thresholds)
	if err != nil {
		return cmdutil.FlagErrorf("--threshold: %v", err)
	}
	g.parsed = ths
	return CheckOutputDir("--junit", g.JUnit)
}

// Parsed returns the thresholds Parse read.
func (g *Gate) Parsed() []report.Threshold { return g.parsed }

// Active reports whether the gate has anything to judge or write.
func (g *Gate) Active() bool { return len(g.parsed) > 0 || g.JUnit != "" }

// CheckOutputDir fails early (before a run) when path's directory does not
// exist, so a long run never loses what it was asked to write.
func CheckOutputDir(flag, path string) error {
	if path == "" || path == "-" {
		return nil
	}
	dir := dirOf(path)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return cmdutil.FlagErrorf("%s %s: directory %s does not exist; create it or write elsewhere", flag, path, dir)
	}
	return nil
}

// Finish writes the JUnit file and appends the Markdown verdicts to
// $GITHUB_STEP_SUMMARY (when getenv has it), then returns a ThresholdError
// (exit 3) when a verdict failed. suite names the JUnit testsuite.
func (g *Gate) Finish(suite string, vs []report.Verdict, getenv func(string) string) error {
	if g.JUnit != "" {
		if err := cmdutil.WriteFile(g.JUnit, func(w io.Writer) error {
			return report.WriteJUnit(w, suite, report.VerdictCases(vs))
		}); err != nil {
			return err
		}
	}
	if len(vs) > 0 {
		if err := AppendStepSummary(getenv, func(w io.Writer) error { return report.Verdicts(w, report.FormatMarkdown, vs) }); err != nil {
			return err
		}
	}
	if report.Breached(vs) {
		return &cmdutil.ThresholdError{Err: fmt.Errorf("%d of %d threshold checks failed", report.Failed(vs), len(vs))}
	}
	return nil
}

// AppendStepSummary appends what write produces to the file named by
// $GITHUB_STEP_SUMMARY, never truncating it; nothing when unset.
func AppendStepSummary(getenv func(string) string, write func(io.Writer) error) error {
	if getenv == nil {
		return nil
	}
	path := getenv(StepSummaryEnv)
	if path == "" {
		return nil
	}
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		return err
	}
	buf.WriteString("\n")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("%s: %w", StepSummaryEnv, err)
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", StepSummaryEnv, err)
	}
	return f.Close()
}

func dirOf(path string) string { return filepath.Dir(path) }
