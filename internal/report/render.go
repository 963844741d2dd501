package report

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/loadrig/loadrig/internal/metrics"
)

// Output formats, the one list every command's --format takes.
const (
	FormatText     = "text"
	FormatMarkdown = "markdown"
	FormatJSON     = "json"
	FormatHTML     = "html"
	FormatCSV      = "csv"
	FormatHgrm     = "hgrm"
	FormatJUnit    = "junit"
)

// Formats lists the formats Render writes, in the order help shows them.
var Formats = []string{FormatText, FormatJSON, FormatMarkdown, FormatCSV, FormatHTML, FormatHgrm, FormatJUnit}

// CheckFormat returns an error naming the formats when format is not one.
func CheckFormat(format string) error {
	if slices.Contains(Formats, format) {
		return nil
	}
	return fmt.Errorf("unknown --format %q; use %s", format, strings.Join(Formats, ", "))
}

// Options tune Render.
type Options struct {
	// Color highlights warnings in text with ANSI codes (a terminal).
	Color bool
	// Verdicts are threshold verdicts to show with the results (text,
	// markdown: a table after the report). Default none.
	Verdicts []Verdict
}

// Render writes results in format (one of Formats): one result as a
// summary, several side by side, plus opts.Verdicts when given.
func Render(w io.Writer, format string, opts Options, results ...*metrics.Result) error {
	switch format {
	case FormatJSON:
		return JSON(w, results...)
	case FormatHTML:
		return HTML(w, opts, results...)
	case FormatCSV:
		return CSV(w, results...)
	case FormatHgrm:
		return writeHgrm(w, results...)
	case FormatJUnit:
		// A testcase per threshold verdict (none without --threshold).
		if err := check(results); err != nil {
			return err
		}
		return WriteJUnit(w, "loadrig report", VerdictCases(opts.Verdicts))
	case FormatText, FormatMarkdown:
		d, err := build(results)
		if err != nil {
			return err
		}
		d.addVerdicts(opts.Verdicts)
		if format == FormatMarkdown {
			return writeMarkdown(w, d)
		}
		return writeText(w, d, opts.Color)
	}
	return CheckFormat(format)
}

// addVerdicts appends the verdict table and its summary line.
func (d *doc) addVerdicts(vs []Verdict) {
	if len(vs) == 0 {
		return
	}
	d.tables = append(d.tables, verdictTable(vs))
	d.notes = append(d.notes, noDataNotes(vs)...)
	d.notes = append(d.notes, verdictNote(vs))
}

// Verdicts writes threshold verdicts alone as a table, in text or markdown
// (what GITHUB_STEP_SUMMARY gets).
func Verdicts(w io.Writer, format string, vs []Verdict) error {
	d := doc{heading: "loadrig thresholds"}
	d.addVerdicts(vs)
	if format == FormatMarkdown {
		return writeMarkdown(w, d)
	}
	return writeText(w, d, false)
}
