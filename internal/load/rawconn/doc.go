// Package rawconn wraps a TCP connection so that its Read and Write make
// raw, non-blocking read(2) and write(2) calls inside syscall.RawConn, which
// keeps the Go poller's readiness waits, deadlines and close handling.
//
// Why: every ordinary syscall enters the Go scheduler's syscall state, and
// the first one after the process was idle wakes the runtime's sysmon
// thread, which then polls every 20 µs for a while before sleeping again. A
// load generator goes idle many times a second (between open-model ticks,
// and whenever every request of a closed loop is waiting on the target), so
// it paid a futex wake and several context switches each time. A
// non-blocking socket call never blocks, so it needs no syscall state.
//
// Measured with the peer harness (../shared/bench, target on CPU 0, the
// generator pinned to CPU 1, 3 runs of 10 s; README design notes): the HTTP
// fast path went from 9.4 µs of CPU per request in the closed loop (a
// harness pass before the change, bombardier 9.9) to 7.0 (a pass after it,
// bombardier 10.1, wrk 6.9) and from 36.8-37.6 to 25.2-27.2 µs at 5,000/s
// with a 500 µs tick; strace counted 45 futex and 127 nanosleep calls in a
// whole 3 s open-loop run instead of ~2 and ~3 per tick.
//
// WriteThenRead writes a request and waits for and reads the reply's first
// bytes in one poller wait, without the read(2) that a Read after a Write
// starts with (RawConn.Read resets the poller's readiness before its
// callback, so Read must try before it waits; a request written inside the
// callback, after that reset, cannot have its reply's edge missed). The
// HTTP fast path sends every request this way: one syscall fewer per
// operation (README design notes, "Two shards at R/2").
//
// On systems other than Linux, Wrap returns the connection unchanged.
package rawconn
