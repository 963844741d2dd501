//go:build linux

package load

import (
	"syscall"
	"time"
)

// fineSleep sleeps d with the kernel's high-resolution timer. Go's timers
// wait in the network poller, whose timeout has millisecond granularity on
// Linux (a 500 µs timer fires after ~1 ms when the process is otherwise
// idle), which alone would make a sub-millisecond scheduler tick impossible
// and push a few percent of sends past the 1 ms lateness threshold. The
// scheduler uses this only for waits under fineSleepMax; the blocking
// syscall releases its P while it sleeps. EINTR (Go's preemption signal)
// just ends the sleep early: the scheduler re-checks the clock.
func fineSleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	_ = syscall.Nanosleep(&ts, nil)
}

const haveFineSleep = true
