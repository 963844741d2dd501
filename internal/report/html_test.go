package report

import (
	"bytes"
	"math"
	"regexp"
	"strings"
	"testing"

	"github.com/loadrig/loadrig/internal/metrics"
)

// histResult is openResult with a real latency histogram and a timeline.
func histResult(t *testing.T, name string, scale float64, seconds int) *metrics.Result {
	t.Helper()
	r := openResult()
	r.Name = name
	h := metrics.NewHistogram()
	for i := 1; i <= 5000; i++ {
		// A long-tailed shape: most near 1 ms, a tail to ~1 s.
		v := int64(scale * 1000 / math.Pow(1-float64(i)/5001, 0.6))
		if err := h.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	enc, err := metrics.EncodeHistogram(h)
	if err != nil {
		t.Fatal(err)
	}
	r.Histograms = map[string]string{metrics.HistLatency: enc}
	r.Latency = metrics.Summarize(h)
	for s := range seconds {
		r.Timeline = append(r.Timeline, metrics.Point{TS: float64(s + 1), OfferedRPS: 500, CompletedRPS: 499 - float64(s%7),
			Errors: int64(s % 3), P50US: 1200, P99US: int64(6000 + 1000*(s%5))})
	}
	return r
}

func TestHTMLGolden(t *testing.T) {
	var one, two bytes.Buffer
	if err := Render(&one, FormatHTML, Options{}, histResult(t, "", 1, 10)); err != nil {
		t.Fatal(err)
	}
	ths, _ := ParseThresholds([]string{"p99<50ms"})
	a, b := histResult(t, "lru", 1, 5), histResult(t, "none", 2.5, 5)
	if err := Render(&two, FormatHTML, Options{Verdicts: Evaluate(ths, a, b)}, a, b, closedResult()); err != nil {
		t.Fatal(err)
	}
	// The goldens hold the page without the vendored uPlot (its bytes are
	// checked by its own file): the rest of the page is compared exactly.
	golden(t, "single.html", []byte(strings.Replace(one.String(), stripBanner(uplotJS), "/* uPlot */", 1)))
	golden(t, "side.html", []byte(strings.Replace(two.String(), stripBanner(uplotJS), "/* uPlot */", 1)))
	for _, page := range []string{one.String(), two.String()} {
		if !strings.Contains(page, stripBanner(uplotJS)) || !strings.Contains(page, "Copyright (c) 2022 Leon Sorokin") {
			t.Fatal("uPlot or its licence is not embedded")
		}
	}
	// The tables are HTML, not drawn by script: they show without JavaScript.
	if !strings.Contains(two.String(), "<th>latency p99</th>") || !strings.Contains(two.String(), "<th class=\"good\">✓</th>") {
		t.Error("tables missing from the page")
	}
}

// resourceRef matches anything a browser would fetch from elsewhere.
var resourceRef = regexp.MustCompile(`(?i)((src|href|action|srcset|poster|data)\s*=\s*["']?\s*(https?:)?//)|url\(\s*["']?\s*(https?:)?//|@import|fetch\(|XMLHttpRequest|new\s+WebSocket|EventSource|sendBeacon|import\(`)

// TestHTMLNamesNoResource: nothing leaves the page. The only http(s)
// strings allowed are the results' own targets, as text.
func TestHTMLNamesNoResource(t *testing.T) {
	var buf bytes.Buffer
	a := histResult(t, "a", 1, 3000) // past the LTTB threshold too
	a.Target = `http://127.0.0.1:8080/x?a=<script src="https://evil.example/x.js"></script>`
	if err := Render(&buf, FormatHTML, Options{}, a, histResult(t, "b", 1, 3)); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if m := resourceRef.FindString(page); m != "" {
		t.Fatalf("the page references a resource: %q", m)
	}
	rest := strings.ReplaceAll(strings.ReplaceAll(page, "http://127.0.0.1:8080/x?a=", ""), "http://127.0.0.1:8080/hello", "")
	if i := strings.Index(rest, "http://"); i >= 0 {
		t.Fatalf("unexpected http:// at %q", rest[max(0, i-80):i+40])
	}
	if strings.Contains(rest, "https://") && !strings.Contains(rest, "https://evil.example") {
		t.Fatal("unexpected https://")
	}
	if strings.Contains(page, `<script src=`) || strings.Contains(page, "evil.example/x.js\"></script>") {
		t.Fatal("a target was not escaped")
	}
	if !strings.Contains(page, "default-src 'none'") {
		t.Fatal("no Content-Security-Policy")
	}
	if !strings.Contains(page, "3000 seconds downsampled to") {
		t.Fatal("a 3000-second timeline was not downsampled")
	}
}

func TestLTTB(t *testing.T) {
	n := 10000
	xs, ys := make([]float64, n), make([]float64, n)
	for i := range xs {
		xs[i], ys[i] = float64(i), math.Sin(float64(i)/300)
	}
	ys[5000] = 50 // a spike must survive
	idx := LTTB(xs, ys, 500)
	if len(idx) != 500 || idx[0] != 0 || idx[len(idx)-1] != n-1 {
		t.Fatalf("%d points, first %d last %d", len(idx), idx[0], idx[len(idx)-1])
	}
	spike := false
	for i, j := range idx {
		if i > 0 && j <= idx[i-1] {
			t.Fatal("indices not increasing")
		}
		spike = spike || j == 5000
	}
	if !spike {
		t.Error("LTTB dropped the spike")
	}
	if got := LTTB(xs[:10], ys[:10], 500); len(got) != 10 {
		t.Errorf("short series: %d", len(got))
	}
}
