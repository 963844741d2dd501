// Package demo is `loadrig demo`: one command, no setup, that shows what
// caching does, and then what the protocol does. It reads the embedded
// profile profiles/demo.yaml (or --profile FILE of the same format), and
// for each cache variant (--section cache) — no cache,
// in-process LRU and W-TinyLFU, Redis cache-aside, write-through,
// write-behind, and HTTP revalidation with ETags — starts the REST reference
// server in process on 127.0.0.1:0 over a fresh seeded store, drives it with
// the same open-model workload through the HTTP driver (reads and writes
// mixed by weight in one run with profile.Mix, writes carrying a bearer
// token from POST /api/login), scrapes /stats, and shuts it down (draining
// the write-behind backlog). Then it prints one comparison table.
//
// The table puts the client's view beside the server's truth: hit ratio
// from X-Cache as the load generator saw it (a 304 counts as revalidated)
// next to the cache's own hit/miss counters, and store calls per request
// from the store's accounting. Every variant gets exactly the same request
// sequence (the profile's key sequence is round-robin by operation number
// and the mix is a hash of it), so differences are the cache's doing.
//
// Redis variants share one Redis started for the demo (redis-server from
// PATH, else embedded miniredis; the table footer says which), each under
// its own key prefix. -o DIR writes every variant's result file, with the
// scraped /stats as its "server" section.
//
// # Protocols
//
// Then (or alone, with --section protocols) the profile's protocols section
// compares REST/JSON with gRPC/protobuf over ONE stack — one store, one
// cache — served by the REST server and the gRPC server at once, as `serve
// all` does (gRPC with listener accounting, so neither server pays a
// per-call stats hook). Each operation (get one product; list a page, the
// gRPC server stream counted as one operation) at each payload size (filler
// bytes: REST ?pad=N, gRPC pad_bytes) is one cell per protocol, run in the
// closed model: a fixed open rate that suits 1 KB payloads saturates at
// 1 MB, so a fixed number of requests in flight is the fair setting across
// sizes, and latency is then service time at that concurrency.
//
// Each cell warms up in a load.Run of its own, then a second run is
// measured, with two readings taken around it only: the bytes the server
// read and wrote on its connections (a counting listener in front of each
// server, headers and framing included) and the process's user+system CPU
// time (getrusage). The load generator and both servers share the process,
// so CPU per operation is client and server together, and the table says
// so; no attempt is made to split it. For REST, one sample response body
// per cell is gzipped (compress/gzip) to show what compression would save;
// the runs themselves are uncompressed. The table pairs REST and gRPC per
// operation and size, gives gRPC÷REST ratios and the faster protocol (a tie
// within 10 %), and names the sizes between which the lead changes hands,
// once by ops/s and once by CPU per operation: on a shared machine the
// throughput of a one-second cell moves with everyone else's load, while
// CPU per operation is the steadier of the two.
// -o DIR writes every cell's result file (protocols-<op>-<size>-<proto>),
// whose "server" section is the server's /stats plus the cell's readings
// under demo_protocols_cell.
package demo
