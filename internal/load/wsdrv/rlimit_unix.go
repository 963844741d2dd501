//go:build unix

package wsdrv

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// RaiseNoFile raises the process's open-file limit (RLIMIT_NOFILE): the
// hard limit to need when the process may (root), then the soft limit to
// the hard one. It returns the soft and hard limits in force afterwards.
func RaiseNoFile(need uint64) (soft, hard uint64, err error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, 0, err
	}
	if lim.Max < need {
		up := lim
		up.Max, up.Cur = need, need
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &up) == nil {
			lim = up
		}
	}
	if lim.Cur < lim.Max {
		up := lim
		up.Cur = lim.Max
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &up) == nil {
			lim = up
		}
	}
	return lim.Cur, lim.Max, nil
}

// EphemeralPorts is the number of local ports the kernel hands out to
// outgoing connections (net.ipv4.ip_local_port_range), 28232 when unknown.
func EphemeralPorts() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 28232
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 28232
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || hi < lo {
		return 28232
	}
	return hi - lo + 1
}
