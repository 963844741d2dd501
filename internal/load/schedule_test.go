package load

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// offsets returns every offset of s (bounded by limit operations).
func offsets(t *testing.T, s *schedule, limit int) []time.Duration {
	t.Helper()
	c := cursor{s: s}
	var out []time.Duration
	for i := uint64(0); ; i++ {
		d, ok := c.offset(i)
		if !ok {
			return out
		}
		if len(out) == limit {
			t.Fatalf("schedule yields more than %d operations", limit)
		}
		out = append(out, d)
	}
}

func near(a, b time.Duration) bool { return a-b <= 2 && b-a <= 2 }

func TestScheduleConstantRate(t *testing.T) {
	s := newSchedule(0, 0, nil, 1000, 10*time.Second)
	offs := offsets(t, s, 20000)
	if len(offs) != 10000 {
		t.Fatalf("1000/s for 10s gave %d operations, want 10000", len(offs))
	}
	for i, d := range offs {
		if want := time.Duration(i) * time.Millisecond; d != want {
			t.Fatalf("offset %d = %v, want %v", i, d, want)
		}
	}
	if s.cum(2500*time.Millisecond) != 2500 || s.cum(time.Hour) != 10000 {
		t.Fatalf("cum(2.5s)=%v cum(1h)=%v", s.cum(2500*time.Millisecond), s.cum(time.Hour))
	}
	// 3 per second: offsets i/3 s, rounded to the nanosecond.
	s = newSchedule(0, 0, nil, 3, time.Second)
	if got := offsets(t, s, 10); !slices.Equal(got, []time.Duration{0, 333333333, 666666667}) {
		t.Fatalf("3/s offsets = %v", got)
	}
	// Unbounded (run on a count): keeps going.
	c := cursor{s: newSchedule(0, 0, nil, 1000, 0)}
	if d, ok := c.offset(123456789); !ok || d != 123456789*time.Millisecond {
		t.Fatalf("unbounded offset = %v %v", d, ok)
	}
}

func TestScheduleRamps(t *testing.T) {
	// 0→1000 over 10 s: N(t) = 50t², 5000 operations, op i at sqrt(i/50) s.
	up := newSchedule(0, 0, []Stage{{10 * time.Second, 0, 1000}}, 0, 0)
	offs := offsets(t, up, 10000)
	if len(offs) != 5000 {
		t.Fatalf("ramp 0-1000 over 10s gave %d operations, want 5000", len(offs))
	}
	for i, d := range offs {
		want := time.Duration(math.Round(math.Sqrt(float64(i)/50) * 1e9))
		if !near(d, want) {
			t.Fatalf("ramp offset %d = %v, want %v", i, d, want)
		}
	}
	// 1000→0 over 10 s: N(t) = 1000t − 50t², op i at (1000 − sqrt(1e6 − 200i))/100 s.
	down := newSchedule(0, 0, []Stage{{10 * time.Second, 1000, 0}}, 0, 0)
	offs = offsets(t, down, 10000)
	if len(offs) != 5000 {
		t.Fatalf("ramp 1000-0 gave %d operations", len(offs))
	}
	for i, d := range offs {
		want := time.Duration(math.Round((1000 - math.Sqrt(1e6-200*float64(i))) / 100 * 1e9))
		if !near(d, want) {
			t.Fatalf("ramp-down offset %d = %v, want %v", i, d, want)
		}
	}
	// The documented example: 5,000 + 30,000 + 5,000.
	st, err := ParseStages("10s:0-1000,30s:1000,10s:1000-0")
	if err != nil {
		t.Fatal(err)
	}
	all := offsets(t, newSchedule(0, 0, st, 0, 0), 100000)
	if len(all) != 40000 || all[5000] != 10*time.Second || all[35000] != 40*time.Second ||
		all[5001] != 10*time.Second+time.Millisecond {
		t.Fatalf("stages: %d ops, op5000 %v, op5001 %v, op35000 %v", len(all), all[5000], all[5001], all[35000])
	}
	if !slices.IsSorted(all) {
		t.Fatal("offsets not monotonic")
	}
}

func TestScheduleZeroRateSegmentAndWarmup(t *testing.T) {
	st := []Stage{{2 * time.Second, 100, 100}, {3 * time.Second, 0, 0}, {2 * time.Second, 100, 100}}
	s := newSchedule(0, 0, st, 0, 0)
	offs := offsets(t, s, 1000)
	if len(offs) != 400 || offs[199] != 1990*time.Millisecond || offs[200] != 5*time.Second {
		t.Fatalf("zero-rate gap: %d ops, op199 %v, op200 %v", len(offs), offs[199], offs[200])
	}
	if s.end != 7*time.Second {
		t.Fatalf("end = %v", s.end)
	}
	// Warm-up at the first stage's From rate, then the stages.
	w := newSchedule(time.Second, 50, []Stage{{time.Second, 50, 150}}, 0, 0)
	offs = offsets(t, w, 1000)
	if len(offs) != 150 || offs[50] != time.Second {
		t.Fatalf("warm-up: %d ops, op50 %v", len(offs), offs[50])
	}
}

func TestParseStages(t *testing.T) {
	got, err := ParseStages(" 10s:0-1000, 30s:1000 ,1m30s:1e3-2.5, 1s:1e-3 ")
	if err != nil {
		t.Fatal(err)
	}
	want := []Stage{{10 * time.Second, 0, 1000}, {30 * time.Second, 1000, 1000}, {90 * time.Second, 1000, 2.5}, {time.Second, 0.001, 0.001}}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v", got)
	}
	if s := FormatStages(got); s != "10s:0-1000,30s:1000,1m30s:1000-2.5,1s:0.001" {
		t.Fatalf("FormatStages = %q", s)
	}
	for in, frag := range map[string]string{
		"":                "no stages",
		"10s":             `stage 1 "10s": missing ':'`,
		"10s:5,x:5":       `stage 2 "x:5": bad duration "x"`,
		"10s:5,,1s:3":     `stage 2 "": empty stage`,
		"0s:5":            "duration must be greater than 0",
		"-1s:5":           "duration must be greater than 0",
		"10s:-5":          `rate "-5" must be a finite number >= 0`,
		"10s:5-":          `bad rate ""`,
		"10s:a-b":         `bad rate "a"`,
		"10s:NaN":         "finite",
		"10s:5-inf":       "finite",
		"2562047h:1,1h:1": "more than time.Duration can hold",
	} {
		_, err := ParseStages(in)
		if err == nil || !strings.Contains(err.Error(), frag) {
			t.Errorf("ParseStages(%q) = %v, want %q", in, err, frag)
			continue
		}
		if in != "" && !strings.Contains(err.Error(), "want DURATION:RATE or DURATION:FROM-TO") {
			t.Errorf("ParseStages(%q) error lacks the expected form: %v", in, err)
		}
	}
}

func FuzzParseStages(f *testing.F) {
	for _, s := range []string{"10s:0-1000,30s:1000,10s:1000-0", "1s:1e-3-5", "1m:5", "", ",", "1h:0-0", "3ms:.5-1e308"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParseStages(s)
		if err != nil {
			return
		}
		text := FormatStages(st)
		again, err := ParseStages(text)
		if err != nil {
			t.Fatalf("FormatStages(%q) = %q does not parse: %v", s, text, err)
		}
		if !slices.Equal(st, again) {
			t.Fatalf("round trip %q -> %q: %v != %v", s, text, st, again)
		}
		// Valid stages make a schedule whose first offsets are finite and sorted.
		if stagesTotal(st) < time.Hour && peakRate(st) < 1e6 {
			c := cursor{s: newSchedule(0, 0, st, 0, 0)}
			prev := time.Duration(-1)
			for i := uint64(0); i < 100; i++ {
				d, ok := c.offset(i)
				if !ok {
					break
				}
				if d < prev || d < 0 || d > stagesTotal(st) {
					t.Fatalf("offset %d = %v after %v (stages %q)", i, d, prev, text)
				}
				prev = d
			}
		}
	})
}

func TestConfigValidate(t *testing.T) {
	ok := []Config{
		{Rate: 10, Duration: time.Second},
		{Concurrency: 2, Requests: 5},
		{Stages: []Stage{{time.Second, 0, 5}}},
	}
	for _, c := range ok {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
	for frag, c := range map[string]Config{
		"rate must be greater than 0":      {Rate: -1, Duration: time.Second},
		"finite":                           {Rate: math.Inf(1), Duration: time.Second},
		"both a rate and a concurrency":    {Rate: 5, Concurrency: 2, Duration: time.Second},
		"no load model":                    {Duration: time.Second},
		"no run length":                    {Rate: 5},
		"both a rate and stages":           {Rate: 5, Stages: []Stage{{time.Second, 1, 1}}},
		"both a duration and stages":       {Stages: []Stage{{time.Second, 1, 1}}, Duration: time.Second},
		"every stage has rate 0":           {Stages: []Stage{{time.Second, 0, 0}}},
		"think time applies to the closed": {Rate: 5, Duration: time.Second, ThinkTime: time.Millisecond},
		"timeout must not be negative":     {Rate: 5, Duration: time.Second, Timeout: -1},
		"max in-flight":                    {Rate: 5, Duration: time.Second, MaxInflight: -1},
		"requests must not be negative":    {Concurrency: 1, Requests: -1},
	} {
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), frag) {
			t.Errorf("Validate(%+v) = %v, want %q", c, err, frag)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("multi-line error: %q", err)
		}
	}
}

func BenchmarkScheduleOffset(b *testing.B) {
	st := []Stage{{time.Hour, 0, 1e6}, {time.Hour, 1e6, 1e6}}
	c := cursor{s: newSchedule(0, 0, st, 0, 0)}
	var i uint64
	for b.Loop() {
		c.offset(i)
		i++
	}
}
