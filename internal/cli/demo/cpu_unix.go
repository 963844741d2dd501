//go:build unix

package demo

import (
	"syscall"
	"time"
)

// processCPU is the user + system CPU time this process has used so far.
// Client and servers share the process, so it is their sum (the other
// processes on the machine are not in it). -1 when it cannot be read.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
