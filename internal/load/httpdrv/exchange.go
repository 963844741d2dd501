package httpdrv

import (
	"github.com/loadrig/loadrig/internal/load/tmpl"
	"github.com/loadrig/loadrig/internal/metrics"
)

// Exchange lets a protocol carried over HTTP (the GraphQL driver) choose
// each operation's request target and body and classify each response by
// its body, while the HTTP driver keeps everything else: one client on
// either path, its connection pool and accounting, retries on stale
// connections, cancellation, phases and its cost.
//
// Without an Exchange the fast path discards bodies unread; with one, each
// final response's body is kept in a reused per-worker buffer (at most
// Options.MaxBody bytes) and handed to Response, so a classifier that
// decides from a scan of the bytes allocates nothing per request.
//
// An Exchange belongs to one worker (Options.NewExchange makes one per
// worker) and is called from that worker's goroutine only.
type Exchange interface {
	// Request appends operation seq's request target (path and query,
	// starting with '/') to target and its body to body, and returns them
	// with the index+1 of the operation's name (Outcome.Op; 0: unnamed).
	// attempt is 0 for the operation's first request and n for the n-th
	// follow-up Response asked for. ev has been started for seq (Begin) and
	// renders the exchange's templates, compiled with Driver.Env.
	Request(ev *tmpl.Evaluator, seq uint64, attempt int, target, body []byte) (t, b []byte, op int)
	// Response classifies a final response: its status, the kind the HTTP
	// driver gave that status (metrics.OK for a success status), its body
	// (the first Options.MaxBody bytes; truncated says more arrived and was
	// dropped) and whether the operation is measured (false in warm-up). It
	// returns the operation's kind and whether to send follow-up attempt+1
	// within the same operation (an APQ miss). The body is only valid
	// during the call.
	Response(status int, kind metrics.ErrKind, body []byte, truncated, recording bool) (k metrics.ErrKind, again bool)
}

// maxExchangeAttempts bounds the requests one operation may make when an
// Exchange asks for follow-ups.
const maxExchangeAttempts = 4

// DefaultMaxBody is Options.MaxBody's default: 1 MiB of each response body
// is kept for an Exchange.
const DefaultMaxBody = 1 << 20

// Env is the template environment the driver renders with; an Exchange
// compiles its own templates with it so that they see the same --data rows,
// row mode and seed.
func (d *Driver) Env() *tmpl.Env { return d.env }

// bodyBuf keeps a response body for an Exchange, up to max bytes.
type bodyBuf struct {
	b         []byte
	max       int
	truncated bool
}

func (k *bodyBuf) reset() { k.b, k.truncated = k.b[:0], false }

func (k *bodyBuf) feed(p []byte) {
	if room := k.max - len(k.b); len(p) > room {
		k.truncated = true
		p = p[:max(room, 0)]
	}
	k.b = append(k.b, p...)
}
