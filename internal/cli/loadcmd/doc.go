// Package loadcmd is `loadrig load` and its protocol subcommands, starting
// with `loadrig load http URL`.
//
// The engine flags (load model, run length, output) are the same for every
// protocol, so they live in LoadFlags, which a protocol command embeds in its
// options, registers with AddFlags, checks with Validate and turns into a
// load.Config with Config. Execute then runs the engine against the
// protocol's driver and does everything user-facing around it: the live
// progress line, the summary (printed by internal/report, the same code as
// `loadrig report`), the -o result file, and the exit status of an
// interrupted run. A new protocol (`load grpc`) adds a NewCmdX here that
// builds its driver and calls Execute, and one AddCommand line in NewCmdLoad.
//
// Defaults, chosen so that a bare `loadrig load http URL` is a short, safe
// measurement: without --rate, --stages or --concurrency the run uses the
// closed model with 50 workers (DefaultConcurrency), and without --duration,
// --requests or --stages it lasts 10 s (DefaultDuration). The summary of a
// closed-model run says that its latency is service time; use --rate for
// latency measured from each operation's intended start.
//
// An unreachable target is a measurement, not a failure: the run completes,
// its operations are errors of kind "refused", the summary says so, and the
// exit code is 0. Bad input (an unparsable URL, a rate <= 0, bad stages, a
// missing data file, conflicting flags) is one line and exit code 2. On
// SIGINT/SIGTERM the engine stops scheduling, lets in-flight operations
// finish within the grace period, and the partial result (stop reason
// "interrupted") is printed and written before the process exits 130.
//
// The server section: after a finished run, `load http` reads the target's
// scheme://host/stats once (2 s timeout, direct, no redirects) and keeps it
// as Result.Server when it is a JSON object with a "redis_mode" key — the
// signature of a loadrig server. Anything else leaves the section empty,
// silently: it is never an error and never changes the exit code. It is
// scraped after the run only (no before/after deltas), so its counters run
// from the server's start; an interrupted run skips it. --scrape-stats=false
// turns it off. It is done by wrapping the Runner (HTTPOptions.withStats),
// so Execute stays protocol-neutral.
package loadcmd
