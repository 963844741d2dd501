// Package netcount counts the bytes a connection carries at the socket:
// request and status lines, headers, TLS records, WebSocket and HTTP/2
// framing, everything the kernel sent or received for it. Drivers wrap the
// connections their dialer returns (Dialer, or Wrap), so a transport's cost
// per delivered event (SSE, polling, long-polling, WebSocket, GraphQL over
// HTTP) is measured the same way, not estimated from payload sizes.
//
// A Counter is meant to belong to one session or one worker: its two
// totals are atomics, each written by the one goroutine reading or writing
// the connection, so counting costs an uncontended atomic add per Read or
// Write call (not per byte), and the owner can read the totals at any time
// from another goroutine.
package netcount
