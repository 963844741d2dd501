package metrics

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	h := NewHistogram()
	for v := int64(1); v <= 1000; v++ {
		h.RecordValue(v)
	}
	s := Summarize(h)
	want := Summary{Min: 1, Mean: 500.5, P50: 500, P90: 900, P99: 990, P999: 999, Max: 1000, N: 1000}
	if s != want {
		t.Fatalf("Summarize = %+v, want %+v", s, want)
	}
	if got := Summarize(NewHistogram()); got != (Summary{}) {
		t.Fatalf("empty Summarize = %+v", got)
	}
	if SummaryPtr(NewHistogram()) != nil || SummaryPtr(nil) != nil {
		t.Fatal("SummaryPtr of empty histogram is not nil")
	}
}

func TestMicrosClamps(t *testing.T) {
	if Micros(-time.Second) != 0 {
		t.Error("negative not clamped to 0")
	}
	if Micros(2*time.Hour) != HistHighest {
		t.Error("2h not clamped to 1h")
	}
	if Micros(1500*time.Microsecond) != 1500 {
		t.Error("1500µs")
	}
}

func TestEncodeDecodeHistogram(t *testing.T) {
	h := NewHistogram()
	for i := int64(0); i < 5000; i++ {
		h.RecordValue(i * 37 % 100000)
	}
	s, err := EncodeHistogram(h)
	if err != nil {
		t.Fatal(err)
	}
	g, err := DecodeHistogram(s)
	if err != nil {
		t.Fatal(err)
	}
	if !g.Equals(h) {
		t.Fatal("decoded histogram differs")
	}
	if _, err := DecodeHistogram("not base64!"); err == nil {
		t.Fatal("garbage decoded without error")
	}
}

func TestCacheRatio(t *testing.T) {
	if NewCache(0, 0, 0, 0, "X-Cache") != nil {
		t.Fatal("cache section without data")
	}
	c := NewCache(6, 2, 1, 1, "X-Cache")
	if c.HitRatio != 0.7 || c.Source != "X-Cache" {
		t.Fatalf("cache = %+v, want ratio 0.7", c)
	}
	if HitRatioOf(0, 0, 0, 0) != 0 {
		t.Fatal("ratio without data")
	}
}

// record feeds a deterministic mix of samples into r, spread over workers.
func record(r *Recorder, n int, seed int) {
	for i := range n {
		s := Sample{
			Latency:   time.Duration(100+(i*7919+seed)%50000) * time.Microsecond,
			HasLag:    true,
			Lag:       time.Duration((i*31+seed)%3000) * time.Microsecond,
			Cache:     CacheStatus(i % 5),
			BytesSent: 10, BytesReceived: 100,
		}
		s.Service = s.Latency - s.Lag
		switch i % 50 {
		case 7:
			s.Err = ErrTimeout
		case 13:
			s.Err = HTTPStatusKind(503)
		default:
			s.PhaseMask = 1 << 1
			s.Phases[1] = time.Duration(i%900) * time.Microsecond
		}
		sh := r.Shard(i)
		sh.RecordOp(&s)
		if i%10 == 0 {
			sh.MessageSent(2)
			sh.MessageReceived(time.Duration(i%777) * time.Microsecond)
		}
		if i%100 == 3 {
			sh.MessageError("no_reply")
		}
		if i%300 == 5 {
			sh.MessageError("error_reply")
		}
		if i%1000 == 999 {
			r.Collect()
		}
	}
}

func TestRecorderFill(t *testing.T) {
	r := NewRecorder(RecorderConfig{Shards: 3, PhaseNames: []string{"dns", "connect"}})
	const n = 10000
	// Reference: everything recorded into single histograms directly.
	lat, svc, lag, errh, msg, ph := NewHistogram(), NewHistogram(), NewHistogram(), NewHistogram(), NewHistogram(), NewHistogram()
	var late, ok, errs, timeouts int64
	var cache [5]int64
	for i := range n {
		l := time.Duration(100+(i*7919)%50000) * time.Microsecond
		lg := time.Duration((i*31)%3000) * time.Microsecond
		lag.RecordValue(Micros(lg))
		if lg > time.Millisecond {
			late++
		}
		cache[i%5]++
		switch i % 50 {
		case 7, 13:
			errs++
			if i%50 == 7 {
				timeouts++
			}
			errh.RecordValue(Micros(l))
		default:
			ok++
			lat.RecordValue(Micros(l))
			svc.RecordValue(Micros(l - lg))
			ph.RecordValue(Micros(time.Duration(i%900) * time.Microsecond))
		}
		if i%10 == 0 {
			msg.RecordValue(Micros(time.Duration(i%777) * time.Microsecond))
		}
	}
	record(r, n, 0)
	var res Result
	if err := r.Fill(&res); err != nil {
		t.Fatal(err)
	}
	if res.Requests.Total != n || res.Requests.OK != ok || res.Requests.Errors != errs {
		t.Fatalf("requests = %+v, want ok %d errors %d", res.Requests, ok, errs)
	}
	if res.Requests.ErrorsByKind["timeout"] != timeouts || res.Requests.ErrorsByKind["http_503"] != errs-timeouts {
		t.Fatalf("errors by kind = %v", res.Requests.ErrorsByKind)
	}
	for _, c := range []struct {
		name string
		got  *Summary
		want *Histogram
	}{{"latency", &res.Latency, lat}, {"service", &res.ServiceTime, svc}, {"lag", res.ScheduleLag, lag},
		{"error", res.ErrorLatency, errh}, {"message", res.MessageLatency, msg}} {
		if c.got == nil || *c.got != Summarize(c.want) {
			t.Errorf("%s summary = %+v, want %+v", c.name, c.got, Summarize(c.want))
		}
	}
	if res.Phases["connect"] != Summarize(ph) || len(res.Phases) != 1 {
		t.Errorf("phases = %+v", res.Phases)
	}
	if res.LateSends.Count != late || res.LateSends.Fraction != float64(late)/n {
		t.Errorf("late sends = %+v, want %d", res.LateSends, late)
	}
	if res.Cache == nil || res.Cache.Hits != cache[CacheHit] || res.Cache.Misses != cache[CacheMiss] ||
		res.Cache.Revalidated != cache[CacheRevalidated] || res.Cache.Other != cache[CacheOther] {
		t.Errorf("cache = %+v, want %v", res.Cache, cache)
	}
	if res.Messages == nil || res.Messages.Sent != 2*n/10 || res.Messages.Received != n/10 {
		t.Errorf("messages = %+v", res.Messages)
	}
	if res.Bytes == nil || res.Bytes.Sent != 10*n || res.Bytes.Received != 100*n {
		t.Errorf("bytes = %+v", res.Bytes)
	}
	for _, k := range []string{HistLatency, HistServiceTime, HistScheduleLag, HistError, HistMessageLatency, "phase_connect"} {
		if res.Histograms[k] == "" {
			t.Errorf("histogram %s missing", k)
		}
	}
	if _, ok := res.Histograms["phase_dns"]; ok {
		t.Error("histogram for a phase never reported")
	}
}

func TestRecorderIntervalAndBoundedMemory(t *testing.T) {
	r := NewRecorder(RecorderConfig{Shards: 4})
	s := Sample{Latency: 2 * time.Millisecond, Service: time.Millisecond, HasLag: true, Lag: time.Millisecond}
	var counts []int
	for round := range 50 {
		for w := range 100 {
			s.Err = OK
			if w == 0 {
				s.Err = ErrRefused
			}
			r.Shard(w).RecordOp(&s)
		}
		iv := r.Collect()
		if iv.OK != 99 || iv.Errors != 1 || iv.P50 != 2000 || iv.P99 != 2000 || iv.Lagged != 100 || iv.Late != 0 {
			t.Fatalf("round %d: interval %+v", round, iv)
		}
		counts = append(counts, r.HistogramCount())
	}
	for _, c := range counts[1:] {
		if c != counts[0] {
			t.Fatalf("histogram count grew: %v", counts)
		}
	}
	// 4 shards x 3 distributions + the error histogram of shard 0 (only
	// worker 0 fails) + 4 spares + 4 totals + 1 interval.
	if counts[0] != 22 {
		t.Fatalf("histograms = %d, want 22", counts[0])
	}
	if tot := r.Totals(); tot.OK != 50*99 || tot.Errors != 50 {
		t.Fatalf("totals %+v", tot)
	}
	if iv := r.Collect(); iv != (Interval{}) {
		t.Fatalf("empty interval = %+v", iv)
	}
}

func TestRecordOpDoesNotAllocate(t *testing.T) {
	r := NewRecorder(RecorderConfig{Shards: 1, PhaseNames: []string{"a"}})
	sh := r.Shard(0)
	s := Sample{Latency: time.Millisecond, Service: time.Millisecond, HasLag: true, PhaseMask: 1}
	e := Sample{Latency: time.Millisecond, Err: ErrTimeout}
	sh.RecordOp(&s)
	sh.RecordOp(&e)
	sh.MessageReceived(time.Millisecond)
	sh.MessageError("no_reply")
	if a := testing.AllocsPerRun(1000, func() {
		sh.RecordOp(&s)
		sh.RecordOp(&e)
		sh.MessageSent(1)
		sh.MessageReceived(time.Millisecond)
		sh.MessageError("no_reply")
	}); a != 0 {
		t.Fatalf("record path allocates %v per run", a)
	}
	r.Collect()
	if a := testing.AllocsPerRun(100, func() {
		sh.RecordOp(&s)
		sh.RecordOp(&e)
	}); a != 0 {
		t.Fatalf("record path allocates %v per run after Collect", a)
	}
}

func resultOf(t testing.TB, n, seed int, dur float64) *Result {
	t.Helper()
	r := NewRecorder(RecorderConfig{Shards: 2, PhaseNames: []string{"dns", "connect"}})
	record(r, n, seed)
	res := &Result{Schema: Schema, DurationS: dur, Protocol: "http", Target: "http://127.0.0.1:1/",
		Model: Model{Kind: "open", Rate: 100, MaxInflight: 10}, StopReason: StopDuration,
		StartedAt:   time.Date(2026, 11, 28, 12, 0, seed, 0, time.UTC),
		Connections: Connections{Opened: 3, Reused: 100, PeakOpen: 3},
		Timeline: []Point{{TS: 1, OfferedRPS: 100, CompletedRPS: 90, Errors: 1, P50US: 100, P99US: 1000 + int64(seed)},
			{TS: 2, OfferedRPS: 100, CompletedRPS: 95, P50US: 120, P99US: 900}}}
	if err := r.Fill(res); err != nil {
		t.Fatal(err)
	}
	if res.Cache != nil {
		res.Cache.Source = "X-Cache"
	}
	return res
}

func TestMergeIsExact(t *testing.T) {
	a, b := resultOf(t, 3000, 0, 10), resultOf(t, 5000, 5, 12)
	// The reference records both inputs' samples into one recorder.
	ref := NewRecorder(RecorderConfig{Shards: 1, PhaseNames: []string{"dns", "connect"}})
	record(ref, 3000, 0)
	record(ref, 5000, 5)
	var want Result
	if err := ref.Fill(&want); err != nil {
		t.Fatal(err)
	}
	m, err := Merge([]*Result{a, b}, []string{"a.json", "b.json"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Latency != want.Latency || m.ServiceTime != want.ServiceTime || *m.ScheduleLag != *want.ScheduleLag ||
		*m.ErrorLatency != *want.ErrorLatency || *m.MessageLatency != *want.MessageLatency {
		t.Fatalf("merged summaries differ:\n%+v\n%+v", m.Latency, want.Latency)
	}
	if !reflect.DeepEqual(m.Phases, want.Phases) {
		t.Fatalf("phases %+v want %+v", m.Phases, want.Phases)
	}
	if !reflect.DeepEqual(m.Requests, want.Requests) {
		t.Fatalf("requests %+v want %+v", m.Requests, want.Requests)
	}
	if m.LateSends != want.LateSends || !reflect.DeepEqual(m.Messages, want.Messages) || *m.Bytes != *want.Bytes {
		t.Fatalf("late %+v/%+v messages %+v/%+v", m.LateSends, want.LateSends, m.Messages, want.Messages)
	}
	wc := *want.Cache
	wc.Source = "X-Cache"
	if *m.Cache != wc {
		t.Fatalf("cache %+v want %+v", m.Cache, wc)
	}
	if m.DurationS != 12 || m.ThroughputRPS != float64(want.Requests.OK)/12 {
		t.Fatalf("duration %v throughput %v", m.DurationS, m.ThroughputRPS)
	}
	if m.Connections != (Connections{Opened: 6, Reused: 200, PeakOpen: 6}) {
		t.Fatalf("connections %+v", m.Connections)
	}
	if !m.StartedAt.Equal(a.StartedAt) || m.Model.Rate != 200 || m.Model.MaxInflight != 20 || m.Model.Kind != "open" {
		t.Fatalf("started %v model %+v", m.StartedAt, m.Model)
	}
	wantTL := []Point{{TS: 1, OfferedRPS: 200, CompletedRPS: 180, Errors: 2, P50US: 100, P99US: 1005},
		{TS: 2, OfferedRPS: 200, CompletedRPS: 190, P50US: 120, P99US: 900}}
	if !reflect.DeepEqual(m.Timeline, wantTL) {
		t.Fatalf("timeline %+v", m.Timeline)
	}
	if !reflect.DeepEqual(m.Inputs, []string{"a.json", "b.json"}) {
		t.Fatalf("inputs %v", m.Inputs)
	}
	// Merging the merge with nothing else changes no figure.
	again, err := Merge([]*Result{m}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Latency != m.Latency || !reflect.DeepEqual(again.Histograms, m.Histograms) {
		t.Fatal("re-merge changed the result")
	}
}

func TestMergeRejects(t *testing.T) {
	a := resultOf(t, 100, 0, 1)
	bad := *a
	bad.Schema = "loadrig.result/v0"
	if _, err := Merge([]*Result{a, &bad}, []string{"a.json", "old.json"}); err == nil ||
		!strings.Contains(err.Error(), "old.json") || !strings.Contains(err.Error(), "loadrig.result/v0") {
		t.Fatalf("schema mismatch: %v", err)
	}
	noHist := *a
	noHist.Histograms = map[string]string{}
	if _, err := Merge([]*Result{a, &noHist}, nil); err == nil || !strings.Contains(err.Error(), "input 2") {
		t.Fatalf("missing histogram: %v", err)
	}
	if _, err := Merge(nil, nil); err == nil {
		t.Fatal("empty merge accepted")
	}
	if _, err := Merge([]*Result{a}, []string{"a", "b"}); err == nil {
		t.Fatal("input names of another length accepted")
	}
	garbled := *a
	garbled.Histograms = map[string]string{}
	for k, v := range a.Histograms {
		garbled.Histograms[k] = v
	}
	garbled.Histograms[HistLatency] = "!!"
	if _, err := Merge([]*Result{&garbled}, []string{"g.json"}); err == nil ||
		!strings.Contains(err.Error(), `g.json: histogram "latency"`) {
		t.Fatalf("garbled histogram: %v", err)
	}
	stop := *a
	stop.StopReason = StopInterrupted
	m, err := Merge([]*Result{a, &stop}, nil)
	if err != nil || m.StopReason != StopInterrupted {
		t.Fatalf("stop reason %q %v", m.StopReason, err)
	}
}

func TestDecodeAndWrite(t *testing.T) {
	a := resultOf(t, 500, 1, 2)
	a.Server = map[string]any{"hits": 3.0}
	a.Target = "http://127.0.0.1:1/p?a=1&b=<2>"
	var buf bytes.Buffer
	if err := a.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "\n  \"schema\": \"loadrig.result/v1\"") || !strings.Contains(buf.String(), "?a=1&b=<2>") {
		t.Fatalf("not indented JSON:\n%.200s", buf.String())
	}
	b, err := Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("round trip differs:\n%+v\n%+v", a, b)
	}
	for in, want := range map[string]string{
		`{"schema":"loadrig.result/v9"}`: `unsupported result schema "loadrig.result/v9"`,
		`{"requests":{}}`:                `no "schema" key`,
		`[1,2]`:                          "not a loadrig result file",
	} {
		if _, err := Decode(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Decode(%s) = %v, want %q", in, err, want)
		}
	}
	if _, err := Load(t.TempDir() + "/missing.json"); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}

func FuzzDecodeResult(f *testing.F) {
	var buf bytes.Buffer
	resultOf(f, 200, 3, 1).Write(&buf)
	f.Add(buf.Bytes())
	f.Add([]byte(`{"schema":"loadrig.result/v1","started_at":"2026-11-28T12:00:00+01:00","server":{"a":[1,"x",null]}}`))
	f.Add([]byte(`{"schema":"loadrig.result/v1","histograms":{"latency":"HISTFAAAAA=="}}`))
	f.Add([]byte(`{"schema":"x"}`))
	// Empty optional sections decode to the same value as absent ones (CI's
	// fuzz smoke found "server":{} round-tripping to nil).
	f.Add([]byte(`{"schema":"loadrig.result/v1","server":{},"phases_us":{},"inputs":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Decode(bytes.NewReader(data))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := r.Write(&out); err != nil {
			t.Fatalf("decoded result does not encode: %v", err)
		}
		r2, err := Decode(&out)
		if err != nil {
			t.Fatalf("re-encoded result does not decode: %v\n%s", err, out.Bytes())
		}
		if !r.StartedAt.Equal(r2.StartedAt) {
			t.Fatalf("started_at %v != %v", r.StartedAt, r2.StartedAt)
		}
		r.StartedAt = r2.StartedAt
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip differs:\n%#v\n%#v", r, r2)
		}
		// Merging a decoded result must not panic either.
		Merge([]*Result{r}, nil)
	})
}

func BenchmarkRecordOp(b *testing.B) {
	r := NewRecorder(RecorderConfig{Shards: 1})
	sh := r.Shard(0)
	s := Sample{Latency: 1234 * time.Microsecond, Service: 1100 * time.Microsecond, HasLag: true, Lag: 134 * time.Microsecond}
	b.ReportAllocs()
	for b.Loop() {
		sh.RecordOp(&s)
	}
}

func BenchmarkRecordOpParallel(b *testing.B) {
	r := NewRecorder(RecorderConfig{Shards: 4})
	var id int64
	var mu = make(chan struct{}, 1)
	mu <- struct{}{}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		<-mu
		sh := r.Shard(int(id))
		id++
		mu <- struct{}{}
		s := Sample{Latency: 1234 * time.Microsecond, Service: 1100 * time.Microsecond, HasLag: true, Lag: 134 * time.Microsecond}
		for pb.Next() {
			sh.RecordOp(&s)
		}
	})
}

func BenchmarkCollect(b *testing.B) {
	r := NewRecorder(RecorderConfig{Shards: 4})
	s := Sample{Latency: 1234 * time.Microsecond, Service: 1100 * time.Microsecond, HasLag: true, Lag: 134 * time.Microsecond}
	b.ReportAllocs()
	for b.Loop() {
		for w := range 4 {
			r.Shard(w).RecordOp(&s)
		}
		r.Collect()
	}
}

func BenchmarkMerge(b *testing.B) {
	var rs []*Result
	var names []string
	for i := range 4 {
		rs = append(rs, resultOf(b, 5000, i, 10))
		names = append(names, fmt.Sprintf("r%d.json", i))
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Merge(rs, names); err != nil {
			b.Fatal(err)
		}
	}
}

// TestIntervalMessages checks the per-interval message figures the timeline
// is made of: counts are the interval's own, percentiles come from the
// interval's message latencies only, and the totals hold every interval.
func TestIntervalMessages(t *testing.T) {
	r := NewRecorder(RecorderConfig{Shards: 2})
	for i := range 100 {
		sh := r.Shard(i)
		sh.MessageSent(1)
		sh.MessageReceived(time.Duration(i+1) * time.Millisecond) // 1..100 ms
	}
	r.Shard(1).MessageError("no_reply")
	iv := r.Collect()
	if iv.MsgSent != 100 || iv.MsgReceived != 100 || iv.MsgErrors != 1 {
		t.Fatalf("interval counts %+v", iv)
	}
	// HDR at 3 significant digits: within 0.1 %.
	if iv.MsgP50 < 49_950 || iv.MsgP50 > 50_050 || iv.MsgP99 < 98_900 || iv.MsgP99 > 99_100 {
		t.Fatalf("interval message p50 %d p99 %d µs, want ~50000 and ~99000", iv.MsgP50, iv.MsgP99)
	}
	r.Shard(0).MessageReceived(7 * time.Microsecond)
	iv = r.Collect()
	if iv.MsgSent != 0 || iv.MsgReceived != 1 || iv.MsgErrors != 0 || iv.MsgP50 != 7 || iv.MsgP99 != 7 {
		t.Fatalf("second interval %+v, want one 7 µs message", iv)
	}
	var res Result
	if err := r.Fill(&res); err != nil {
		t.Fatal(err)
	}
	if res.Messages == nil || res.Messages.Sent != 100 || res.Messages.Received != 101 || res.Messages.Errors != 1 ||
		res.Messages.ErrorsByKind["no_reply"] != 1 || res.MessageLatency == nil || res.MessageLatency.N != 101 {
		t.Fatalf("totals %+v %+v", res.Messages, res.MessageLatency)
	}
}

// TestMergeSessionSections: connection details, connect and ack time, and
// fanout of two WebSocket results merge exactly, and round-trip.
func TestMergeSessionSections(t *testing.T) {
	mk := func(n int64, codes CodeCounts, exp, del int64) *Result {
		h := NewHistogram()
		a := NewHistogram()
		for i := range n {
			h.RecordValue(1000 + i)
			a.RecordValue(200 + i)
		}
		ch, _ := EncodeHistogram(h)
		ah, _ := EncodeHistogram(a)
		lat, _ := EncodeHistogram(NewHistogram())
		f := &Fanout{Expected: exp, Delivered: del, Duplicates: 1, OutOfOrder: 2}
		f.SetRatio()
		return &Result{Schema: Schema, Protocol: "ws", DurationS: 1, StopReason: StopDuration,
			Histograms:  map[string]string{HistLatency: lat, HistServiceTime: lat, HistConnectTime: ch, HistAckLatency: ah},
			Connections: Connections{Opened: n, PeakOpen: n, Failed: 1, Reconnects: 2, ClosedByCode: &codes},
			ConnectTime: SummaryPtr(h), AckLatency: SummaryPtr(a), Fanout: f}
	}
	a := mk(10, CodeCounts{"1000": 9, "1001": 1}, 100, 90)
	b := mk(20, CodeCounts{"1000": 20}, 200, 200)
	m, err := Merge([]*Result{a, b}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := m.Connections
	if c.Opened != 30 || c.Failed != 2 || c.Reconnects != 4 || (*c.ClosedByCode)["1000"] != 29 || (*c.ClosedByCode)["1001"] != 1 {
		t.Fatalf("connections %+v %v", c, *c.ClosedByCode)
	}
	if m.ConnectTime.N != 30 || m.ConnectTime.Min != 1000 || m.AckLatency.N != 30 || m.AckLatency.Max != 219 {
		t.Fatalf("connect %+v ack %+v", m.ConnectTime, m.AckLatency)
	}
	if f := m.Fanout; f.Expected != 300 || f.Delivered != 290 || f.Dropped != 10 || f.Duplicates != 2 || f.OutOfOrder != 4 || f.DeliveryRatio != 290.0/300 {
		t.Fatalf("fanout %+v", f)
	}
	var buf bytes.Buffer
	if err := m.Write(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Connections, m.Connections) || *back.Fanout != *m.Fanout || *back.ConnectTime != *m.ConnectTime {
		t.Fatalf("round trip: %+v / %+v", back.Connections, m.Connections)
	}
}

// Connections must stay comparable (drivers and tests compare it with ==):
// this does not compile otherwise.
var _ = Connections{} == Connections{}
