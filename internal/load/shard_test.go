package load

import (
	"cmp"
	"context"
	"slices"
	"strings"
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

// sendLog is a driver that records, per operation, its sequence number and
// when it was sent (offset from start, on the fake clock).
type sendLog struct {
	mu    sync.Mutex
	start time.Time
	seqs  []uint64
	sent  map[uint64]time.Duration
}

func (s *sendLog) driver() *fakeDriver {
	return &fakeDriver{do: func(ctx context.Context, op *Op) Outcome {
		s.mu.Lock()
		s.seqs = append(s.seqs, op.Seq())
		s.sent[op.Seq()] = time.Since(s.start)
		s.mu.Unlock()
		return Outcome{Err: sleep(ctx, 200*time.Microsecond)}
	}}
}

// TestShardsByTick: dealt by tick, each shard sends the operations intended
// in its own ticks (tickShard(⌊t/Tick⌋)), about 1/N of them, wakes once per
// such tick, at the last
// of them, so every send is under a tick late, and the shards together send
// the plan once: every sequence number once, with the planned counts and no
// "unsent" note, and offered rates that add up to the rate.
func TestShardsByTick(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want int64
		n    int // shards; 0: 3
	}{
		{"rate", Config{Rate: 2000, Duration: 2 * time.Second}, 4000, 0},
		{"high rate", Config{Rate: 10000, Duration: time.Second}, 10000, 0},
		{"low rate", Config{Rate: 500, Duration: 2 * time.Second}, 1000, 0},
		// One operation every 2 ms on 750 µs ticks: round robin would deal
		// two shards 2:1.
		{"low rate, two shards", Config{Rate: 500, Duration: 2 * time.Second}, 1000, 2},
		{"stages", Config{Stages: []Stage{{Duration: time.Second, From: 0, To: 4000}, {Duration: time.Second, From: 4000, To: 4000}}}, 6000, 0},
		{"requests", Config{Rate: 3000, Requests: 2500, Warmup: 100 * time.Millisecond}, 2500 + 300, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := cmp.Or(tc.n, 3)
				tick := DefaultTick
				start := time.Now().Add(time.Second)
				logs := make([]*sendLog, n)
				shards := make([]*metrics.Result, n)
				var wg sync.WaitGroup
				for i := range n {
					logs[i] = &sendLog{start: start, sent: map[uint64]time.Duration{}}
					cfg := tc.cfg
					cfg.ShardIndex, cfg.ShardCount, cfg.ShardByTick, cfg.StartAt, cfg.IntervalHists = i, n, true, start, true
					wg.Go(func() { shards[i] = run(t, t.Context(), logs[i].driver(), cfg) })
				}
				wg.Wait()

				// Where each operation is intended: the one-process schedule.
				cfg := tc.cfg.withDefaults()
				warmRate := cfg.Rate
				if len(cfg.Stages) > 0 {
					warmRate = cfg.Stages[0].From
				}
				sched := newSchedule(cfg.Warmup, warmRate, cfg.Stages, cfg.Rate, cfg.Duration)
				var all []uint64
				for i, l := range logs {
					wakes := map[time.Duration]bool{}
					ticks := map[int64]bool{}
					for _, s := range l.seqs {
						at, ok := (&cursor{s: sched}).offset(s)
						if !ok {
							t.Fatalf("shard %d sent %d, past the schedule", i, s)
						}
						if got := tickShard(int64(at/tick), n); got != i {
							t.Fatalf("shard %d sent %d, intended at %v in tick %d: shard %d's", i, s, at, at/tick, got)
						}
						if late := l.sent[s] - at; late < 0 || late >= tick {
							t.Fatalf("shard %d sent %d (intended %v) at %v: %v late, want [0, %v)", i, s, at, l.sent[s], late, tick)
						}
						wakes[l.sent[s]], ticks[int64(at/tick)] = true, true
					}
					if len(wakes) != len(ticks) {
						t.Errorf("shard %d sent at %d instants for %d ticks, want one each", i, len(wakes), len(ticks))
					}
					if r := shards[i]; r.Generator.Note != "" || r.Model.Rate != shards[0].Model.Rate {
						t.Errorf("shard %d: note %q, model %+v", i, r.Generator.Note, r.Model)
					}
					// Ticks are dealt by a hash of their number: even a
					// rate that beats with the tick spreads evenly.
					if share := float64(len(l.seqs)) / float64(tc.want); share < 0.8/float64(n) || share > 1.2/float64(n) {
						t.Errorf("shard %d sent %d of %d operations", i, len(l.seqs), tc.want)
					}
					all = append(all, l.seqs...)
				}
				slices.Sort(all)
				if int64(len(all)) != tc.want {
					t.Fatalf("the shards sent %d operations, want %d", len(all), tc.want)
				}
				for k, s := range all {
					if s != uint64(k) {
						t.Fatalf("sequence numbers are not 0..%d once each: at %d got %d", len(all)-1, k, s)
					}
				}
				merged, err := metrics.Merge(shards, nil)
				if err != nil {
					t.Fatal(err)
				}
				measured := tc.want - int64(float64(cfg.Warmup.Seconds())*cfg.Rate)
				if merged.Requests.Total != measured {
					t.Fatalf("merged %d measured operations, want %d", merged.Requests.Total, measured)
				}
				if tc.cfg.Rate > 0 && tc.cfg.Requests == 0 {
					if merged.Model.Rate != tc.cfg.Rate {
						t.Errorf("merged rate %v, want %v", merged.Model.Rate, tc.cfg.Rate)
					}
					for _, p := range merged.Timeline[:len(merged.Timeline)-1] {
						if p.OfferedRPS != tc.cfg.Rate {
							t.Errorf("second %v: offered %v, want %v", p.TS, p.OfferedRPS, tc.cfg.Rate)
						}
					}
				}
			})
		})
	}
}

// TestPlannedByTick: a shard's planned count before t, dealt by tick, is
// exactly the number of its operations the scheduler's own offsets put
// before t, across ramps, holds and ticks that fall on an operation.
func TestPlannedByTick(t *testing.T) {
	cfg := Config{Warmup: 300 * time.Millisecond, Stages: []Stage{{Duration: 700 * time.Millisecond, From: 100, To: 4000},
		{Duration: 500 * time.Millisecond, From: 2000, To: 2000}, {Duration: 400 * time.Millisecond, From: 3000, To: 0}},
		ShardCount: 3, ShardByTick: true}.withDefaults()
	for idx := range 3 {
		cfg.ShardIndex = idx
		e := newEngine(&fakeDriver{}, cfg)
		var offs []time.Duration
		c := cursor{s: e.sched}
		for k := uint64(0); ; k++ {
			d, ok := c.offset(k)
			if !ok {
				break
			}
			offs = append(offs, d)
		}
		// Every tick boundary (ties with 2000/s: an operation every 500µs,
		// a tick every 750µs), points between and the ends, in growing
		// order and then once from the start again.
		var at []time.Duration
		for x := time.Duration(0); x <= e.end+time.Millisecond; x += cfg.Tick / 2 {
			at = append(at, x, x+1)
		}
		at = append(at, e.end, 10*time.Millisecond, e.end)
		for _, x := range at {
			want := 0
			for _, d := range offs {
				if d < x && tickShard(int64(d/cfg.Tick), 3) == idx {
					want++
				}
			}
			if got := e.planned(x); got != float64(want) {
				t.Fatalf("shard %d: planned(%v) = %v, want %d", idx, x, got, want)
			}
		}
	}
}

// TestShardByTickNeedsOpenModel: the closed model cannot be dealt by tick.
func TestShardByTickNeedsOpenModel(t *testing.T) {
	err := Config{Concurrency: 2, Duration: time.Second, ShardIndex: 0, ShardCount: 2, ShardByTick: true}.Validate()
	if err == nil || !strings.Contains(err.Error(), "open model") {
		t.Fatalf("err %v", err)
	}
}
