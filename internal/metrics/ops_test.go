package metrics

import (
	"math/rand/v2"
	"testing"
	"time"
)

// opsResult records n operations spread over two named operations (and some
// unnamed), with errors, and returns the result and the histograms the
// operations' latencies should have.
func opsResult(t *testing.T, n int, seed uint64) (*Result, map[string]*Histogram, map[string]Requests) {
	t.Helper()
	names := []string{"GetProduct", "ListProducts"}
	r := NewRecorder(RecorderConfig{Shards: 3, OperationNames: names})
	rng := rand.New(rand.NewPCG(seed, 1))
	want := map[string]*Histogram{}
	reqs := map[string]Requests{}
	for _, nm := range names {
		want[nm] = NewHistogram()
		reqs[nm] = Requests{ErrorsByKind: map[string]int64{}}
	}
	for i := range n {
		op := rng.IntN(3) // 0: unnamed
		smp := Sample{Latency: time.Duration(1+rng.IntN(50000)) * time.Microsecond, Op: op}
		if rng.IntN(10) == 0 {
			smp.Err = "graphql_error"
		}
		r.Shard(i).RecordOp(&smp)
		if op == 0 {
			continue
		}
		nm := names[op-1]
		q := reqs[nm]
		q.Total++
		if smp.Err == OK {
			q.OK++
			want[nm].RecordValue(Micros(smp.Latency))
		} else {
			q.Errors++
			q.ErrorsByKind[string(smp.Err)]++
		}
		reqs[nm] = q
		if i%500 == 0 {
			r.Collect()
		}
	}
	var res Result
	res.Schema = Schema
	if err := r.Fill(&res); err != nil {
		t.Fatal(err)
	}
	return &res, want, reqs
}

func checkOps(t *testing.T, res *Result, want map[string]*Histogram, reqs map[string]Requests) {
	t.Helper()
	if len(res.Operations) != len(want) {
		t.Fatalf("operations = %v, want %d", res.Operations, len(want))
	}
	for nm, h := range want {
		op := res.Operations[nm]
		if op == nil {
			t.Fatalf("operations.%s missing", nm)
		}
		q := reqs[nm]
		if op.Requests.Total != q.Total || op.Requests.OK != q.OK || op.Requests.Errors != q.Errors ||
			op.Requests.ErrorsByKind["graphql_error"] != q.ErrorsByKind["graphql_error"] {
			t.Errorf("operations.%s.requests = %+v, want %+v", nm, op.Requests, q)
		}
		if op.Latency != Summarize(h) {
			t.Errorf("operations.%s.latency_us = %+v, want %+v", nm, op.Latency, Summarize(h))
		}
		dec, err := DecodeHistogram(op.Histogram)
		if err != nil || dec.TotalCount() != h.TotalCount() || !dec.Equals(h) {
			t.Errorf("operations.%s.histogram does not round-trip (%v)", nm, err)
		}
	}
}

// Named operations get their own counters and latency histograms, and a
// merge of two results adds them exactly (the same as recording all
// operations in one run).
func TestOperationsRecordedAndMergedExactly(t *testing.T) {
	a, wa, qa := opsResult(t, 3000, 1)
	checkOps(t, a, wa, qa)
	b, wb, qb := opsResult(t, 2000, 2)
	a.GraphQL = &GraphQL{ErrorsByCode: map[string]int64{"NOT_FOUND": 2}, APQ: &APQ{Hits: 5, Misses: 1, BytesSaved: 100}}
	b.GraphQL = &GraphQL{ErrorsByCode: map[string]int64{"NOT_FOUND": 1, "UNAUTHENTICATED": 4}}
	b.Subscriptions = &Subscriptions{Subscribers: 2, Expected: 10, Received: 9, CloseCodes: map[string]int64{"1000": 2}}
	a.Subscriptions = &Subscriptions{Subscribers: 1, Expected: 10, Received: 10}
	m, err := Merge([]*Result{a, b}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for nm, h := range wb {
		wa[nm].Merge(h)
		q := qa[nm]
		q.Total += qb[nm].Total
		q.OK += qb[nm].OK
		q.Errors += qb[nm].Errors
		q.ErrorsByKind["graphql_error"] += qb[nm].ErrorsByKind["graphql_error"]
		qa[nm] = q
	}
	checkOps(t, m, wa, qa)
	if g := m.GraphQL; g == nil || g.ErrorsByCode["NOT_FOUND"] != 3 || g.ErrorsByCode["UNAUTHENTICATED"] != 4 || *g.APQ != (APQ{5, 1, 100}) {
		t.Errorf("merged graphql = %+v", m.GraphQL)
	}
	if s := m.Subscriptions; s == nil || s.Expected != 20 || s.Received != 19 || s.Drops != 1 || s.DeliveryRatio != 0.95 || s.CloseCodes["1000"] != 2 {
		t.Errorf("merged subscriptions = %+v", m.Subscriptions)
	}

	// A summary without its histogram cannot be merged exactly.
	a.Operations["GetProduct"].Histogram = ""
	if _, err := Merge([]*Result{a, b}, nil); err == nil {
		t.Error("merge accepted operations.GetProduct without its histogram")
	}
}
