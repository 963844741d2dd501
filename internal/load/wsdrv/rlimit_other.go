//go:build !unix

package wsdrv

// RaiseNoFile reports no limit where there is no RLIMIT_NOFILE.
func RaiseNoFile(need uint64) (soft, hard uint64, err error) { return need, need, nil }

// EphemeralPorts is IANA's dynamic port range size.
func EphemeralPorts() int { return 16384 }
