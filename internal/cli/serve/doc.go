// Package serve is `loadrig serve` and its protocol subcommands, starting
// with `loadrig serve rest`.
//
// The flags every server shares (cache, strategy, store model, dataset,
// Redis, auth, rate limit, logging, pprof) live in ServerFlags, which a
// protocol command embeds, registers with AddFlags and turns into a
// stack.Config and a logger. StartStack builds the shared server stack from
// them; `serve grpc` and `serve all` add a NewCmdX here that reuses both and
// one AddCommand line in NewCmdServe. Each subcommand owns its --addr flag
// because each protocol has its own default port. What the commands share
// beyond the flags lives in common.go (flag validation in one order, the
// REST server of `serve rest` and `serve all`, the run's error), so each
// command file says only what differs.
//
// A server prints one line to stdout once it is bound — "loadrig rest
// listening on http://127.0.0.1:43121" — so scripts can start it with
// --addr 127.0.0.1:0 and read the real address. Logs go to stderr. On
// SIGINT/SIGTERM (the context is canceled) the server stops accepting,
// drains in-flight requests within --shutdown-timeout, then the stack drains
// the write-behind backlog within the same timeout and reports what
// remains; the exit code is 0 after a clean drain.
package serve
