package httpdrv

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/load/rawconn"
	"github.com/loadrig/loadrig/internal/metrics"
)

// fconn is one fast-path connection.
type fconn struct {
	c        net.Conn
	w        io.Writer     // c with raw-syscall Read and Write (package rawconn)
	br       *bufio.Reader // reads through w's raw Read
	aborted  bool          // a past deadline was set to abort I/O; guarded by the worker's mu
	lastUsed time.Time     // when the last request was written
}

// connPool shares at most n connections between workers: tokens holds one
// token per connection that may still be opened, idle the open connections
// nobody uses. A worker takes an idle connection, or a token and dials, or
// waits for either.
type connPool struct {
	idle   chan *fconn
	tokens chan struct{}
}

func newConnPool(n int) *connPool {
	p := &connPool{idle: make(chan *fconn, n), tokens: make(chan struct{}, n)}
	for range n {
		p.tokens <- struct{}{}
	}
	return p
}

func (p *connPool) close(d *Driver) {
	for {
		select {
		case fc := <-p.idle:
			d.closeFast(fc)
		default:
			return
		}
	}
}

// fastWorker is a fast-path worker: HTTP/1.1 over a plain net.Conn with a
// 16 KiB bufio.Reader, the request written with one Write, the response
// parsed in place. It does not allocate per request.
type fastWorker struct {
	d       *Driver
	run     context.Context
	runDone <-chan struct{}
	stop    func() bool
	r       *renderer // nil when the request is constant
	own     *fconn    // the worker's connection when there is no shared pool
	mu      sync.Mutex
	cur     *fconn // the connection in use, guarded by mu for abort
	gen     uint64 // generation of the watched operation context, guarded by mu
	// watched is the Done channel of the operation context being watched
	// and unwatch ends that watch.
	watched <-chan struct{}
	unwatch func() bool
	scan    *bodyScan
	reused  *paddedCounter
	rv      *revalCache // nil unless Options.Revalidate
	long    []byte      // a line longer than the read buffer (readLine)
	ex      Exchange    // nil unless Options.NewExchange
	kb      *bodyBuf    // the body kept for ex
	status  int         // status of the last complete response (ex only)
}

var longAgo = time.Unix(1, 0)

func (d *Driver) newFastWorker(ctx context.Context, id int) *fastWorker {
	w := &fastWorker{d: d, run: ctx, runDone: ctx.Done(), reused: d.newReusedCounter(), scan: newBodyScan(d.expectBody), rv: d.newRevalCache()}
	if d.constReq == nil {
		w.r = d.newRenderer(d.env.NewEvaluator(id))
	}
	if w.ex, w.kb = d.newExchange(id); w.ex != nil {
		w.r.ex = w.ex
	}
	// Cancelling the run aborts the worker's blocking read or write.
	w.stop = context.AfterFunc(ctx, func() { w.abort(0) })
	return w
}

// abort makes the blocked read or write on the current connection fail now,
// if gen is 0 (the run) or the generation of the operation context being
// watched (so a late callback of a previous context cannot hit a later
// request).
func (w *fastWorker) abort(gen uint64) {
	w.mu.Lock()
	if fc := w.cur; fc != nil && (gen == 0 || gen == w.gen) {
		fc.c.SetDeadline(longAgo)
		fc.aborted = true
	}
	w.mu.Unlock()
}

// watch makes the cancellation of ctx (its deadline included) abort the
// worker's I/O. net.Conn reads take no context, and context.AfterFunc costs
// ~0.5 µs and 2 allocations, so it is registered only when the operation
// context changes: the engine reuses one context per worker until it is
// canceled, so this is once per worker and timeout, not per request.
func (w *fastWorker) watch(ctx context.Context) {
	done := ctx.Done()
	if done == nil || done == w.watched {
		return
	}
	if w.unwatch != nil {
		w.unwatch()
	}
	w.mu.Lock()
	w.gen++
	gen := w.gen
	w.mu.Unlock()
	w.watched = done
	w.unwatch = context.AfterFunc(ctx, func() { w.abort(gen) })
}

// Close closes the worker's own connection.
func (w *fastWorker) Close() error {
	w.stop()
	if w.unwatch != nil {
		w.unwatch()
	}
	if w.own != nil {
		w.d.closeFast(w.own)
		w.own = nil
	}
	return nil
}

func (d *Driver) closeFast(fc *fconn) {
	fc.c.Close()
	d.conns.Closed()
}

// Do performs one request. A request that fails on a reused connection
// before any response byte arrived (the server closed an idle keep-alive
// connection) is retried once on a new connection when the method is
// idempotent, as net/http does.
func (w *fastWorker) Do(ctx context.Context, op *load.Op) load.Outcome {
	if err := ctx.Err(); err != nil {
		return load.Outcome{Err: classifyErr(ctx, w.run, err)}
	}
	if w.run.Err() != nil {
		return load.Outcome{Err: metrics.ErrCanceled}
	}
	if w.ex != nil {
		return w.doExchange(ctx, op)
	}
	req, head, target := w.d.constReq, w.d.constHead, w.d.constTarget
	if req == nil {
		r := w.r
		r.render(op.Seq())
		req, head, target = r.req, r.head, r.req[r.target.lo:r.target.hi]
	}
	if w.rv != nil {
		req = w.rv.begin(req, head, target)
	}
	return w.send(ctx, op, req)
}

// doExchange performs one operation whose requests an Exchange makes: one
// request, and another as long as the Exchange asks for a follow-up (at
// most maxExchangeAttempts in all). Bytes add up over the requests.
func (w *fastWorker) doExchange(ctx context.Context, op *load.Op) load.Outcome {
	r := w.r
	var total load.Outcome
	for attempt := 0; ; attempt++ {
		r.attempt = attempt
		r.render(op.Seq())
		w.status = 0
		out := w.send(ctx, op, r.req)
		total.BytesSent += out.BytesSent
		total.BytesReceived += out.BytesReceived
		total.Cache, total.Op = out.Cache, r.op
		if w.status == 0 { // no complete response: the transport's error
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

// send sends req, retrying on another connection as Do says.
func (w *fastWorker) send(ctx context.Context, op *load.Op, req []byte) load.Outcome {
	w.watch(ctx)
	var out load.Outcome
	sentRetries := 0
	for attempt := 0; ; attempt++ {
		fc, fresh, kind := w.acquire(ctx, op)
		if kind != metrics.OK {
			out = load.Outcome{Err: kind}
			break
		}
		var retry retryKind
		out, retry = w.roundTrip(ctx, op, fc, fresh, req)
		if retry == retrySent {
			sentRetries++
		}
		if retry == noRetry || sentRetries > 1 || attempt >= maxAttempts {
			break
		}
	}
	return out
}

type retryKind uint8

const (
	noRetry     retryKind = iota
	retrySent             // failed on a stale connection after sending (idempotent only)
	retryUnsent           // the connection was found closed before sending
)

// maxAttempts bounds the connections one request may try (a pool can hold
// several connections the server closed while they were idle).
const maxAttempts = 8

// idleCheckAfter is how long a connection may sit idle before it is
// probed for a close by the server before reuse. Servers close idle
// keep-alive connections after seconds (Node 5 s, nginx 75 s); net/http
// notices with a read loop per connection, the fast path with one
// non-blocking peek, only on connections idle this long, so busy
// connections pay nothing.
const idleCheckAfter = time.Second

func (w *fastWorker) acquire(ctx context.Context, op *load.Op) (*fconn, bool, metrics.ErrKind) {
	p := w.d.pool
	if p == nil {
		if w.own != nil {
			return w.own, false, metrics.OK
		}
		fc, kind := w.dial(ctx, op)
		w.own = fc
		return fc, true, kind
	}
	select {
	case fc := <-p.idle:
		return fc, false, metrics.OK
	default:
	}
	select {
	case fc := <-p.idle:
		return fc, false, metrics.OK
	case <-p.tokens:
	default:
		// Every connection is busy: wait. The wait is not service time.
		select {
		case fc := <-p.idle:
			op.MarkSent()
			return fc, false, metrics.OK
		case <-p.tokens:
			op.MarkSent()
		case <-ctx.Done():
			return nil, false, classifyErr(ctx, w.run, ctx.Err())
		case <-w.runDone:
			return nil, false, metrics.ErrCanceled
		}
	}
	fc, kind := w.dial(ctx, op)
	if kind != metrics.OK {
		p.tokens <- struct{}{}
	}
	return fc, true, kind
}

func (w *fastWorker) dial(ctx context.Context, op *load.Op) (*fconn, metrics.ErrKind) {
	d := w.d
	addr := d.addr
	if !d.hostIsIP {
		t0 := time.Now()
		ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", d.host)
		if err != nil {
			return nil, classifyErr(ctx, w.run, err)
		}
		op.Phase(load.PhaseDNS, time.Since(t0))
		ip := ips[0]
		for _, a := range ips { // prefer IPv4, as most targets listen there
			if a.Is4() {
				ip = a
				break
			}
		}
		addr = net.JoinHostPort(ip.Unmap().String(), d.port)
	}
	t0 := time.Now()
	c, err := d.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, classifyErr(ctx, w.run, err)
	}
	op.Phase(load.PhaseConnect, time.Since(t0))
	d.conns.Opened()
	return d.newFconn(c), metrics.OK
}

func (d *Driver) newFconn(c net.Conn) *fconn {
	rw := d.conns.CountConn(rawconn.Wrap(c))
	return &fconn{c: c, w: rw, br: bufio.NewReaderSize(rw, readBufSize)}
}

// release returns fc to the pool, or closes it when it cannot be reused.
func (w *fastWorker) release(fc *fconn, keep bool) {
	w.mu.Lock()
	w.cur = nil
	w.mu.Unlock()
	p := w.d.pool
	if keep && !w.d.opts.DisableKeepAlive {
		if p != nil {
			p.idle <- fc // never blocks: at most cap(idle) connections exist
		}
		return
	}
	w.d.closeFast(fc)
	if p != nil {
		p.tokens <- struct{}{}
	} else {
		w.own = nil
	}
}

func (w *fastWorker) roundTrip(ctx context.Context, op *load.Op, fc *fconn, fresh bool, req []byte) (out load.Outcome, retry retryKind) {
	w.mu.Lock()
	w.cur = fc
	if fc.aborted { // a cancellation hit the connection after its request
		fc.c.SetDeadline(time.Time{})
		fc.aborted = false
	}
	w.mu.Unlock()
	if err := ctx.Err(); err != nil || w.run.Err() != nil { // canceled before cur was set
		w.release(fc, false)
		return load.Outcome{Err: classifyErr(ctx, w.run, err)}, noRetry
	}
	t0 := time.Now()
	if !fresh {
		if t0.Sub(fc.lastUsed) > w.d.idleCheck && (fc.br.Buffered() > 0 || peerClosed(fc.c)) {
			w.release(fc, false)
			return load.Outcome{Err: metrics.ErrEOF}, retryUnsent
		}
		w.reused.Add(1)
	}
	fc.lastUsed = t0
	if _, err := fc.w.Write(req); err != nil {
		w.release(fc, false)
		return load.Outcome{Err: classifyErr(ctx, w.run, err)}, w.staleRetry(fresh, err)
	}
	out.BytesSent = int64(len(req))
	if _, err := fc.br.Peek(1); err != nil {
		w.release(fc, false)
		out.Err = classifyErr(ctx, w.run, err)
		return out, w.staleRetry(fresh, err)
	}
	op.Phase(load.PhaseTTFB, time.Since(t0))
	keep, err := w.readResponse(fc.br, &out)
	if err != nil {
		w.release(fc, false)
		out.Err = classifyErr(ctx, w.run, err)
		return out, noRetry
	}
	w.release(fc, keep)
	return out, noRetry
}

// staleRetry says whether a request that failed with err before any
// response byte may be sent again on another connection: only when the
// connection was reused (the server closed it while idle) and the method is
// idempotent, as net/http does.
func (w *fastWorker) staleRetry(fresh bool, err error) retryKind {
	if !fresh && w.d.idempotent && staleConnErr(err) {
		return retrySent
	}
	return noRetry
}

// staleConnErr reports errors that mean a kept-alive connection had been
// closed by the server before the request.
func staleConnErr(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// readBufSize is the size of a fast-path connection's read buffer. Status
// and header lines nearly always fit; a longer line is assembled in the
// worker's long-line buffer (see readLine). Bodies stream through it, so a
// smaller buffer costs read syscalls on large responses (4 KiB: four times
// as many reads of a 1 MB body); an untouched buffer page costs no RSS, so
// 16 KiB costs a small response no more memory than 4 KiB (a 100 ms stall
// at 5,000/s that started ~500 workers peaked at 37.2 MiB with either).
const readBufSize = 16 << 10

// maxLineLen bounds one status, header or chunk-size line: longer is a
// protocol error.
const maxLineLen = 256 << 10

// readLine reads one line (with its line end). A line that fits the
// reader's buffer is returned in place; a longer one (a large Set-Cookie or
// Content-Security-Policy header) is copied into w.long, which is made on
// first need and reused, and stays valid until the next long line.
func (w *fastWorker) readLine(br *bufio.Reader, n *int64) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	*n += int64(len(line))
	if err == bufio.ErrBufferFull {
		buf := append(w.long[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = br.ReadSlice('\n')
			*n += int64(len(line))
			if len(buf)+len(line) > maxLineLen {
				return nil, errProtocol
			}
			buf = append(buf, line...)
		}
		w.long = buf
		line = buf
	}
	switch {
	case err == io.EOF:
		return nil, io.ErrUnexpectedEOF
	case err != nil:
		return nil, err
	}
	return line, nil
}

// readResponse parses one response into out (status kind, cache status,
// bytes) and consumes its body; keep says whether the connection may carry
// another request.
func (w *fastWorker) readResponse(br *bufio.Reader, out *load.Outcome) (keep bool, err error) {
	d := w.d
	rv := w.rv
	var n int64
	defer func() { out.BytesReceived = n }()
	for {
		if rv != nil {
			rv.resetResponse() // an interim response's headers do not count
		}
		line, err := w.readLine(br, &n)
		if err != nil {
			return false, err
		}
		// HTTP/1.x SP 3DIGIT [SP reason] CRLF
		if len(line) < 13 || string(line[:7]) != "HTTP/1." || line[8] != ' ' ||
			(line[12] != ' ' && line[12] != '\r' && line[12] != '\n') {
			return false, errProtocol
		}
		code := 0
		for _, c := range line[9:12] {
			if c < '0' || c > '9' {
				return false, errProtocol
			}
			code = code*10 + int(c-'0')
		}
		keep = line[7] == '1'
		clen := int64(-1)
		chunked, untilClose := false, false
		var cfgCache, cfCache, ageCache metrics.CacheStatus
		for {
			line, err := w.readLine(br, &n)
			if err != nil {
				return false, err
			}
			l := trimSpace(line)
			if len(l) == 0 {
				if len(line) == 0 || (line[0] != '\r' && line[0] != '\n') {
					continue // white space only: obs-fold
				}
				break
			}
			if line[0] == ' ' || line[0] == '\t' {
				continue // obs-fold continuation
			}
			colon := -1
			for i, c := range l {
				if c == ':' {
					colon = i
					break
				}
			}
			if colon <= 0 {
				return false, errProtocol
			}
			name, val := l[:colon], trimSpace(l[colon+1:])
			if equalFold(name, d.cacheLower) {
				cfgCache = cacheValue(val)
			}
			switch len(name) {
			case 14:
				if equalFold(name, "content-length") {
					v, ok := parseDecimal(val)
					if !ok || (clen >= 0 && clen != v) {
						return false, errProtocol
					}
					clen = v
				}
			case 17:
				if equalFold(name, "transfer-encoding") {
					if containsFold(val, "chunked") {
						chunked = true
					} else if !equalFold(val, "identity") {
						untilClose = true
					}
				}
			case 10:
				if equalFold(name, "connection") {
					if containsFold(val, "close") {
						keep = false
					} else if containsFold(val, "keep-alive") {
						keep = true
					}
				}
			case 15:
				if equalFold(name, "cf-cache-status") {
					cfCache = cacheValue(val)
				}
			case 3:
				if equalFold(name, "age") {
					ageCache = ageValue(val)
				}
			case 4:
				if rv != nil && equalFold(name, "etag") {
					rv.etag = append(rv.etag[:0], val...) // val is overwritten by the next read
				}
			case 13:
				if rv != nil && equalFold(name, "last-modified") {
					rv.lastMod = append(rv.lastMod[:0], val...)
				}
			}
		}
		if code >= 100 && code < 200 && code != 101 {
			continue // interim response: the final one follows
		}
		if code == 101 {
			keep = false // the connection switched protocols: not reusable
		}
		out.Err = d.statusKind(code)
		out.Cache = cacheStatus(code, cfgCache, cfCache, ageCache)
		scan := out.Err == metrics.OK && len(d.expectBody) > 0
		w.scan.reset()
		if w.kb != nil {
			w.kb.reset()
		}
		switch {
		case d.method == "HEAD" || code == 204 || code == 304 || code < 200:
		case chunked:
			if err := w.readChunked(br, &n, scan); err != nil {
				return false, err
			}
		case clen >= 0 && !untilClose:
			if err := w.readBody(br, clen, &n, scan); err != nil {
				return false, err
			}
		default: // the body runs until the server closes
			keep = false
			if err := w.readBody(br, math.MaxInt64, &n, scan); err != nil && err != io.EOF {
				return false, err
			}
		}
		if scan && !w.scan.found {
			out.Err = metrics.ErrCheck
		}
		if rv != nil && code == 200 {
			rv.remember()
		}
		w.status = code
		return keep, nil
	}
}

// readBody consumes size bytes (math.MaxInt64: until EOF, returned as
// io.EOF), feeding them to the body scan when scan is set.
func (w *fastWorker) readBody(br *bufio.Reader, size int64, n *int64, scan bool) error {
	untilEOF := size == math.MaxInt64 // size shrinks as the body is read
	for size > 0 {
		if br.Buffered() == 0 {
			if _, err := br.Peek(1); err != nil {
				if err == io.EOF && !untilEOF {
					return io.ErrUnexpectedEOF
				}
				return err
			}
		}
		k := br.Buffered()
		if int64(k) > size {
			k = int(size)
		}
		if scan {
			p, _ := br.Peek(k)
			w.scan.feed(p)
		}
		if w.kb != nil {
			p, _ := br.Peek(k)
			w.kb.feed(p)
		}
		br.Discard(k)
		*n += int64(k)
		size -= int64(k)
	}
	return nil
}

func (w *fastWorker) readChunked(br *bufio.Reader, n *int64, scan bool) error {
	for {
		line, err := w.readLine(br, n)
		if err != nil {
			return err
		}
		var size int64
		digits := 0
		for _, c := range line {
			var v byte
			switch {
			case c >= '0' && c <= '9':
				v = c - '0'
			case c >= 'a' && c <= 'f':
				v = c - 'a' + 10
			case c >= 'A' && c <= 'F':
				v = c - 'A' + 10
			default:
				goto done
			}
			if digits >= 15 {
				return errProtocol
			}
			size = size<<4 | int64(v)
			digits++
		}
	done:
		if digits == 0 {
			return errProtocol
		}
		if size == 0 {
			for { // trailers, up to the empty line
				line, err := w.readLine(br, n)
				if err != nil {
					return err
				}
				if len(trimSpace(line)) == 0 {
					return nil
				}
			}
		}
		if err := w.readBody(br, size, n, scan); err != nil {
			return err
		}
		line, err = w.readLine(br, n)
		if err != nil {
			return err
		}
		if len(trimSpace(line)) != 0 {
			return errProtocol
		}
	}
}

func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}
