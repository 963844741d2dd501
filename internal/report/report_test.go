package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/metrics"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

func sum(base int64) metrics.Summary {
	return metrics.Summary{Min: base / 4, Mean: float64(base) * 1.1, P50: base, P90: base * 2, P99: base * 5, P999: base * 9, Max: base * 20, N: 4990}
}

// openResult is a fully populated open-model HTTP result. The figures are
// fixtures for rendering, not measurements.
func openResult() *metrics.Result {
	lag := sum(40)
	return &metrics.Result{
		Schema: metrics.Schema, ToolVersion: "loadrig v0.1.0 (abc1234)",
		StartedAt: time.Date(2026, 11, 28, 18, 0, 0, 0, time.UTC), DurationS: 10,
		Protocol: "http", Target: "http://127.0.0.1:8080/hello", Name: "baseline",
		Model:      metrics.Model{Kind: "open", Rate: 500, MaxInflight: 1000},
		StopReason: metrics.StopDuration,
		Requests: metrics.Requests{Total: 5000, OK: 4990, Errors: 10,
			ErrorsByKind: map[string]int64{"http_503": 4, "timeout": 4, "refused": 2}},
		ThroughputRPS: 499,
		Latency:       sum(1200), ServiceTime: sum(1100), ScheduleLag: &lag,
		ErrorLatency: &metrics.Summary{Min: 300, Mean: 700000, P50: 900, P90: 1000000, P99: 1000000, P999: 1000000, Max: 1000000, N: 10},
		LateSends:    metrics.LateSends{Count: 5, Fraction: 0.001},
		Phases: map[string]metrics.Summary{
			"ttfb": sum(1000), "connect": {Min: 80, Mean: 100, P50: 95, P90: 150, P99: 300, P999: 300, Max: 300, N: 50},
			"dns": {N: 0},
		},
		Connections: metrics.Connections{Opened: 50, Reused: 4950, PeakOpen: 50},
		Cache:       metrics.NewCache(800, 150, 32, 18, "X-Cache"),
		Bytes:       &metrics.Bytes{Sent: 400000, Received: 2500000},
		Server:      loadrigStats(),
		Generator:   metrics.Generator{},
	}
}

// loadrigStats is the shape of a loadrig server's /stats as the result
// file holds it (JSON numbers decode as float64); fixture figures.
func loadrigStats() map[string]any {
	return map[string]any{
		"redis_mode": "spawned",
		"uptime_s":   12.5,
		"auth":       "jwt",
		"cache": map[string]any{
			"backend": "redis", "strategy": "write-behind", "hits": 4100.0, "misses": 900.0,
			"hit_ratio": 0.82, "errors": 0.0, "entries": 640.0,
		},
		"store":        map[string]any{"calls": 1250.0, "rows": 1300.0, "by_method": map[string]any{"GetProduct": 900.0}},
		"connections":  map[string]any{"active": 50.0, "total": 52.0},
		"write_behind": map[string]any{"enabled": true, "backlog": 3.0, "lag_ms": 12.5},
		"requests":     map[string]any{"GET /api/products/{id}": 4500.0},
	}
}

func closedResult() *metrics.Result {
	return &metrics.Result{
		Schema: metrics.Schema, DurationS: 5, Protocol: "grpc", Target: "127.0.0.1:9090",
		Model:         metrics.Model{Kind: "closed", Concurrency: 50, ThinkTimeUS: 10000},
		StopReason:    metrics.StopCount,
		Requests:      metrics.Requests{Total: 1000, OK: 1000, ErrorsByKind: map[string]int64{}},
		ThroughputRPS: 200, Latency: sum(2000), ServiceTime: sum(2000),
		Messages: &metrics.Messages{Sent: 3000, Received: 2990}, MessageLatency: ptr(sum(300)),
		Connections: metrics.Connections{Opened: 1, PeakOpen: 1},
	}
}

func saturatedResult() *metrics.Result {
	r := openResult()
	r.Name = "overloaded"
	r.Cache = nil
	r.Phases = nil
	r.Server = nil
	r.Bytes = nil
	r.ErrorLatency = nil
	r.StopReason = metrics.StopInterrupted
	r.Model = metrics.Model{Kind: "open", Rate: 10000, Stages: "10s:0-10000,20s:10000", MaxInflight: 100}
	r.LateSends = metrics.LateSends{Count: 900, Fraction: 0.18}
	r.Generator = metrics.Generator{Saturated: true}
	return r
}

func ptr[T any](v T) *T { return &v }

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test ./internal/report -update after checking):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestGolden(t *testing.T) {
	cases := map[string][]*metrics.Result{
		"open":      {openResult()},
		"closed":    {closedResult()},
		"saturated": {saturatedResult()},
		"side":      {openResult(), closedResult(), saturatedResult()},
	}
	for name, rs := range cases {
		var txt, md bytes.Buffer
		if err := Text(&txt, rs...); err != nil {
			t.Fatal(err)
		}
		if err := Markdown(&md, rs...); err != nil {
			t.Fatal(err)
		}
		golden(t, name+".txt", txt.Bytes())
		golden(t, name+".md", md.Bytes())
	}
}

// TestNeverSilent checks the saturation and closed-model remarks appear in
// every human format: a report must never hide that the generator fell behind.
func TestNeverSilent(t *testing.T) {
	late := openResult()
	late.LateSends = metrics.LateSends{Count: 100, Fraction: 0.02} // flag not set, fraction says it
	for _, r := range []*metrics.Result{saturatedResult(), late} {
		for _, render := range []func(*bytes.Buffer, ...*metrics.Result) error{
			func(b *bytes.Buffer, rs ...*metrics.Result) error { return Text(b, rs...) },
			func(b *bytes.Buffer, rs ...*metrics.Result) error { return Markdown(b, rs...) },
		} {
			var b bytes.Buffer
			if err := render(&b, r); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), "could not keep the schedule") {
				t.Fatalf("no saturation warning in:\n%s", b.String())
			}
		}
	}
	var b bytes.Buffer
	if err := Text(&b, closedResult()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "closed model: latency is service time") {
		t.Fatalf("no closed-model note:\n%s", b.String())
	}
	r := openResult()
	r.Generator.Note = "tick 1ms"
	b.Reset()
	if err := Text(&b, r); err != nil || !strings.Contains(b.String(), "note: tick 1ms") || strings.Contains(b.String(), "WARNING") {
		t.Fatalf("plain generator note: %v\n%s", err, b.String())
	}
}

func TestJSON(t *testing.T) {
	var b bytes.Buffer
	if err := JSON(&b, openResult()); err != nil {
		t.Fatal(err)
	}
	got, err := metrics.Decode(&b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Target != openResult().Target || got.Latency != openResult().Latency {
		t.Fatalf("round trip lost data: %+v", got)
	}
	b.Reset()
	if err := JSON(&b, openResult(), closedResult()); err != nil {
		t.Fatal(err)
	}
	var arr []metrics.Result
	if err := json.Unmarshal(b.Bytes(), &arr); err != nil || len(arr) != 2 || arr[1].Protocol != "grpc" {
		t.Fatalf("array: %v %+v", err, arr)
	}
}

func TestNoResults(t *testing.T) {
	var b bytes.Buffer
	if Text(&b) == nil || Markdown(&b) == nil || JSON(&b) == nil || Text(&b, nil) == nil {
		t.Fatal("rendering nothing must fail")
	}
}

func TestFormats(t *testing.T) {
	cases := map[string]string{
		us(0): "0µs", us(999): "999µs", us(1000): "1.00ms", us(123456): "123.46ms", us(2500000): "2.50s",
		byteSize(10): "10 B", byteSize(2048): "2.0 KiB", byteSize(5 << 20): "5.0 MiB",
		pct(0.0123): "1.23%", seconds(0.0064): "0.006s", seconds(12.345): "12.35s", rate(499): "499.0/s",
	}
	for got, want := range cases {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func TestAllFailed(t *testing.T) {
	r := &metrics.Result{Schema: metrics.Schema, Protocol: "http", Target: "http://127.0.0.1:1/", DurationS: 1,
		Model: metrics.Model{Kind: "open", Rate: 50, MaxInflight: 1000}, StopReason: metrics.StopDuration,
		Requests:  metrics.Requests{Total: 50, Errors: 50, ErrorsByKind: map[string]int64{"refused": 50}},
		Generator: metrics.Generator{}}
	golden(t, "allfailed.txt", func() []byte {
		var b bytes.Buffer
		if err := Text(&b, r); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}())
}

func TestClosedNoteNotRepeated(t *testing.T) {
	r := closedResult()
	r.Generator.Note = "closed model: latency is service time (no schedule, so stalls hide inside the workers)"
	var b bytes.Buffer
	if err := Text(&b, r); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(b.String(), "closed model"); n != 1 {
		t.Fatalf("closed-model remark printed %d times:\n%s", n, b.String())
	}
}

func TestTextColor(t *testing.T) {
	var plain, col bytes.Buffer
	if err := Text(&plain, saturatedResult()); err != nil {
		t.Fatal(err)
	}
	if err := TextColor(&col, true, saturatedResult()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plain.String(), "\x1b[") || !strings.Contains(col.String(), ansiWarn+"WARNING:"+ansiReset) {
		t.Fatalf("colour: plain %q / colour %q", plain.String(), col.String())
	}
	if strings.ReplaceAll(strings.ReplaceAll(col.String(), ansiWarn, ""), ansiReset, "") != plain.String() {
		t.Fatal("colour output must differ from plain only by escape codes")
	}
}

func TestServerBlock(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    map[string]any
		want [][]string // rows; nil: no block
	}{
		{"loadrig", loadrigStats(), [][]string{
			{"cache", "4100 hits, 900 misses, hit ratio 82.00% (redis, write-behind)"},
			{"store calls", "1250"},
			{"connections", "50 active, 52 total"},
			{"write-behind", "backlog 3, lag 12.5ms"},
			{"redis", "spawned"},
			{"uptime", "12.50s"},
		}},
		{"only some keys", map[string]any{
			"redis_mode":   "none",
			"cache":        map[string]any{"hits": 3.0, "misses": 1.0},
			"store":        map[string]any{"rows": 9.0},
			"connections":  map[string]any{"total": 7.0},
			"write_behind": map[string]any{"enabled": false, "backlog": 0.0},
		}, [][]string{
			{"cache", "3 hits, 1 misses, hit ratio 75.00%"},
			{"connections", "7 total"},
			{"redis", "none"},
		}},
		{"another server", map[string]any{"store_reads": 170.0, "cache": map[string]any{"strategy": "aside"}, "name": "x"},
			[][]string{{"name", "x"}, {"store_reads", "170"}}},
		{"nothing to show", map[string]any{"cache": map[string]any{"strategy": "aside"}}, nil},
		{"absent", nil, nil},
	} {
		tb, ok := serverTable(tc.m)
		if ok != (tc.want != nil) {
			t.Errorf("%s: ok = %v", tc.name, ok)
			continue
		}
		if ok && fmt.Sprint(tb.rows) != fmt.Sprint(tc.want) {
			t.Errorf("%s: rows\n%v\nwant\n%v", tc.name, tb.rows, tc.want)
		}
	}
}

// TestSideBySideEmptyIsDash checks that a result with no completed operation
// shows "-" in the side-by-side latency rows, as the single view does, not
// "0µs" (which reads as a measured latency of zero).
func TestSideBySideEmptyIsDash(t *testing.T) {
	empty := &metrics.Result{Schema: metrics.Schema, Protocol: "http", Target: "http://127.0.0.1:1/", Name: "empty",
		Model: metrics.Model{Kind: "open", Rate: 50, MaxInflight: 1000}, StopReason: metrics.StopInterrupted,
		Requests: metrics.Requests{ErrorsByKind: map[string]int64{}}, ScheduleLag: &metrics.Summary{}}
	var b bytes.Buffer
	if err := Text(&b, openResult(), empty); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(b.String(), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || !(f[0] == "latency" || f[0] == "service" || f[0] == "schedule") {
			continue
		}
		if last := f[len(f)-1]; last != "-" {
			t.Errorf("empty result's column in %q = %q, want -", strings.TrimSpace(line), last)
		}
	}
}

// TestMixedMergeShowsServiceTime checks that a merge of an open and a closed
// result (model "mixed") keeps its service-time and schedule-lag columns:
// the open part's latency and service time differ, so showing latency alone
// hid them.
func TestMixedMergeShowsServiceTime(t *testing.T) {
	m, err := metrics.Merge([]*metrics.Result{mergeable(t, openResult()), mergeable(t, closedResult())}, []string{"open.json", "closed.json"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Model.Kind != "mixed" {
		t.Fatalf("model kind %q, want mixed", m.Model.Kind)
	}
	var b bytes.Buffer
	if err := Text(&b, m); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"service time", "schedule lag", "late sends"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("mixed merge summary lacks %q:\n%s", want, b.String())
		}
	}
}

// mergeable gives r the histograms its summaries claim, recorded at the
// summaries' p50 (the fixtures carry summaries only).
func mergeable(t *testing.T, r *metrics.Result) *metrics.Result {
	t.Helper()
	enc := func(s metrics.Summary) string {
		h := metrics.NewHistogram()
		if err := h.RecordValues(max(s.P50, 1), s.N); err != nil {
			t.Fatal(err)
		}
		e, err := metrics.EncodeHistogram(h)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	r.Histograms = map[string]string{metrics.HistLatency: enc(r.Latency), metrics.HistServiceTime: enc(r.ServiceTime)}
	if r.ScheduleLag != nil {
		r.Histograms[metrics.HistScheduleLag] = enc(*r.ScheduleLag)
	}
	if r.ErrorLatency != nil {
		r.Histograms[metrics.HistError] = enc(*r.ErrorLatency)
	}
	if r.MessageLatency != nil {
		r.Histograms[metrics.HistMessageLatency] = enc(*r.MessageLatency)
	}
	for p, s := range r.Phases {
		r.Histograms[metrics.PhaseHistPrefix+p] = enc(s)
	}
	return r
}

// TestSessionSections: a WebSocket result shows its connection details,
// message errors, fanout and the connect and ack distributions.
func TestSessionSections(t *testing.T) {
	codes := metrics.CodeCounts{"1000": 98, "1001": 2}
	r := &metrics.Result{Schema: metrics.Schema, Protocol: "ws", Target: "ws://127.0.0.1:1/ws/chat", DurationS: 10,
		Model: metrics.Model{Kind: "open", Rate: 50, MaxInflight: 100}, StopReason: metrics.StopDuration,
		Requests:       metrics.Requests{Total: 100, OK: 100},
		Connections:    metrics.Connections{Opened: 102, PeakOpen: 100, Failed: 1, Reconnects: 2, ClosedByCode: &codes},
		Messages:       &metrics.Messages{Sent: 100, Received: 900, Errors: 3, ErrorsByKind: map[string]int64{"no_reply": 3}},
		MessageLatency: &metrics.Summary{P50: 800, N: 900},
		AckLatency:     &metrics.Summary{P50: 400, N: 97},
		ConnectTime:    &metrics.Summary{P50: 1200, N: 102},
		Fanout:         &metrics.Fanout{Expected: 1000, Delivered: 900, DeliveryRatio: 0.9, Dropped: 100, Duplicates: 1, OutOfOrder: 2},
	}
	var b strings.Builder
	if err := Text(&b, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1 failed, 2 reconnects; closed 1000×98 1001×2", "3 errors (no_reply 3)",
		"900 of 1000 delivered (90.00%), 100 dropped, 1 duplicates, 2 out of order", "ack", "connect"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}

// TestLabelsKeepCompareRunsApart checks that the runs of a compare, which
// share their workload name, are labelled by variant and repetition in the
// side-by-side text and in the HTML page, as thresholds scope them.
func TestLabelsKeepCompareRunsApart(t *testing.T) {
	var rs []*metrics.Result
	for _, v := range []string{"cache=none", "cache=lru"} {
		for k := 1; k <= 2; k++ {
			r := histResult(t, "reads", 1, 3)
			r.Variant, r.Repetition = v, k
			rs = append(rs, r)
		}
	}
	plain := openResult()
	plain.Name = ""
	rs = append(rs, plain)
	want := []string{"cache=none/reads r1", "cache=none/reads r2", "cache=lru/reads r1", "cache=lru/reads r2", "#5"}
	for i, r := range rs {
		if got := label(r, i); got != want[i] {
			t.Errorf("label %d = %q, want %q", i, got, want[i])
		}
	}
	var text, page bytes.Buffer
	if err := Text(&text, rs...); err != nil {
		t.Fatal(err)
	}
	if err := HTML(&page, Options{}, rs...); err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		if !strings.Contains(text.String(), w) {
			t.Errorf("text report has no column %q", w)
		}
		if !strings.Contains(page.String(), w) {
			t.Errorf("HTML report does not name %q", w)
		}
	}
}

// TestShardLine: a shard's summary says which part of the run it is, and
// how its operations were dealt.
func TestShardLine(t *testing.T) {
	for by, want := range map[string]string{
		"":     "shard        1/4, operations 1, 5, 9, …",
		"tick": "shard        1/4, dealt by tick (it sends in bursts; the rate above is its average)",
	} {
		r := closedResult()
		r.Shard = &metrics.ShardInfo{Index: 1, Count: 4, By: by}
		var b bytes.Buffer
		if err := Text(&b, r); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), want) {
			t.Errorf("by %q: no %q in\n%s", by, want, b.String())
		}
	}
}
