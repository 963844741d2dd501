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
