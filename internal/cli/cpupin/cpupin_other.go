//go:build !linux

package cpupin

import "errors"

// Supported says whether Pin works here.
const Supported = false

// Pin is Linux only.
func Pin(int, []int) error { return errors.New("CPU pinning needs Linux (sched_setaffinity)") }

// Affinity is Linux only.
func Affinity(int) ([]int, error) { return nil, errors.New("CPU affinity needs Linux") }
