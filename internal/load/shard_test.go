package load

import (
	"context"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/loadrig/loadrig/internal/metrics"
)

// seqDelay is a driver whose operation seq takes a latency fixed by seq
// alone, and which records every seq it ran.
type seqDelay struct {
	mu   sync.Mutex
	seqs []uint64
}

func seqLatency(seq uint64) time.Duration {
	return time.Duration(1+(seq*7919)%13)*time.Millisecond + 300*time.Microsecond
}

func (s *seqDelay) driver() *fakeDriver {
	return &fakeDriver{do: func(ctx context.Context, op *Op) Outcome {
		s.mu.Lock()
		s.seqs = append(s.seqs, op.Seq())
		s.mu.Unlock()
		return Outcome{Err: sleep(ctx, seqLatency(op.Seq()))}
	}}
}

// TestFourShardsMergeExactly: four shards at a quarter of the rate each,
// started together, merge to the one-process run: the plan's counts, every
// sequence number once, and latency percentiles (run and per second) equal
// to those of one histogram of all samples.
func TestFourShardsMergeExactly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const rate, n = 400.0, 4
		dur := 2 * time.Second
		start := time.Now().Add(time.Second)
		rec := &seqDelay{}
		shards := make([]*metrics.Result, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				shards[i] = run(t, t.Context(), rec.driver(), Config{Rate: rate, Duration: dur, ShardIndex: i, ShardCount: n,
					StartAt: start, IntervalHists: true})
			}()
		}
		wg.Wait()
		merged, err := metrics.Merge(shards, nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(rate * dur.Seconds()); merged.Requests.Total != want || merged.Requests.OK != want {
			t.Fatalf("merged requests %+v, want %d (the plan)", merged.Requests, want)
		}
		slices.Sort(rec.seqs)
		for k, s := range rec.seqs {
			if s != uint64(k) {
				t.Fatalf("sequence numbers of the shards are not 0..%d once each: at %d got %d", len(rec.seqs)-1, k, s)
			}
		}
		for i, r := range shards {
			if r.Model.Rate != rate/n || !r.StartedAt.Equal(start) || r.Requests.Total != int64(rate*dur.Seconds())/n {
				t.Fatalf("shard %d: model %+v started %v requests %+v", i, r.Model, r.StartedAt, r.Requests)
			}
		}
		if merged.Model.Rate != rate {
			t.Fatalf("merged model %+v", merged.Model)
		}

		// One histogram of all samples: every operation's latency (no
		// schedule lag on a fake clock).
		all := metrics.NewHistogram()
		perSecond := map[int]*metrics.Histogram{}
		for _, s := range rec.seqs {
			lat := seqLatency(s)
			all.RecordValue(lat.Microseconds())
			// Operation s is due at s/rate; it completes in the second its
			// end falls in (timeline points close at whole seconds).
			end := time.Duration(float64(s)/rate*float64(time.Second)) + lat
			sec := int(end/time.Second) + 1
			if perSecond[sec] == nil {
				perSecond[sec] = metrics.NewHistogram()
			}
			perSecond[sec].RecordValue(lat.Microseconds())
		}
		if want := metrics.Summarize(all); merged.Latency != want {
			t.Fatalf("merged latency %+v\nwant (one histogram) %+v", merged.Latency, want)
		}
		for _, p := range merged.Timeline {
			h := perSecond[int(p.TS)]
			if h == nil || p.Hist == "" {
				t.Fatalf("second %v: no samples or no histogram: %+v", p.TS, p)
			}
			if p.P50US != h.ValueAtQuantile(50) || p.P99US != h.ValueAtQuantile(99) {
				t.Errorf("second %v: p50 %d p99 %d, want %d %d", p.TS, p.P50US, p.P99US, h.ValueAtQuantile(50), h.ValueAtQuantile(99))
			}
		}

		// And the same as one process at the whole rate.
		one := run(t, t.Context(), (&seqDelay{}).driver(), Config{Rate: rate, Duration: dur})
		if one.Requests.Total != merged.Requests.Total || one.Requests.OK != merged.Requests.OK || one.Latency != merged.Latency {
			t.Fatalf("one process %+v %+v\nmerged %+v %+v", one.Requests, one.Latency, merged.Requests, merged.Latency)
		}
	})
}

// TestClosedShardSequence: closed-model shards number operations i, i+N, ...
func TestClosedShardSequence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &seqDelay{}
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				run(t, t.Context(), rec.driver(), Config{Concurrency: 1, Requests: 10, ShardIndex: i, ShardCount: 3})
			}()
		}
		wg.Wait()
		slices.Sort(rec.seqs)
		if len(rec.seqs) != 30 || rec.seqs[0] != 0 || rec.seqs[29] != 29 {
			t.Fatalf("seqs %v", rec.seqs)
		}
		for k, s := range rec.seqs {
			if s != uint64(k) {
				t.Fatalf("seqs %v", rec.seqs)
			}
		}
	})
}
