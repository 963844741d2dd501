//go:build !linux

package load

import "time"

// fineSleeper is Linux-only (timerfd); elsewhere newFineSleeper returns nil
// and the scheduler uses Go timers.
type fineSleeper struct{}

func newFineSleeper() *fineSleeper { return nil }

func (s *fineSleeper) sleep(time.Duration) bool { return false }

func (s *fineSleeper) interrupt() {}

func (s *fineSleeper) close() {}
