//go:build !linux

package load

import "time"

// fineSleep falls back to time.Sleep where no high-resolution sleep is
// wired up; haveFineSleep tells the scheduler to use its timer instead.
func fineSleep(d time.Duration) { time.Sleep(d) }

const haveFineSleep = false
