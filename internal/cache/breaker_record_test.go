package cache

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"
)

// timeoutErr is what a net read past its deadline returns.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

var _ net.Error = timeoutErr{}

// TestBreakerOutcomes: a timeout is a failure, a caller's cancellation
// neither resets the count nor adds to it.
func TestBreakerOutcomes(t *testing.T) {
	t.Parallel()
	b := &breaker{threshold: 3, cooldown: time.Second, now: time.Now}
	b.record(fmt.Errorf("redis: %w", timeoutErr{}))
	b.record(context.DeadlineExceeded)
	b.record(fmt.Errorf("get: %w", context.Canceled))
	if b.fails.Load() != 2 || b.isOpen() {
		t.Fatalf("after 2 timeouts and a cancellation: %d failures, open %v; want 2, closed", b.fails.Load(), b.isOpen())
	}
	b.record(timeoutErr{})
	if !b.isOpen() {
		t.Fatal("3 timeouts did not open the breaker")
	}
	b.record(context.Canceled)
	if !b.isOpen() {
		t.Fatal("a cancellation closed the breaker")
	}
	b.record(nil)
	if b.isOpen() || b.fails.Load() != 0 {
		t.Fatal("a success did not close the breaker")
	}
}
