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
// A sleep is one syscall: the timer is armed inside RawConn.Read's
// callback, after Read has reset the poller's readiness, so the expiry's
// edge always lands after that reset and ends the wait; the callback then
// returns without the speculative read (EAGAIN) that Read would otherwise
// start with, and the wake-up is the expiry itself, so its count is not
// read either (the next arm clears it). Three syscalls per scheduler
// wake-up became one (README design notes, "Two shards at R/2").
//
// The call is raw (no runtime syscall state): the first ordinary syscall
// after the process was idle wakes the runtime's sysmon thread, which then
// polls every 20 µs for a while, and the scheduler goes idle on every tick.
// With raw calls here and in the HTTP fast path's socket I/O, sysmon sleeps
// through an open-model run (README design notes).
type fineSleeper struct {
	fd     int
	f      *os.File
	rc     syscall.RawConn
	its    unix.ItimerSpec
	waitFn func(fd uintptr) bool
	armed  bool // the current sleep's timer is set (waitFn's first call)
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
	s.waitFn = s.armOrExpired
	return s
}

// armOrExpired is RawConn.Read's callback. Its first call in a sleep arms
// the timer and returns false, so Read waits in the poller: Read reset the
// descriptor's readiness just before, so the expiry (or interrupt's 1 ns
// re-arm) is an edge after that reset and ends the wait, however soon it
// comes. Read calls it again only once the poller reported the descriptor
// readable, which only an expiry makes it: the sleep is over. The expiry
// count is left unread; the next arm resets it.
func (s *fineSleeper) armOrExpired(fd uintptr) bool {
	if s.armed {
		s.ok = true
		return true
	}
	s.armed = true
	if _, _, e := unix.RawSyscall6(unix.SYS_TIMERFD_SETTIME, fd, 0, uintptr(unsafe.Pointer(&s.its)), 0, 0, 0); e != 0 {
		s.ok = false
		return true
	}
	// An interrupt whose re-arm came before the arm above (and was
	// overwritten by it) stored stopped before that re-arm: seen here. One
	// that comes later re-arms the timer to expire at once.
	if s.stopped.Load() {
		s.ok = true
		return true
	}
	return false
}

// sleep waits d (> 0). It reports false when the timer could not be used,
// so the caller falls back to Go timers.
func (s *fineSleeper) sleep(d time.Duration) bool {
	if s.stopped.Load() {
		return true
	}
	s.its.Value = unix.NsecToTimespec(int64(d))
	s.armed, s.ok = false, false
	if err := s.rc.Read(s.waitFn); err != nil {
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
