package server

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestGCPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live, headroom int64
		base, want     int
	}{
		{3 * mib, 64 * mib, 100, 2133},              // a small live heap: ~64 MiB of growth
		{64 * mib, 64 * mib, 100, 100},              // at the break-even point: GOGC's own
		{512 * mib, 64 * mib, 100, 100},             // a large heap: never below GOGC
		{3 * mib, 64 * mib, 4000, 4000},             // an operator's higher GOGC wins
		{1, 64 * mib, 100, maxGCPercent},            // an almost empty heap: bounded
		{0, 64 * mib, 100, 100},                     // no cycle yet: unchanged
		{3 * mib, 0, 100, 100},                      // no headroom: unchanged
		{3 * mib, math.MaxInt64, 100, maxGCPercent}, // no overflow
	} {
		if got := gcPercentFor(c.live, c.headroom, c.base); got != c.want {
			t.Errorf("gcPercentFor(%d, %d, %d) = %d, want %d", c.live, c.headroom, c.base, got, c.want)
		}
	}
}

func gogc() uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// The pacer raises GOGC after a cycle on this test binary's small heap and
// puts the process's own GOGC back when stopped.
func TestGCPacerFollowsLiveHeap(t *testing.T) {
	base := debug.SetGCPercent(100)
	defer debug.SetGCPercent(base)
	stop, ok := startGCPacer(64 << 20)
	if !ok {
		t.Fatal("pacer did not start with GOGC=100")
	}
	// The percent is set by a cleanup that runs after a cycle; the
	// deadline is a hang guard only.
	for deadline := time.Now().Add(30 * time.Second); gogc() <= 100; {
		if time.Now().After(deadline) {
			t.Fatalf("GOGC still %d after cycles with a small live heap", gogc())
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	stop()
	if got := gogc(); got != 100 {
		t.Fatalf("after stop GOGC = %d, want 100 back", got)
	}
	stop() // a second stop is harmless
	runtime.GC()
	runtime.GC()
	if got := gogc(); got != 100 {
		t.Fatalf("a cycle after stop set GOGC to %d", got)
	}
}

func TestGCPacerOffWithGOGCOff(t *testing.T) {
	base := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(base)
	if _, ok := startGCPacer(64 << 20); ok {
		t.Fatal("pacer started with GOGC=off")
	}
	if _, ok := startGCPacer(0); ok {
		t.Fatal("pacer started with no headroom")
	}
}
