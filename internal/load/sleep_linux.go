//go:build linux

package load

import (
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

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
//
// Both calls per sleep are raw (no runtime syscall state): the first
// ordinary syscall after the process was idle wakes the runtime's sysmon
// thread, which then polls every 20 µs for a while, and the scheduler goes
// idle on every tick. With raw calls here and in the HTTP fast path's
// socket I/O, sysmon sleeps through an open-model run (README design notes).
type fineSleeper struct {
	fd     int
	f      *os.File
	rc     syscall.RawConn
	buf    [8]byte
	its    unix.ItimerSpec
	readFn func(fd uintptr) bool
	ok     bool
	// stopped is set by interrupt: sleeps return at once from then on.
	stopped atomic.Bool
}

// newFineSleeper returns nil when no timerfd can be made; the scheduler
// then uses Go timers.
func newFineSleeper() *fineSleeper {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil
	}
	// A non-blocking descriptor makes os.NewFile register it with the poller.
	s := &fineSleeper{fd: fd, f: os.NewFile(uintptr(fd), "loadrig-timerfd")}
	rc, err := s.f.SyscallConn()
	if err != nil {
		s.f.Close()
		return nil
	}
	s.rc = rc
	s.readFn = s.readExpiry
	return s
}

// readExpiry consumes the expiry count; false (not yet expired) makes
// RawConn.Read wait in the poller until the timer fires.
func (s *fineSleeper) readExpiry(fd uintptr) bool {
	for {
		_, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&s.buf[0])), uintptr(len(s.buf)))
		switch e {
		case 0:
			s.ok = true
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		default:
			s.ok = false
			return true
		}
	}
}

// sleep waits d (> 0). It reports false when the timer could not be used,
// so the caller falls back to Go timers.
func (s *fineSleeper) sleep(d time.Duration) bool {
	s.its.Value = unix.NsecToTimespec(int64(d))
	if _, _, e := unix.RawSyscall6(unix.SYS_TIMERFD_SETTIME, uintptr(s.fd), 0, uintptr(unsafe.Pointer(&s.its)), 0, 0, 0); e != 0 {
		return false
	}
	s.ok = false
	// An interrupt that came before the timer was set above is seen here;
	// one that comes after it re-arms the timer to expire at once, so the
	// read below returns either way.
	if s.stopped.Load() {
		return true
	}
	if err := s.rc.Read(s.readFn); err != nil {
		return false
	}
	return s.ok
}

// interrupt ends the sleep in progress, if any, and makes every later
// sleep return at once: the timer is set to expire in 1 ns.
func (s *fineSleeper) interrupt() {
	s.stopped.Store(true)
	its := unix.ItimerSpec{Value: unix.Timespec{Nsec: 1}}
	_ = unix.TimerfdSettime(s.fd, 0, &its, nil)
}

func (s *fineSleeper) close() {
	if s != nil {
		s.f.Close()
	}
}
