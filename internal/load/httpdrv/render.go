package httpdrv

import (
	"strconv"

	"github.com/loadrig/loadrig/internal/load/tmpl"
)

// span is a byte range of renderer.req.
type span struct{ lo, hi int }

// renderer renders one worker's requests into reused buffers: the whole
// HTTP/1.1 request (what the fast path writes, and what both paths count as
// bytes sent), with the positions of the target and each header value so
// the net/http path can build its *http.Request from the same rendering.
type renderer struct {
	d    *Driver
	ev   *tmpl.Evaluator // nil when nothing is templated
	req  []byte
	body []byte
	tgt  []byte
	// target and hdrs locate the request target and header values in req.
	target span
	hdrs   []span
	// head is where the blank line ending the header block starts in req:
	// where Revalidate inserts its conditional headers.
	head int
	// ex, when set, supplies target and body (Options.NewExchange);
	// attempt is passed to it and op is what it returned.
	ex      Exchange
	attempt int
	op      int
}

func (d *Driver) newRenderer(ev *tmpl.Evaluator) *renderer {
	return &renderer{
		d:    d,
		ev:   ev,
		req:  make([]byte, 0, 512),
		hdrs: make([]span, len(d.headers)),
	}
}

func (r *renderer) appendT(dst []byte, t *tmpl.Template) []byte {
	if c, ok := t.Const(); ok {
		return append(dst, c...)
	}
	return r.ev.Append(dst, t)
}

const hexDigits = "0123456789ABCDEF"

// render renders operation seq's request into r.req (and r.body).
func (r *renderer) render(seq uint64) {
	d := r.d
	if r.ex != nil {
		if r.attempt == 0 {
			r.ev.Begin(seq)
		}
		r.tgt, r.body, r.op = r.ex.Request(r.ev, seq, r.attempt, r.tgt[:0], r.body[:0])
	} else {
		if r.ev != nil {
			r.ev.Begin(seq)
		}
		r.body = r.appendT(r.body[:0], d.body)
		r.tgt = r.appendT(r.tgt[:0], d.target)
	}

	b := append(r.req[:0], d.method...)
	b = append(b, ' ')
	lo := len(b)
	// Rendered values go in verbatim, except bytes that cannot stand in a
	// request line: space, controls and non-ASCII are %-encoded (as
	// net/http's URL.RequestURI would).
	for _, c := range r.tgt {
		if c <= ' ' || c >= 0x7f {
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
		} else {
			b = append(b, c)
		}
	}
	r.target = span{lo, len(b)}
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, d.hostHeader...)
	b = append(b, "\r\n"...)
	if d.userAgent {
		b = append(b, "User-Agent: "...)
		b = append(b, d.opts.UserAgent...)
		b = append(b, "\r\n"...)
	}
	for i := range d.headers {
		h := &d.headers[i]
		b = append(b, h.name...)
		b = append(b, ": "...)
		lo := len(b)
		b = r.appendT(b, h.value)
		for j := lo; j < len(b); j++ { // a data row must not split the header
			if b[j] == '\r' || b[j] == '\n' {
				b[j] = ' '
			}
		}
		r.hdrs[i] = span{lo, len(b)}
		b = append(b, "\r\n"...)
	}
	if len(r.body) > 0 || d.lenAlways {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(r.body)), 10)
		b = append(b, "\r\n"...)
	}
	if d.opts.DisableKeepAlive {
		b = append(b, "Connection: close\r\n"...)
	}
	r.head = len(b)
	b = append(b, "\r\n"...)
	r.req = append(b, r.body...)
}
