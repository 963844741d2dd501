//go:build linux

package load

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// fineSleeper waits with a kernel high-resolution timer (timerfd) read
// through Go's network poller. Go's own timers wait in the poller too, but
// their timeout has millisecond granularity on Linux (a 500 µs timer fires
// after ~1 ms when the process is otherwise idle), which would make a
// sub-millisecond scheduler tick impossible. A timerfd becomes readable at
// its exact expiry and wakes the poller at once, so the scheduler parks like
// any goroutine blocked on I/O: it holds no P while it waits.
//
// An earlier version slept in a nanosleep syscall. That holds the P until
// sysmon retakes it; with GOMAXPROCS=1 (a generator pinned to one core)
// responses then sat unpolled, and some runs settled into a mode with a
// ~5.6 ms service time at 5,000 req/s where the same target answered in
// 130 µs (measured with the peer harness, see README design notes).
type fineSleeper struct {
	fd  int
	f   *os.File
	buf [8]byte
}

// newFineSleeper returns nil when no timerfd can be made; the scheduler
// then uses Go timers.
func newFineSleeper() *fineSleeper {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil
	}
	// A non-blocking descriptor makes os.NewFile register it with the poller.
	return &fineSleeper{fd: fd, f: os.NewFile(uintptr(fd), "loadrig-timerfd")}
}

// sleep waits d (> 0). It reports false when the timer could not be used,
// so the caller falls back to Go timers.
func (s *fineSleeper) sleep(d time.Duration) bool {
	its := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	if err := unix.TimerfdSettime(s.fd, 0, &its, nil); err != nil {
		return false
	}
	_, err := s.f.Read(s.buf[:])
	return err == nil
}

func (s *fineSleeper) close() {
	if s != nil {
		s.f.Close()
	}
}
