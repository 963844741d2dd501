//go:build linux

package load

import (
	"testing"
	"time"
)

// TestFineSleeperInterrupt: interrupt ends an hour-long timerfd sleep in
// progress, and later sleeps return at once. The 30 s bound is a hang
// guard, not a speed assertion.
func TestFineSleeperInterrupt(t *testing.T) {
	s := newFineSleeper()
	if s == nil {
		t.Skip("no timerfd")
	}
	defer s.close()
	if !s.sleep(time.Microsecond) {
		t.Fatal("a 1µs sleep failed")
	}
	done := make(chan bool)
	go func() { done <- s.sleep(time.Hour) }()
	s.interrupt()
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("an interrupted sleep reported the timer unusable")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("interrupt did not end the sleep")
	}
	go func() { done <- s.sleep(time.Hour) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("a sleep after interrupt did not return at once")
	}
}

// TestFineSleeperWaitsTheWhileEverySleep: the timer is armed inside the
// poller wait and its expiry is not read back, so a sleep must still never
// end before its time: neither on the readiness left by the last expiry nor
// on an expiry from the sleep before. Only a lower bound is checked (a
// timerfd never fires early); a slow machine can only make sleeps longer.
func TestFineSleeperWaitsTheWhileEverySleep(t *testing.T) {
	s := newFineSleeper()
	if s == nil {
		t.Skip("no timerfd")
	}
	defer s.close()
	for i, d := range []time.Duration{time.Microsecond, 2 * time.Millisecond, time.Nanosecond, 3 * time.Millisecond, 2 * time.Millisecond, time.Millisecond} {
		start := time.Now()
		if !s.sleep(d) {
			t.Fatalf("sleep %d (%v) reported the timer unusable", i, d)
		}
		if el := time.Since(start); el < d {
			t.Fatalf("sleep %d of %v returned after %v", i, d, el)
		}
	}
}
