// Package gqldrv is the GraphQL load.Driver: queries and mutations over the
// HTTP driver, subscriptions over WebSocket. It counts "200 with errors" as
// the failure it is, breaks results down per operation and times every
// subscription event.
//
// # Built on the HTTP driver
//
// Queries and mutations are not sent by a client of their own: the driver
// is an httpdrv.Driver with an Exchange (httpdrv.Options.NewExchange), so
// they share the HTTP driver's fast path (or net/http for TLS, HTTP/2 and
// proxies), its connection pool and accounting, retries on stale
// connections, cancellation, phases and cost. The Exchange writes each
// operation's request and reads each response body:
//
//   - Request: the operation is drawn by weight from the sequence number
//     (splitmix64(seq) mod the weights' sum, so a run repeats and workers
//     need no shared state); its body (POST) or target (GET) is built from
//     pieces precomputed before the run around the variables, which are
//     the only part rendered per request (package tmpl, the HTTP driver's
//     environment: --data rows, seed). With APQ the first attempt leaves
//     the query out and carries extensions.persistedQuery.
//   - Response: Classify reads the body. A body without the text "errors"
//     is one bytes.Contains and no allocation; otherwise the top-level keys
//     are decoded until the errors array, so a body cut at the 1 MiB cap
//     still counts errors that come first. A non-empty errors array fails a
//     2xx as graphql_error and every entry is counted by extensions.code
//     (at most 64 distinct codes, the rest as "other": the target chooses
//     them); a non-2xx keeps the HTTP driver's kind; a 2xx that is not a
//     JSON object is a protocol_error. PERSISTED_QUERY_NOT_FOUND on an APQ
//     first attempt asks the HTTP driver for a follow-up request within the
//     same operation (a miss, not an error).
//
// The document is parsed once with gqlparser (vektah/gqlparser/v2, the
// parser gqlgen uses), so a typo fails before the run with its line and
// column; a document with several operations sends each with only the
// fragments it reaches, printed by gqlparser's formatter. One rendering of
// the variables is checked to be a JSON object holding every non-null
// variable without a default that the operations declare.
//
// # Results
//
// Operations are named (load.OperationNamer), so the result has
// operations.<name>.{requests, latency_us, histogram}, merged exactly.
// Annotate adds graphql.errors_by_code and graphql.apq.{hits, misses,
// bytes_saved} (counted only for measured operations). Bytes come from
// counting connections (load.WireCounter).
//
// # Subscriptions
//
// A subscription operation makes every engine operation one subscriber
// session: a WebSocket handshake on the same URL (coder/websocket, the
// HTTP client's dialer wrapped by a load.ConnTracker), connection_init with
// the connection params, connection_ack, then subscribe (graphql-transport-
// ws) or start (legacy graphql-ws). The handshake through the ack is the
// handshake phase; then the session is held (load.Op.Hold) and receives
// until the run's end (load.Op.Closing) or Options.Hold, when it sends
// complete/stop and closes with 1000: a success. Each next/data event is
// timed from the timestamp in its data (Options.TimestampField, default the
// first "emittedAt") to its arrival (load.Op.MessageSince) — one-way
// latency across two clocks, so client and server must share one (the
// same host). An event with errors, without a timestamp, or malformed is a
// message error (load.Op.MessageError); an error message or a close by the
// server ends the session as graphql_error or ws_close_<code> (close codes
// counted). TestSubscriptionLatencyMath runs sessions on net.Pipe under
// testing/synctest and checks each event's latency exactly.
//
// A publisher (Options.Publish) sends a mutation at a fixed rate through a
// second, query driver once every subscriber has subscribed (plus 100 ms
// for the server to register them) until 0.5 s before the window ends. It
// is an open model: mutation i goes at i/rate after the first whatever the
// server's response time, up to 16 in flight (a send that had to wait for
// one is counted late, publish_late), and it
// counts one expected event per subscriber subscribed at each successful
// publish: it assumes every event matches every subscription. Delivery
// ratio = received / expected.
package gqldrv
