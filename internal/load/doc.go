// Package load is loadrig's protocol-neutral load engine: it paces
// operations, runs them on workers through a Driver, times them, and
// returns a loadrig.result/v1 Result (package metrics). Protocols plug in as
// Drivers (load/httpdrv, grpcdrv, gqldrv, wsdrv); the engine knows nothing
// about them or about loadrig's own servers.
//
// # Load models
//
// Open model (Config.Rate or Config.Stages): operations are scheduled at a
// total rate. Operation i has an intended start from the schedule: i/R for a
// constant rate; with stages, the t where the integral of the
// piecewise-linear rate reaches i, solved exactly (a square root within a
// ramp; a 0-rate stage schedules nothing). A scheduler goroutine wakes at the
// next intended start, but at most once per Config.Tick, and hands every
// due operation over an unbuffered channel to an idle worker; while fewer than
// Config.MaxInflight workers exist and none is idle it starts one, so a 10/s
// run does not open 1,000 connections. When all MaxInflight are busy the
// scheduler waits: the operation is sent late, never skipped. If the run's
// planned end arrives while it still waits, the remaining scheduled
// operations are not sent and the result says how many.
//
// Each open-model operation has three times (MEASUREMENT.md):
//
//	latency       = completion − intended start   (what a user arriving on schedule feels)
//	service time  = completion − actual send       (Op.MarkSent, or the moment Do was called)
//	schedule lag  = actual send − intended start   (its own histogram)
//
// When more than 1 % of sends are more than 1 ms late, Generator.Saturated
// is set and Generator.Note says plainly that the generator or its in-flight
// cap (named, with how often it was reached) could not keep the schedule and
// that latency includes the wait. Latency from the intended start is what
// keeps a stalled target honest: a target that stalls S every T shows, at a
// constant rate, a fraction S/T of operations with latency spread over 0..S.
// Service time shows the same only while every request goes out on time
// (ample in-flight capacity); once requests queue inside the generator (an
// in-flight cap, or the closed model's fixed workers) only the few that met
// the stall at the target show it, and the stall hides in the queue
// (TestStallAnalytic and TestStallClosedModelHidesIt assert each case).
//
// Closed model (Config.Concurrency): N workers each run the next operation
// when the last completes (plus ThinkTime). There is no schedule: latency is
// service time, there is no lag histogram, and Generator.Note says so.
//
// # Phases, stops and errors
//
// Warm-up operations run (with the first stage's From rate when staged) but
// are not recorded: their Op has no sink. Requests counts measured operations
// only; the measured duration starts when warm-up ends. Stop reasons:
// "duration" (planned end), "count" (Requests reached; the duration is up to
// the last completion), "error_budget" (MaxErrors measured target errors),
// "interrupted" (the parent context was canceled). On the last two,
// scheduling stops and in-flight operations get Config.Grace to finish; then
// their context is canceled and they are counted under the error kind
// "canceled" — in requests.errors so totals add up, but not in the error
// latency histogram and not toward MaxErrors, because the run cut them short,
// not the target. Run still returns the partial Result with a nil error.
//
// Every operation gets Config.Timeout. Rather than context.WithTimeout per
// operation (measured 704 ns and 5 allocations per call here), each worker
// keeps one cancelable context, replaced only after it was canceled, and one
// timer that is not re-armed per operation: the operation publishes its
// deadline under the worker's mutex, and the timer, when it fires, cancels
// the operation if its deadline passed or re-arms for the current one. The
// context still reports the operation's Deadline and, once timed out,
// context.DeadlineExceeded. A timed-out operation is classified "timeout"
// whatever kind the driver returned. Errors (Outcome.Err) never enter the
// success histograms; their latency goes to the error histogram.
//
// # Streams and sockets: one operation, many message events
//
// A gRPC stream or a WebSocket session is ONE operation: Worker.Do opens it,
// exchanges messages and returns when it ends, and the operation's latency
// is the session's length. Each message that can be timed (matched by a
// correlation id, or carrying a sent-at timestamp from the server) is
// reported while the session runs:
//
//	op.MessageSent(n)             // n messages went out
//	op.MessageReceived(latency)   // one message came back after latency
//
// They feed Result.Messages {sent, received} and the message_latency
// histogram and summary, which appear only when a run reported messages.
// MessageSent and MessageReceived may be called from any goroutine of the
// driver (a session's reader) until Do returns; Op.Phase must be called from
// Do's goroutine. TestStreamIsOneOperationWithMessageEvents runs a fake
// stream driver that sends 5 messages per session and receives each from a
// reader goroutine after 1..5 ms, and checks the session count, the message
// counts exactly and the message latency distribution at histogram
// precision.
//
// # Sessions: held, paced, closed softly
//
// A session held for the run (a WebSocket connection, a subscription)
// calls op.Hold once it is open: the operation's Timeout, which bounded
// the opening, stops applying. Config.Arrivals caps the open model's
// schedule without ending the run, so N sessions arrive at a rate (or
// along stages) and are held to the planned end. Every stop but a count
// stop closes op.Closing() at once (a count stop lets in-flight operations
// finish, so only Grace later): the session stops sending, closes cleanly
// and returns, a success with the stop reason unchanged; one still held
// Grace after that is canceled and counted as "canceled", never as a
// timeout (TestSoftStopClosesHeldSessions, TestSoftStopCutsSessions...).
//
// Message timing is shared by every session driver (gRPC streams, GraphQL
// subscriptions, WebSocket): a Pacer gives message i the intended send
// time first + i×interval, and a sender that fell behind sends what is
// overdue at once, without skipping; an Inflight remembers each message's
// intended time under an id, and a reply is matched by that id (an echoed
// correlation field) or first in, first out; op.MessageSince(ref, now)
// records now − ref. So message latency runs from when a message was due,
// coordinated omission corrected for messages as for operations
// (TestPacerFromIntendedTimes: a 50 ms write stall shows as 51, 41, 31,
// 21, 11 ms on the messages due during it, where timing from the actual
// send would show 1 ms each). A message that fails on its own (an error
// reply, no reply by the end: ErrNoReply) is op.MessageError(kind), counted
// in Result.Messages.Errors by kind, apart from its session's outcome. The
// timeline carries messages sent and received per second, message errors
// and the message latency p50/p99 of each interval.
//
// The Pacer sleeps on a Go timer, which on an idle Linux process can wake
// up to ~1 ms late (see the scheduler's tick below); Pacer.Late counts
// messages sent more than 1 ms after they were due, so a driver can say so.
//
// # Recording and cost
//
// Workers record into a metrics.Recorder with min(workers, 2×GOMAXPROCS, 16)
// shards; a collector goroutine merges them once per Config.Interval into a
// timeline point and a Progress report, so memory does not grow with run
// length (see package metrics for the measured record cost). Offsets are
// time.Since(start), the monotonic clock. The engine installs no signal
// handlers and never changes GOMAXPROCS: ctx is the caller's.
//
// # The scheduler's tick, measured
//
// An operation due just after a wake-up waits for the next one, so schedule
// lag is at most one tick plus the wake-up latency, and the 1 ms lateness
// threshold needs a tick well under 1 ms. Go's timers cannot deliver that on
// Linux when the process is otherwise idle: they wait in the network poller,
// whose timeout has millisecond granularity (runtime/netpoll_epoll.go rounds
// a 500 µs wait up to 1 ms). So waits under 2 ms, and the last 2 ms of a
// longer wait (low rates), use a timerfd read through the poller
// (sleep_linux.go; elsewhere, and under testing/synctest's fake clock, the
// timer): the kernel timer wakes the poller at its exact expiry and the
// scheduler holds no P while it waits. (Ending a long wait on the Go timer
// made a 50/s run send 6 % of its operations more than 1 ms late.)
//
// A first version slept in a nanosleep syscall instead. It was cheaper per
// tick but held the only P of a generator pinned to one core: the poller
// then ran only when sysmon forced it, and runs fell into a mode where
// service time sat at ~5.6 ms p50 against a target that answers in 130 µs
// (2 of 3 runs at 5,000/s in the peer harness). The timerfd version never
// showed that mode (service-time p50 69-135 µs in every run since).
//
// What a finer tick costs (open model, 5,000/s for 5 s against the peer
// harness target /hello, generator pinned to CPU 1, 6 interleaved rounds
// with bombardier --rate 5000; CPU is user+sys from rusage;
// testdata/bench/tick.sh):
//
//	tick     CPU µs/req   × bombardier (median)   late > 1 ms    lag p50 / p99
//	500 µs   25.2-32.4    1.02-1.24 (1.12)        0.10-0.88 %    249-292 / 493-842 µs
//	750 µs   19.6-26.0    0.84-1.05 (0.99)        0.22-0.59 %    405-414 / 783-823 µs
//	1 ms     18.4-22.8    0.67-0.98 (0.88)        1.2-5.9 %      505-562 / 1012-1047 µs
//	bombardier 21.6-28.7  1                       (bursts of 50 every 10 ms)
//
// Every tick is an idle-to-busy transition of the generator, an estimated
// ~15-20 µs of CPU on this 2-vCPU guest (the CPU difference between ticks,
// at about two wake-ups per tick); bombardier pays it 100 times a second (its
// limiter refills a 50-token bucket every 10 ms), a 750 µs tick 1,333
// times. With --tick 10ms (bombardier's pattern) loadrig needs 14.0-14.4
// µs per request against bombardier's 19.6-20.8, and reports 82 % of its
// sends late. DefaultTick is 750 µs: lag stays under 1 ms (p99 ~0.8 ms) and
// late sends well under the 1 % line at about bombardier's CPU per request;
// 1 ms crosses the lateness line here. Every result reports its lateness,
// so the trade --tick makes is never hidden.
//
// The scheduler's timerfd is armed and read with raw syscalls (as is the
// HTTP fast path's socket I/O): an ordinary syscall after an idle spell
// wakes the runtime's sysmon thread, which then polls every 20 µs for a
// while, so every tick paid a futex wake and several context switches. With
// a 500 µs tick that change took 36.8-37.6 down to 25.2-27.2 µs per request.
//
// Per-operation overhead (go test -run XXX -bench . -benchtime=1s
// ./internal/load/, two passes, same noisy machine):
//
//	BenchmarkRunnerDo                  192-320 ns/op, 0 allocs  (clocks, timeout, record around Do)
//	BenchmarkTimeoutPerOpWithTimeout   704-1,772 ns/op, 5 allocs (context.WithTimeout alone, avoided)
//	BenchmarkScheduleOffset            13-27 ns/op              (schedule math per operation)
//	BenchmarkOpenEnginePerOp           589-4,119 ns/op          (scheduler + hand-off to a worker + Do)
//	BenchmarkClosedEnginePerOp         194-709 ns/op
//
// Named operations and wire bytes: a driver that names its operations
// (OperationNamer; a GraphQL mix) sets Outcome.Op, and each name gets its
// own counters and success latency histogram in the recorder
// (Result.Operations, merged exactly). A driver that counts the bytes its
// connections carry (WireCounter) has them, minus what the warm-up used,
// reported as Result.Bytes instead of the sum of the Outcomes' bytes
// (TestNamedOperationsAndWireBytes).
//
// Timeline: one point per Interval of the measured phase, t_s at the
// interval's end. offered_rps is the schedule's rate over the interval
// (closed model: completions, as there is no schedule), completed_rps the
// successful completions, errors the errors. Operations that complete after
// the measured phase ended (the drain) are counted in the last point.
package load
