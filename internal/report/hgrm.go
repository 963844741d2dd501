package report

import (
	"fmt"
	"io"
	"sort"

	"github.com/loadrig/loadrig/internal/metrics"
)

// hgrmTicks is the ticks per half distance of the percentile distribution,
// as HdrHistogram's own tools print it.
const hgrmTicks = 5

// HgrmFile is one histogram's percentile distribution, named for a file.
type HgrmFile struct {
	Name string // <result label>.<histogram>.hgrm
	Text []byte
}

// Hgrm returns each histogram of each result as HdrHistogram's percentile
// distribution (hdrhistogram-go PercentilesPrint, values in milliseconds),
// the input of HdrHistogram's plotter: one per histogram.
func Hgrm(results ...*metrics.Result) ([]HgrmFile, error) {
	if err := check(results); err != nil {
		return nil, err
	}
	var out []HgrmFile
	for i, r := range results {
		names := make([]string, 0, len(r.Histograms))
		for k := range r.Histograms {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			h, err := metrics.DecodeHistogram(r.Histograms[k])
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", label(r, i), k, err)
			}
			var buf bytesBuffer
			if _, err := h.PercentilesPrint(&buf, hgrmTicks, 1000); err != nil {
				return nil, err
			}
			name := label(r, i)
			if len(results) == 1 && r.Name == "" {
				name = "result"
			}
			out = append(out, HgrmFile{Name: fileSafe(name) + "." + k + ".hgrm", Text: buf.b})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("report: no histograms in the result(s) to print as .hgrm")
	}
	return out, nil
}

// writeHgrm writes every histogram's distribution, each after a "# NAME"
// line (to split into files, use -o DIR).
func writeHgrm(w io.Writer, results ...*metrics.Result) error {
	files, err := Hgrm(results...)
	if err != nil {
		return err
	}
	for i, f := range files {
		if i > 0 {
			if _, err := io.WriteString(w, "\n"); err != nil {
				return err
			}
		}
		if _, err := fmt.Fprintf(w, "# %s\n", f.Name); err != nil {
			return err
		}
		if _, err := w.Write(f.Text); err != nil {
			return err
		}
	}
	return nil
}

type bytesBuffer struct{ b []byte }

func (b *bytesBuffer) Write(p []byte) (int, error) { b.b = append(b.b, p...); return len(p), nil }

// fileSafe keeps letters, digits, '-', '_' and '.', replacing the rest.
func fileSafe(s string) string {
	out := []byte(s)
	for i, c := range out {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			out[i] = '_'
		}
	}
	if len(out) > 100 {
		out = out[:100]
	}
	return string(out)
}
