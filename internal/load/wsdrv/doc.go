// Package wsdrv is loadrig's WebSocket driver, which also runs the same
// subscription over Server-Sent Events and HTTP polling: every engine
// operation is one held connection (a session), opened at the engine's
// arrival rate (load.Config.Arrivals: --connections N at --ramp R/s) and
// held with load.Op.Hold until the run's end (load.Op.Closing), when it
// stops sending, drains what is still due (Options.Drain), and closes with
// 1000. Connection i dials URLs[i mod len] from SourceAddrs[i mod len]. It
// uses github.com/coder/websocket (compression off: context takeover costs
// ~1.2 MB per connection) through one shared http.Transport whose dialer
// times the TCP connect, tracks the connection (load.ConnTracker) and
// counts its bytes at the socket (load/netcount: the upgrade request and
// response, framing, every poll's headers).
//
// # Scenarios
//
//   - echo: each connection sends Message (a JSON object, a load/tmpl
//     template) at its share of MessageRate, paced from intended send
//     times (load.Pacer), with the Correlate field (default "id") set to a
//     message id and "ts" to the intended send time in Unix µs placed
//     first; a reply is matched by that field (load.Inflight) and timed
//     from the intended send, so a stalled sender or server cannot hide.
//   - raw: Message as rendered (any text), replies matched first in, first
//     out, or by the Correlate field when set.
//   - chat: connection i joins Rooms[i mod len]; a Senders fraction of
//     the connections (spread evenly) posts msg envelopes at MessageRate in
//     total; receivers time arrival − ts; the sender's ack is timed as a
//     round trip (result ack_latency_us); per-room seq gives the fanout.
//   - subscribe (ws, sse, poll): events timed arrival − sts; per-topic seq
//     gives the fanout. Over SSE, id: is the seq and data: the envelope;
//     polling GETs URL&since=SEQ every PollInterval with If-None-Match (304
//     when nothing is new), or with &wait=LongPoll back to back; every
//     request counts as a message sent, so requests per delivered event is
//     messages.sent / messages.received. At the run's end a poller polls
//     once more, so an event published but not yet polled is not lost.
//
// # Fanout
//
// Each receiver tracks each room's or topic's seq: its first live event
// sets its base; later ones are delivered, duplicates (seen, within a
// 4096-seq window) or out of order (after a later one). Expected is, per
// receiver, the topic's highest seq when the receiver closed (for chat,
// after senders stopped and their acks arrived) minus its base, minus its
// own posts. A receiver whose session ended early expects what had been
// published by then. History replayed on join (ts before the join, before
// any live event) is skipped. A server restart that starts its seqs over
// (serve ws --replay memory) leaves the later events out of the fanout:
// they are still timed and counted as received, so messages.received then
// exceeds fanout.delivered (with --replay redis seqs survive a restart).
//
// # Reconnects
//
// With Reconnect a lost connection is reopened after Backoff.Delay
// (socket.io-client's defaults: 1 s doubling to 5 s, ±50 %, unlimited),
// and chat and subscribe send {"type":"resume","room","seq"} with the last
// seq seen (SSE: Last-Event-ID; polling resumes by since=), so the server
// can replay exactly what was missed. Without it a lost connection ends
// its session with the close as its error kind (ws_close_1001, eof, ...).
//
// # Accounting
//
// connections: opened, peak_open, failed (attempts that did not open),
// reconnects (attempts after a loss or failure), closed_by_code ("1000"
// when we closed at the end, the server's code, "abnormal" without one);
// connect_time_us (dial + TLS + upgrade) with phases connect and
// handshake; messages with message errors (no_reply, unmatched_reply,
// protocol_error, ws_error_<code> for error envelopes); fanout; bytes.
// A failed attempt is classified: refused, timeout, dns, tls, http_<status>
// for a rejected upgrade, emfile, no_ports (EADDRNOTAVAIL: add source
// addresses), ws_handshake.
//
// The envelope reader (envelope.go) scans top-level fields without
// decoding the rest or allocating; FuzzScanEnvelope checks it never
// panics and accepts only JSON objects.
package wsdrv
