package httpdrv

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/metrics"
)

// netWorker serves requests through the driver's tuned http.Transport
// (RoundTrip directly, no Client): HTTPS, HTTP/2, proxies.
type netWorker struct {
	d      *Driver
	r      *renderer
	base   *http.Request // the constant part of every request
	u      *url.URL      // parsed URL when it is constant
	buf    []byte
	scan   *bodyScan
	reused *paddedCounter
	trace  *httptrace.ClientTrace
	epoch  time.Time
	curOp  *load.Op
	rv     *revalCache // nil unless Options.Revalidate
	ex     Exchange    // nil unless Options.NewExchange
	kb     *bodyBuf    // the body kept for ex
	status int         // status of the last complete response (ex only)

	// Set by trace hooks, possibly from the Transport's dial goroutines:
	// nanoseconds since epoch (marks) or durations; 0 = did not happen.
	dnsStart, connStart, tlsStart, gotConn, firstByte atomic.Int64
	dnsDur, connDur, tlsDur                           atomic.Int64
}

func (d *Driver) newNetWorker(id int) *netWorker {
	w := &netWorker{
		d:      d,
		buf:    make([]byte, 32<<10),
		scan:   newBodyScan(d.expectBody),
		reused: d.newReusedCounter(),
		epoch:  time.Now(),
		rv:     d.newRevalCache(),
	}
	w.r = d.newRenderer(d.env.NewEvaluator(id))
	if w.ex, w.kb = d.newExchange(id); w.ex != nil {
		w.r.ex = w.ex
	}
	w.r.render(0)
	u, _ := url.Parse(d.origin + string(w.r.req[w.r.target.lo:w.r.target.hi]))
	if !d.templatedURL && w.ex == nil {
		w.u = u
	}
	w.base = &http.Request{
		Method:     d.method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     make(http.Header, len(d.headers)+1),
		Host:       d.hostHeader,
	}
	if d.userAgent {
		w.base.Header["User-Agent"] = []string{d.opts.UserAgent}
	}
	if d.constHeaders {
		for i := range d.headers {
			s := w.r.hdrs[i]
			w.base.Header.Add(d.headers[i].name, string(w.r.req[s.lo:s.hi]))
		}
	}
	now := func() int64 { return int64(time.Since(w.epoch)) }
	w.trace = &httptrace.ClientTrace{
		DNSStart: func(httptrace.DNSStartInfo) { w.dnsStart.Store(now()) },
		DNSDone: func(httptrace.DNSDoneInfo) {
			if s := w.dnsStart.Load(); s != 0 {
				w.dnsDur.Store(now() - s)
			}
		},
		ConnectStart: func(string, string) { w.connStart.Store(now()) },
		ConnectDone: func(_, _ string, err error) {
			if s := w.connStart.Load(); s != 0 && err == nil {
				w.connDur.Store(now() - s)
			}
		},
		TLSHandshakeStart: func() { w.tlsStart.Store(now()) },
		TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
			if s := w.tlsStart.Load(); s != 0 && err == nil {
				w.tlsDur.Store(now() - s)
			}
		},
		GotConn: func(info httptrace.GotConnInfo) {
			w.gotConn.Store(now())
			if connReused(info) {
				w.reused.Add(1)
			}
			// The wait for a connection (MaxConnsPerHost) is behind us:
			// service time starts here. GotConn runs on the goroutine
			// that called RoundTrip.
			if op := w.curOp; op != nil && d.opts.Connections > 0 {
				op.MarkSent()
			}
		},
		GotFirstResponseByte: func() { w.firstByte.Store(now()) },
	}
	return w
}

// Close has nothing to release: connections belong to the Transport.
func (w *netWorker) Close() error { return nil }

func (w *netWorker) Do(ctx context.Context, op *load.Op) load.Outcome {
	if err := ctx.Err(); err != nil {
		return load.Outcome{Err: classifyErr(ctx, nil, err)}
	}
	if w.ex == nil {
		if w.d.constReq == nil {
			w.r.render(op.Seq())
		}
		return w.roundTrip(ctx, op)
	}
	// As the fast path's doExchange.
	var total load.Outcome
	for attempt := 0; ; attempt++ {
		w.r.attempt = attempt
		w.r.render(op.Seq())
		w.status = 0
		out := w.roundTrip(ctx, op)
		total.BytesSent += out.BytesSent
		total.BytesReceived += out.BytesReceived
		total.Cache, total.Op = out.Cache, w.r.op
		if w.status == 0 {
			total.Err = out.Err
			return total
		}
		var again bool
		total.Err, again = w.ex.Response(w.status, out.Err, w.kb.b, w.kb.truncated, op.Recording())
		if !again || attempt+1 >= maxExchangeAttempts {
			return total
		}
	}
}

// roundTrip sends the request rendered in w.r and reads the response.
func (w *netWorker) roundTrip(ctx context.Context, op *load.Op) load.Outcome {
	d := w.d
	r := w.r
	var out load.Outcome
	req := w.base.WithContext(httptrace.WithClientTrace(ctx, w.trace))
	if d.constReq == nil {
		if w.u == nil {
			u, err := url.Parse(d.origin + string(r.req[r.target.lo:r.target.hi]))
			if err != nil {
				return load.Outcome{Err: metrics.ErrOther}
			}
			req.URL = u
		}
		if !d.constHeaders {
			h := w.base.Header.Clone()
			for i := range d.headers {
				s := r.hdrs[i]
				h.Add(d.headers[i].name, string(r.req[s.lo:s.hi]))
			}
			req.Header = h
		}
	}
	if len(r.body) > 0 {
		body := r.body
		req.ContentLength = int64(len(body))
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	out.BytesSent = int64(len(r.req))
	if w.rv != nil {
		if w.rv.lookup(r.req[r.target.lo:r.target.hi]) {
			v := &w.rv.send
			if d.constReq != nil || d.constHeaders {
				req.Header = req.Header.Clone() // not w.base's
			}
			if len(v.etag) > 0 {
				req.Header["If-None-Match"] = []string{string(v.etag)}
			}
			if len(v.lastMod) > 0 {
				req.Header["If-Modified-Since"] = []string{string(v.lastMod)}
			}
			out.BytesSent += v.headerLen()
		}
	}

	for _, a := range []*atomic.Int64{&w.dnsStart, &w.connStart, &w.tlsStart, &w.gotConn, &w.firstByte, &w.dnsDur, &w.connDur, &w.tlsDur} {
		a.Store(0)
	}
	w.curOp = op
	resp, err := d.transport.RoundTrip(req)
	w.curOp = nil
	w.phases(op)
	if err != nil {
		out.Err = classifyErr(ctx, nil, err)
		return out
	}
	out.BytesReceived = headerSize(resp)
	out.Err = d.statusKind(resp.StatusCode)
	out.Cache = cacheStatus(resp.StatusCode,
		cacheValue([]byte(resp.Header.Get(d.cacheHeader))),
		cacheValue([]byte(resp.Header.Get("Cf-Cache-Status"))),
		ageValue([]byte(resp.Header.Get("Age"))))
	scan := out.Err == metrics.OK && len(d.expectBody) > 0
	w.scan.reset()
	if w.kb != nil {
		w.kb.reset()
	}
	for {
		n, rerr := resp.Body.Read(w.buf)
		out.BytesReceived += int64(n)
		if scan {
			w.scan.feed(w.buf[:n])
		}
		if w.kb != nil {
			w.kb.feed(w.buf[:n])
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			resp.Body.Close()
			out.Err = classifyErr(ctx, nil, rerr)
			return out
		}
	}
	resp.Body.Close()
	if scan && !w.scan.found {
		out.Err = metrics.ErrCheck
	}
	if w.rv != nil && resp.StatusCode == http.StatusOK {
		w.rv.etag = append(w.rv.etag, resp.Header.Get("Etag")...)
		w.rv.lastMod = append(w.rv.lastMod, resp.Header.Get("Last-Modified")...)
		w.rv.remember()
	}
	w.status = resp.StatusCode
	return out
}

// phases reports the trace's phase durations of this request.
func (w *netWorker) phases(op *load.Op) {
	if !op.Recording() {
		return
	}
	if v := w.dnsDur.Load(); v > 0 {
		op.Phase(load.PhaseDNS, time.Duration(v))
	}
	if v := w.connDur.Load(); v > 0 {
		op.Phase(load.PhaseConnect, time.Duration(v))
	}
	if v := w.tlsDur.Load(); v > 0 {
		op.Phase(load.PhaseTLS, time.Duration(v))
	}
	if g, f := w.gotConn.Load(), w.firstByte.Load(); g > 0 && f >= g {
		op.Phase(load.PhaseTTFB, time.Duration(f-g))
	}
}

// headerSize is the size the response head would have in HTTP/1.1 form:
// net/http does not expose the bytes it read (and HTTP/2 compresses
// headers), so this is what both paths count as received header bytes.
func headerSize(resp *http.Response) int64 {
	n := int64(len("HTTP/1.1 ") + len(resp.Status) + 2 + 2)
	for k, vs := range resp.Header {
		for _, v := range vs {
			n += int64(len(k) + 2 + len(v) + 2)
		}
	}
	if len(resp.TransferEncoding) > 0 {
		n += int64(len("Transfer-Encoding: chunked\r\n"))
	}
	return n
}

// connReused reports whether the connection GotConn hands out has carried a
// request before. net/http's info.Reused says only that it came from the
// idle pool, which a dialed but unused connection also does (a request that
// queued for a connection may take an idle one while its dial completes;
// the new connection then waits in the pool), so ask the counting
// connection underneath, through TLS if need be.
func connReused(info httptrace.GotConnInfo) bool {
	c := info.Conn
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if reused, ok := load.MarkUsed(c); ok {
		return reused
	}
	return info.Reused
}
