package runner

import (
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/metrics"
	"github.com/loadrig/loadrig/internal/profile"
	"github.com/loadrig/loadrig/internal/report"
)

// ProfileThresholds parses the profile's thresholds with the report
// grammar; a bad one is a usage error at its file:line:col.
func ProfileThresholds(spec *profile.Spec, plan *profile.RunPlan) ([]report.Threshold, error) {
	var out []report.Threshold
	for i, expr := range plan.Thresholds {
		t, err := report.ParseThreshold(expr)
		if err != nil {
			pos := profile.Pos{File: spec.File}
			if i < len(spec.Thresholds) {
				pos = spec.Thresholds[i].Pos
			}
			return nil, cmdutil.FlagErrorWrap(&profile.Error{Pos: pos, Msg: err.Error()})
		}
		out = append(out, t)
	}
	return out, nil
}

// Judge evaluates every threshold on every run it concerns (each run must
// hold), each verdict scoped VARIANT/WORKLOAD rK, and records them in the
// summary.
func Judge(s *Summary, ths []report.Threshold) []report.Verdict {
	var vs []report.Verdict
	all := s.All()
	for _, t := range ths {
		matched := false
		for _, r := range all {
			if t.Workload != "" && report.Workload(r) != t.Workload {
				continue
			}
			matched = true
			v := report.Evaluate([]report.Threshold{t}, r)[0]
			v.Scope = report.RunLabel(r, report.Workload(r))
			vs = append(vs, v)
		}
		if !matched {
			vs = append(vs, report.Evaluate([]report.Threshold{t}, all...)...)
		}
	}
	for _, v := range vs {
		s.Thresholds = append(s.Thresholds, ThresholdVerdict{Expr: v.Threshold.Expr, Scope: v.Scope, Observed: v.Observed, OK: v.OK})
	}
	return vs
}

// ReportFiles maps a --report format to the file it writes in the
// results directory.
var ReportFiles = map[string]string{
	report.FormatHTML: "report.html", report.FormatMarkdown: "report.md", report.FormatCSV: "results.csv",
	report.FormatText: "report.txt", report.FormatJSON: "results.json",
}

// CheckReports checks --report formats.
func CheckReports(formats []string) error {
	for _, f := range formats {
		if _, ok := ReportFiles[f]; !ok {
			names := make([]string, 0, len(ReportFiles))
			for k := range ReportFiles {
				names = append(names, k)
			}
			slices.Sort(names)
			return cmdutil.FlagErrorf("--report %q: choose from %s", f, strings.Join(names, ", "))
		}
	}
	return nil
}

// WriteReports renders every result of the run (with the verdicts) in each
// format into dir.
func WriteReports(dir string, formats []string, vs []report.Verdict, results []*metrics.Result) ([]string, error) {
	var files []string
	if len(results) == 0 {
		return nil, nil
	}
	for _, f := range formats {
		path := filepath.Join(dir, ReportFiles[f])
		if err := cmdutil.WriteFile(path, func(w io.Writer) error {
			return report.Render(w, f, report.Options{Verdicts: vs}, results...)
		}); err != nil {
			return files, err
		}
		files = append(files, path)
	}
	return files, nil
}
