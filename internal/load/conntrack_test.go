package load

import (
	"net"
	"sync"
	"testing"

	"github.com/loadrig/loadrig/internal/metrics"
)

func TestConnTrackerOpenedClosedPeak(t *testing.T) {
	var tr ConnTracker
	if got := tr.Connections(); got != (metrics.Connections{}) {
		t.Fatalf("zero tracker reports %+v, want all zero", got)
	}
	tr.Opened()
	tr.Opened()
	tr.Opened()
	tr.Closed()
	tr.Closed()
	tr.Opened()
	if got, want := tr.Connections(), (metrics.Connections{Opened: 4, PeakOpen: 3}); got != want {
		t.Errorf("Connections() = %+v, want %+v", got, want)
	}
	if n := tr.Open(); n != 2 {
		t.Errorf("Open() = %d, want 2", n)
	}
}

func TestConnTrackerTrackClosesOnce(t *testing.T) {
	var tr ConnTracker
	a, b := net.Pipe()
	defer b.Close()
	c := tr.Track(a)
	if n := tr.Open(); n != 1 {
		t.Fatalf("Open() after Track = %d, want 1", n)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	c.Close() // a second Close reaches the pipe (which ignores it) but is not counted
	if n := tr.Open(); n != 0 {
		t.Errorf("Open() after two Closes = %d, want 0", n)
	}
	if got, want := tr.Connections(), (metrics.Connections{Opened: 1, PeakOpen: 1}); got != want {
		t.Errorf("Connections() = %+v, want %+v", got, want)
	}
	if _, err := c.Write([]byte("x")); err == nil {
		t.Error("Write after Close succeeded: Track did not close the wrapped connection")
	}
}

// TestConnTrackerConcurrent opens and closes connections from many
// goroutines (each closing its connection twice, concurrently) and checks the
// counts add up and the peak stays within what could be open at once. Run it
// with -race.
func TestConnTrackerConcurrent(t *testing.T) {
	const goroutines, each = 8, 200
	var tr ConnTracker
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range goroutines {
		wg.Go(func() {
			<-start
			for range each {
				a, b := net.Pipe()
				c := tr.Track(a)
				var cw sync.WaitGroup
				cw.Go(func() { c.Close() })
				cw.Go(func() { c.Close() })
				cw.Wait()
				b.Close()
			}
		})
	}
	close(start)
	wg.Wait()
	got := tr.Connections()
	if got.Opened != goroutines*each {
		t.Errorf("Opened = %d, want %d", got.Opened, goroutines*each)
	}
	if got.PeakOpen < 1 || got.PeakOpen > goroutines {
		t.Errorf("PeakOpen = %d, want 1..%d", got.PeakOpen, goroutines)
	}
	if n := tr.Open(); n != 0 {
		t.Errorf("Open() after every Close = %d, want 0", n)
	}
}
