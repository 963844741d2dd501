// Package httpdrv is the HTTP load.Driver: it sends one HTTP request per
// operation, classifies how it ended (metrics.ErrKind, metrics.CacheStatus),
// reports phases (DNS, connect, TLS, time to first byte) through the Op and
// accounts for client-side connections (load.ConnCounter).
//
// # Two paths, chosen by measurement
//
// PERF-NOTES.md measured net/http at 1.4–2.1× bombardier's CPU per request
// (41–44 allocations, three goroutines per request) and a small hand-written
// HTTP/1.1 client at 0.77–1.07×. So the driver has two paths (Driver.Path):
//
//   - "fast": plain http:// without HTTP2, proxy or ForceNetHTTP. Per
//     connection a net.Conn and a 16 KiB bufio.Reader; the request is
//     serialized once when nothing is templated (otherwise re-rendered into
//     the worker's reused buffer), written with one Write; the response's
//     status line and headers are parsed in place (Content-Length, chunked
//     transfer-encoding, Connection: close/keep-alive, HTTP/1.0, interim 1xx,
//     bodies that run to EOF, HEAD/204/304 without body, the cache headers),
//     the body discarded or streamed through the ExpectBodyContains scan.
//     0 allocations per request (TestFastPathZeroAllocs,
//     BenchmarkFastPath). A request that fails on a reused connection before
//     any response byte (the server closed an idle keep-alive connection) is
//     retried once on a new connection when the method is idempotent, as
//     net/http does. A connection idle for more than a second is first
//     probed with one non-blocking MSG_PEEK read (unix), so a connection
//     the server closed while idle is replaced before a POST is written on
//     it (net/http notices with its per-connection read loop).
//   - "net/http": https://, HTTP/2 (ALPN h2 over TLS; h2c with prior
//     knowledge over http://, via http.Protocols — no x/net needed),
//     proxies. A Transport tuned as PERF-NOTES measured (no compression,
//     64 KiB buffers, MaxConnsPerHost = Connections, Transport.RoundTrip
//     called directly, no Client), phases from an httptrace.ClientTrace. With
//     HTTP2 set only HTTP/2 is offered: a server without it fails the run
//     rather than being silently measured over HTTP/1.1.
//
// Both paths render requests with the same renderer, so they send the same
// bytes and report the same Outcome for the same response (TestSameOutcome).
// BytesSent is the HTTP/1.1 form of the request on both paths;
// BytesReceived is exact on the fast path and, on net/http (which does not
// expose what it read, and HTTP/2 compresses headers), the HTTP/1.1 size of
// the status line and headers plus the body bytes. The result's bytes come
// from the wire instead (Driver.WireBytes, load.WireCounter): every
// connection of either path is counted at the socket (netcount, through the
// driver's load.ConnTracker; one atomic add per read or write call), TLS
// records, HTTP/2 frames and retries included (TestWireBytesFastPath: on the
// fast path the two agree exactly).
//
// # Exchange: an opt-in body classifier
//
// Options.NewExchange gives each worker an Exchange that writes each
// operation's target and body and reads each final response's body, which
// the driver otherwise discards: the body is kept in a reused per-worker
// buffer up to Options.MaxBody (1 MiB) and handed to Exchange.Response,
// which returns the operation's kind and may ask for a follow-up request
// within the same operation (bytes add up). The GraphQL driver is built on
// it (classification of "200 with errors", APQ). Without an Exchange the
// request path only gains nil checks; with one it still allocates nothing
// per request (TestExchangeZeroAllocs, BenchmarkExchange).
//
// # Connections
//
// With Options.Connections = 0 every worker keeps its own connection (the
// cap is the engine's worker count). With Connections = N the workers share
// at most N: a buffered channel of idle connections plus N tokens for
// opening one; a worker that finds all busy waits and then calls
// Op.MarkSent, so the wait is latency but not service time (net/http: in
// the GotConn hook). Counters: opened (successful dials), reused (requests
// on an already used connection, one padded counter per worker), peak open
// (open connections tracked until Close, by a load.ConnTracker).
//
// # Cancellation without allocations
//
// net.Conn reads take no context. Measured here: context.AfterFunc costs
// ~0.5 µs and 2 allocations per registration, SetDeadline ~150 ns per call.
// So the fast path registers a context.AfterFunc only when the operation
// context changes (Done channel identity): the engine keeps one context per
// worker until it is canceled (a timeout or the hard stop), so that is once
// per worker and per timeout, not per request. The callback aborts the
// worker's in-flight I/O by setting a past deadline on its connection (a
// generation number keeps a late callback from hitting a later request),
// and the error is then classified by the context: deadline → timeout,
// cancel → canceled. One more AfterFunc per worker watches the context given
// to NewWorker (the engine's hard-stop context). A caller that makes a new
// context per operation (context.WithTimeout) pays the AfterFunc per
// request; everything still works.
//
// # Errors and checks
//
// Errors map to metrics.ErrKind: the operation's context decides first
// (deadline → timeout, cancel → canceled), then the error itself:
// ECONNREFUSED → refused, ECONNRESET/EPIPE → reset, TLS and x509 errors →
// tls, *net.DNSError → dns, EOF mid-response → eof, a malformed response →
// protocol_error. Statuses: by default 2xx and 3xx succeed and anything else
// is http_NNN; with ExpectStatus, a listed status succeeds, an unlisted one
// is http_NNN when >= 400 and check_failed otherwise. ExpectBodyContains
// failing is check_failed.
//
// # Cache status
//
// From the configured header (default X-Cache), else CF-Cache-Status, else
// Age (> 0 hit, 0 miss). Values are read case-insensitively: REVALIDATED or
// RefreshHit → revalidated, anything containing HIT → hit, MISS → miss,
// any other value (STALE, BYPASS, EXPIRED, DYNAMIC, ...) → other. A 304 is
// always revalidated.
//
// # Revalidation
//
// With Options.Revalidate each worker acts like one browser's HTTP cache:
// it remembers, per rendered request target (path and query; the origin is
// the driver's), the ETag and Last-Modified of the last 200 response, and
// sends them back as If-None-Match and If-Modified-Since on its next
// request to that URL; a 304 is counted as revalidated (as always), a 200
// replaces what was remembered, a 200 without validators forgets the URL.
// The caches are per worker, so each worker's first request to a URL is
// unconditional and workers never share or lock anything; request headers
// that vary per request (Vary) are not part of the key. GET and HEAD only.
//
// Per worker, the share of conditional requests depends on how many workers
// the engine started, and the open model starts them as needed (measured
// with the demo's http-etag workload: 27–41 % 304s with 10–26 workers, 11 %
// when a loaded host made it start 62). RevalidateShared gives all workers
// one cache behind one mutex instead — a caching proxy revalidating for
// many clients — so the share depends on the workload only; the demo uses
// it for that reason.
//
// Bound: RevalidateEntries URLs per worker, or in all with RevalidateShared
// (default 100,000). When full, a
// random entry (the first a map iteration yields) is evicted and its
// buffers reused for the new URL. Worst case memory is roughly
// (100 B + URL + validators) × entries × workers: measured 15.5 MB for
// 100,000 entries of /api/products/N with a short ETag and a Last-Modified
// (155 B each), per worker, reached only when a worker sees that many
// distinct URLs — lower RevalidateEntries for large worker counts over huge
// URL spaces.
//
// Cost on the fast path: the lookup takes the rendered target as a
// map[string] index with string(b), which Go does not allocate for; the
// conditional headers are inserted into a reused per-worker copy of the
// request; the response's validators are copied out of the read buffer into
// reused buffers and into the entry's own. So requests to URLs already seen
// allocate nothing (TestFastPathRevalidateZeroAllocs); a URL seen for the
// first time costs its key string and an entry. Without Revalidate the
// request path gains only nil checks (no copy, no lookup). On net/http the
// conditional headers cost a header clone and two strings (+7 allocations).
//
// # Limits of the fast path
//
// A response header line longer than the 16 KiB read buffer is assembled
// in a per-worker buffer made on first need; a line over 256 KiB is a
// protocol_error (net/http accepts up to 1 MB of headers in all). Bodies are never
// decoded (no gzip: the request does not ask for it). The host may not be a
// template; a name is resolved on every new connection (timed as the dns
// phase), preferring IPv4.
//
// # Measured
//
// go test -run XXX -bench . -benchtime 1s -count 3 ./internal/load/httpdrv
// (one worker, keep-alive GET of a 13-byte body from an in-process loopback
// server that allocates nothing; the figure includes that server's CPU;
// 2 shared vCPUs, Go 1.26.8, 2026-11-28):
//
//	BenchmarkFastPath/constant    9.0–12.9 µs/op   0 B/op      0 allocs/op
//	BenchmarkFastPath/templated   9.4–11.3 µs/op   0 B/op      0 allocs/op  (zipf URL + uuid header)
//	BenchmarkFastPath/pooled      7.7–9.1 µs/op    0 B/op      0 allocs/op  (Connections: 1)
//	BenchmarkNetHTTP/constant     19.5–22.6 µs/op  2,889 B/op  43 allocs/op
//	BenchmarkNetHTTP/templated    20.4–20.9 µs/op  3,588 B/op  51 allocs/op
//
// Revalidation, same command and machine (-count 3, load average ~2.5–3
// from other jobs; compare within a pass only). The server answers 200 with
// an ETag and a Last-Modified every time, so each request carries both
// conditional headers and updates its entry (the most work per request; a
// real 304 also skips the body). Pass 1:
//
//	BenchmarkFastPath/constant         8.1–8.2 µs/op    0 B/op      0 allocs/op
//	BenchmarkFastPath/etag             8.0–8.0 µs/op    0 B/op      0 allocs/op  (validators in the response, Revalidate off)
//	BenchmarkFastPath/revalidate       7.6–8.1 µs/op    0 B/op      0 allocs/op
//	BenchmarkFastPath/revalidate-zipf  7.4–9.9 µs/op    10–13 B/op  0 allocs/op  (10,000 URLs: first visits allocate)
//	BenchmarkNetHTTP/etag              29.0–30.0 µs/op  2,976 B/op  45 allocs/op
//	BenchmarkNetHTTP/revalidate        19.7–38.8 µs/op  3,458 B/op  52 allocs/op
//
// Pass 2 (after RevalidateShared was added):
//
//	BenchmarkFastPath/etag               7.1–7.2 µs/op  0 B/op   0 allocs/op
//	BenchmarkFastPath/revalidate         7.2–7.2 µs/op  0 B/op   0 allocs/op
//	BenchmarkFastPath/revalidate-shared  7.0–7.4 µs/op  0 B/op   0 allocs/op
//	BenchmarkFastPath/revalidate-zipf    7.8–8.5 µs/op  11 B/op  0 allocs/op
//	BenchmarkRevalCache/worker           57–58 ns/op    0 B/op   0 allocs/op  (the cache work alone)
//	BenchmarkRevalCache/shared           82–84 ns/op    0 B/op   0 allocs/op  (one uncontended mutex)
//
// End to end the difference is below this host's noise; BenchmarkRevalCache
// isolates the added CPU: about 1 % of a fast-path request. The shared
// cache's lock is not measured under contention here.
//
// End to end with the CLI (loadrig load http -c 50 -d 5s, closed loop, 50
// connections) against ../shared/bench/target /hello, target on CPU 0 and
// generator on CPU 1, interleaved with wrk -t1 -c50 -d5s in one pass (3
// runs each; the host was also running other test suites, load average ~6):
// generator CPU per request wrk 8.98 / 9.31 / 11.67 µs, fast path 11.55 /
// 10.35 / 12.22 µs (1.05–1.29× wrk, median 1.24×), net/http 19.92 / 19.68 /
// 20.40 µs (2.1× wrk). PERF-NOTES puts bombardier at 1.2–1.55× wrk.
// A second pass with bombardier 1.2.6 (-c 50 -d 5s; load average ~9 from
// other jobs): wrk 8.77 / 8.87 / 11.28, bombardier 11.89 / 11.71 / 11.82,
// fast path 11.50 / 11.99 / 11.91 µs per request (0.97–1.02× bombardier).
//
// Since then the fast path reads and writes its sockets with raw
// non-blocking syscalls inside syscall.RawConn (package rawconn): an
// ordinary syscall after an idle spell wakes the runtime's sysmon thread.
// In the peer harness (3 runs of 10 s, quiet host) that put the closed loop
// at 7.0 µs per request against bombardier's 10.1 and wrk's 6.9, and the
// open loop at 5,000/s (tick 750 µs) at 20.6 against bombardier's 23.4 (README design
// notes have the table).
package httpdrv
