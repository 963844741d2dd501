// Package cpupin pins a process to a set of CPUs on Linux, as peer
// benchmark harnesses do to keep the load generator and the server off each
// other's cores. sched_setaffinity applies to one thread, so Pin sets it on
// every thread the process has (/proc/PID/task); threads created later
// inherit their creator's mask. Elsewhere Pin reports that it cannot.
package cpupin
