// Package demo is `loadrig demo`: one command, no setup, that shows what
// caching does. It reads the embedded profile profiles/demo.yaml (or
// --profile FILE of the same format), and for each variant — no cache,
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
package demo
