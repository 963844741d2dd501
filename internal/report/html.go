package report

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/loadrig/loadrig/internal/metrics"
)

// uPlot 1.6.32 (MIT), vendored from npm with its licence (assets/uplot).
var (
	//go:embed assets/uplot/uPlot.iife.min.js
	uplotJS string
	//go:embed assets/uplot/uPlot.min.css
	uplotCSS string
	//go:embed assets/uplot/LICENSE
	uplotLicense string
	//go:embed assets/report.js
	reportJS string
	//go:embed assets/report.css
	reportCSS string
)

// maxTimelinePoints is where the timeline is downsampled (LTTB): a chart
// cannot show more points than it has pixels.
const maxTimelinePoints = 2000

// spectrumInverse lists the x values of the percentile spectrum,
// 1/(1−p) from 2 (p50) to 100,000 (p99.999), 12 per decade.
func spectrumInverse() []float64 {
	var xs []float64
	for k := 0; ; k++ {
		x := 2 * math.Pow(10, float64(k)/12)
		if x > 100000*1.0001 {
			break
		}
		xs = append(xs, x)
	}
	if last := xs[len(xs)-1]; last < 100000 {
		xs = append(xs, 100000)
	}
	return xs
}

// htmlData is the data the page's script charts.
type htmlData struct {
	Spectrum  spectrumData   `json:"spectrum"`
	Timelines []timelineData `json:"timelines"`
	Bars      *barData       `json:"bars,omitempty"`
}

type spectrumData struct {
	X      []float64    `json:"x"` // 1/(1−p)
	Names  []string     `json:"names"`
	Series [][]*float64 `json:"series"` // ms; null where unknown
	// Exact is false for a series drawn from the summary percentiles
	// (no histogram in the result).
	Exact []bool `json:"exact"`
}

type timelineData struct {
	Name      string    `json:"name"`
	T         []float64 `json:"t"`
	Offered   []float64 `json:"offered"`
	Completed []float64 `json:"completed"`
	Errors    []float64 `json:"errors"`
	P99       []float64 `json:"p99"`     // ms
	Sampled   int       `json:"sampled"` // original points, when downsampled
}

type barData struct {
	Names []string  `json:"names"`
	P50   []float64 `json:"p50"` // ms
	P99   []float64 `json:"p99"` // ms
	RPS   []float64 `json:"rps"`
}

// HTMLSection is one part of an HTML page: its results' charts and tables.
type HTMLSection struct {
	Title   string // "" for a page of one section: the report's own heading
	Results []*metrics.Result
	// Verdicts are threshold verdicts shown under the section's tables.
	Verdicts []Verdict
	// Notes are extra remarks printed under the section's tables.
	Notes []string
}

// HTML writes one self-contained page: charts (the latency percentile
// spectrum, each result's timeline, side-by-side bars for several results)
// drawn by the embedded uPlot, and under them the same tables as the text
// report, which show without JavaScript. Nothing is loaded from anywhere:
// scripts, styles and data are inline, and a Content-Security-Policy
// forbids any fetch.
func HTML(w io.Writer, opts Options, results ...*metrics.Result) error {
	return HTMLPage(w, "", HTMLSection{Results: results, Verdicts: opts.Verdicts})
}

// HTMLPage writes one self-contained page of several sections (the demo:
// the cache comparison, then the protocols), each with its own charts and
// tables. title "" takes the first section's heading.
func HTMLPage(w io.Writer, title string, sections ...HTMLSection) error {
	if len(sections) == 0 {
		return errNoResults
	}
	var body strings.Builder
	var all []htmlData
	for si, sec := range sections {
		d, err := build(sec.Results)
		if err != nil {
			return err
		}
		d.addVerdicts(sec.Verdicts)
		for _, n := range sec.Notes {
			d.notes = append(d.notes, note{text: n})
		}
		data, err := chartData(sec.Results)
		if err != nil {
			return err
		}
		all = append(all, data)
		if title == "" {
			title = d.heading
		}
		h := "h2"
		if len(sections) > 1 {
			fmt.Fprintf(&body, "<h2 class=\"section\">%s</h2>\n", html.EscapeString(orDash(sec.Title)))
			h = "h3"
		}
		p := fmt.Sprintf("s%d-", si)
		body.WriteString("<section class=\"charts\">\n")
		fmt.Fprintf(&body, "<%s>Latency by percentile</%s>\n<p class=\"hint\">x: percentile on a log axis of 1/(1−p), 50 %% to 99.999 %%; y: latency (log). One line per result.</p>\n<div class=\"chart\" id=\"%sspectrum\"></div>\n", h, h, p)
		if data.Bars != nil {
			fmt.Fprintf(&body, "<%s>Side by side</%s>\n<div class=\"row\"><div class=\"chart half\" id=\"%sbars-latency\"></div><div class=\"chart half\" id=\"%sbars-rps\"></div></div>\n", h, h, p, p)
		}
		for i, t := range data.Timelines {
			fmt.Fprintf(&body, "<%s>Timeline: %s</%s>\n", h, html.EscapeString(t.Name), h)
			if t.Sampled > 0 {
				fmt.Fprintf(&body, "<p class=\"hint\">%d seconds downsampled to %d points (largest-triangle-three-buckets).</p>\n", t.Sampled, len(t.T))
			}
			fmt.Fprintf(&body, "<div class=\"chart\" id=\"%stimeline-%d\"></div>\n", p, i)
		}
		body.WriteString("</section>\n<section class=\"tables\">\n")
		writeHTMLDoc(&body, d)
		body.WriteString("</section>\n")
	}
	js, err := json.Marshal(all) // escapes <, > and &: safe inside <script>
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	b.WriteString("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:\">\n")
	b.WriteString("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	b.WriteString("<title>" + html.EscapeString("loadrig report: "+title) + "</title>\n")
	b.WriteString("<style>\n" + uplotCSS + "\n" + reportCSS + "</style>\n</head>\n<body>\n")
	b.WriteString("<h1>" + html.EscapeString(title) + "</h1>\n")
	b.WriteString("<noscript><p class=\"note\">The charts need JavaScript (inline, nothing is loaded); the tables below do not.</p></noscript>\n")
	b.WriteString(body.String())
	b.WriteString("<script>\n/*! uPlot v1.6.32 | " + strings.ReplaceAll(strings.TrimSpace(uplotLicense), "*/", "* /") + " */\n")
	b.WriteString(stripBanner(uplotJS))
	b.WriteString("\n</script>\n<script>\nconst LOADRIG = " + string(js) + ";\n" + reportJS + "</script>\n</body>\n</html>\n")
	_, err = io.WriteString(w, b.String())
	return err
}

// stripBanner drops uPlot's first-line banner comment (its licence is
// printed in full above it); the code is unchanged.
func stripBanner(s string) string {
	if strings.HasPrefix(s, "/*!") {
		if i := strings.Index(s, "*/"); i >= 0 {
			return strings.TrimLeft(s[i+2:], "\n")
		}
	}
	return s
}

// writeHTMLDoc renders the report's tables and notes as HTML.
func writeHTMLDoc(b *strings.Builder, d doc) {
	for _, t := range d.tables {
		if t.title != "" {
			b.WriteString("<h3>" + html.EscapeString(t.title) + "</h3>\n")
		}
		b.WriteString("<div class=\"scroll\"><table>\n")
		if t.header != nil {
			b.WriteString("<thead><tr>")
			for _, h := range t.header {
				b.WriteString("<th>" + html.EscapeString(h) + "</th>")
			}
			b.WriteString("</tr></thead>\n")
		}
		b.WriteString("<tbody>\n")
		for _, r := range t.rows {
			b.WriteString("<tr>")
			for i, c := range r {
				cls := ""
				switch {
				case c == "✗" || c == "SATURATED" || c == "regression":
					cls = " class=\"bad\""
				case c == "✓":
					cls = " class=\"good\""
				}
				tag := "td"
				if i == 0 {
					tag = "th"
				}
				b.WriteString("<" + tag + cls + ">" + html.EscapeString(c) + "</" + tag + ">")
			}
			b.WriteString("</tr>\n")
		}
		b.WriteString("</tbody>\n</table></div>\n")
	}
	for _, n := range d.notes {
		if n.warning {
			b.WriteString("<p class=\"warning\"><strong>Warning:</strong> " + html.EscapeString(n.text) + "</p>\n")
		} else {
			b.WriteString("<p class=\"note\">" + html.EscapeString(n.text) + "</p>\n")
		}
	}
}

// chartData builds the charts' series from the results.
func chartData(rs []*metrics.Result) (htmlData, error) {
	var d htmlData
	xs := spectrumInverse()
	d.Spectrum.X = xs
	for i, r := range rs {
		name := label(r, i)
		if len(rs) == 1 {
			name = orDash(r.Name)
			if r.Name == "" {
				name = "latency"
			}
		}
		ys, exact, err := spectrum(r, xs)
		if err != nil {
			return d, fmt.Errorf("%s: %w", name, err)
		}
		d.Spectrum.Names = append(d.Spectrum.Names, name)
		d.Spectrum.Series = append(d.Spectrum.Series, ys)
		d.Spectrum.Exact = append(d.Spectrum.Exact, exact)
		if len(r.Timeline) > 0 {
			tname := label(r, i)
			if len(rs) == 1 && r.Name == "" {
				tname = "this run"
			}
			d.Timelines = append(d.Timelines, timeline(tname, r.Timeline))
		}
	}
	if len(rs) > 1 {
		d.Bars = &barData{}
		for i, r := range rs {
			d.Bars.Names = append(d.Bars.Names, label(r, i))
			d.Bars.P50 = append(d.Bars.P50, ms(r.Latency, r.Latency.P50))
			d.Bars.P99 = append(d.Bars.P99, ms(r.Latency, r.Latency.P99))
			d.Bars.RPS = append(d.Bars.RPS, r.ThroughputRPS)
		}
	}
	return d, nil
}

// ms is v in milliseconds, 0 for a distribution without sample.
func ms(s metrics.Summary, v int64) float64 {
	if s.N == 0 {
		return 0
	}
	return float64(v) / 1000
}

// spectrum is the latency at each percentile 1−1/x, in ms: from the
// latency histogram when the result has one (exact), else from the
// summary's percentiles (p50, p90, p99, p99.9, max), stepwise.
func spectrum(r *metrics.Result, xs []float64) ([]*float64, bool, error) {
	ys := make([]*float64, len(xs))
	set := func(i int, v float64) { ys[i] = &v }
	if enc := r.Histograms[metrics.HistLatency]; enc != "" {
		h, err := metrics.DecodeHistogram(enc)
		if err != nil {
			return nil, false, err
		}
		if h.TotalCount() > 0 {
			for i, x := range xs {
				set(i, float64(h.ValueAtQuantile(100*(1-1/x)))/1000)
			}
			return ys, true, nil
		}
	}
	s := r.Latency
	if s.N == 0 {
		return ys, false, nil // all null: no sample
	}
	steps := []struct {
		x float64
		v int64
	}{{2, s.P50}, {10, s.P90}, {100, s.P99}, {1000, s.P999}}
	for i, x := range xs {
		v := s.Max
		for _, st := range steps {
			if x <= st.x*1.0001 {
				v = st.v
				break
			}
		}
		set(i, float64(v)/1000)
	}
	return ys, false, nil
}

func timeline(name string, pts []metrics.Point) timelineData {
	t := timelineData{Name: name}
	idx := make([]int, len(pts))
	for i := range idx {
		idx[i] = i
	}
	if len(pts) > maxTimelinePoints {
		t.Sampled = len(pts)
		// Each series keeps its own shape: the union of LTTB picks per
		// series, a quarter of the budget each.
		get := []func(p metrics.Point) float64{
			func(p metrics.Point) float64 { return p.OfferedRPS },
			func(p metrics.Point) float64 { return p.CompletedRPS },
			func(p metrics.Point) float64 { return float64(p.Errors) },
			func(p metrics.Point) float64 { return float64(p.P99US) },
		}
		keep := map[int]bool{}
		for _, g := range get {
			ys := make([]float64, len(pts))
			xs := make([]float64, len(pts))
			for i, p := range pts {
				xs[i], ys[i] = p.TS, g(p)
			}
			for _, i := range LTTB(xs, ys, maxTimelinePoints/len(get)) {
				keep[i] = true
			}
		}
		idx = idx[:0]
		for i := range keep {
			idx = append(idx, i)
		}
		sort.Ints(idx)
	}
	for _, i := range idx {
		p := pts[i]
		t.T = append(t.T, p.TS)
		t.Offered = append(t.Offered, p.OfferedRPS)
		t.Completed = append(t.Completed, p.CompletedRPS)
		t.Errors = append(t.Errors, float64(p.Errors))
		t.P99 = append(t.P99, float64(p.P99US)/1000)
	}
	return t
}

// LTTB returns the indices of at most n points of (xs, ys) chosen by
// largest-triangle-three-buckets (Steinarsson 2013): the first and last
// point, and from each of n−2 buckets the point forming the largest
// triangle with the previous pick and the next bucket's average. xs must
// be increasing. With n ≥ len(xs) (or n < 3) every index is returned.
func LTTB(xs, ys []float64, n int) []int {
	l := len(xs)
	if n >= l || n < 3 {
		out := make([]int, l)
		for i := range out {
			out[i] = i
		}
		return out
	}
	out := make([]int, 0, n)
	out = append(out, 0)
	every := float64(l-2) / float64(n-2)
	a := 0
	for i := 0; i < n-2; i++ {
		start := int(math.Floor(float64(i)*every)) + 1
		end := int(math.Floor(float64(i+1)*every)) + 1
		nextStart, nextEnd := end, int(math.Floor(float64(i+2)*every))+1
		if nextEnd > l {
			nextEnd = l
		}
		var ax, ay float64
		if nextEnd > nextStart {
			for j := nextStart; j < nextEnd; j++ {
				ax += xs[j]
				ay += ys[j]
			}
			ax /= float64(nextEnd - nextStart)
			ay /= float64(nextEnd - nextStart)
		} else {
			ax, ay = xs[l-1], ys[l-1]
		}
		best, bestArea := start, -1.0
		for j := start; j < end && j < l-1; j++ {
			area := math.Abs((xs[a]-ax)*(ys[j]-ys[a]) - (xs[a]-xs[j])*(ay-ys[a]))
			if area > bestArea {
				best, bestArea = j, area
			}
		}
		out = append(out, best)
		a = best
	}
	return append(out, l-1)
}
