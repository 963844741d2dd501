package wsdrv

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/metrics"
)

// request builds a GET for the session's URL with the driver's headers,
// dialing through the counting dialer.
func (w *worker) request(ctx context.Context, s *session, url string) (*http.Request, error) {
	di := &dialInfo{count: &s.count, local: w.local, conns: &w.d.conns}
	req, err := http.NewRequestWithContext(context.WithValue(ctx, dialKey{}, di), http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range w.d.hdr {
		req.Header[k] = v
	}
	return req, nil
}

// sse runs one Server-Sent Events connection: GET with Accept:
// text/event-stream (and Last-Event-ID when resuming), then every event
// until the run ends or the stream does. id: is the seq, data: the
// envelope; comments and other fields are skipped.
func (w *worker) sse(ctx context.Context, s *session, resumed bool) (endReason, metrics.ErrKind) {
	op := s.op
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := w.request(rctx, s, w.url)
	if err != nil {
		return endFailed, metrics.ErrOther
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	if resumed && s.lastSeq > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(s.lastSeq, 10))
	}
	start := time.Now()
	// The response header must come within DialTimeout; the stream then
	// lasts the run.
	hdrTimer := time.AfterFunc(w.d.opts.DialTimeout, cancel)
	resp, err := w.d.hc.Do(req)
	hdrTimer.Stop()
	if err != nil {
		w.d.failed.Add(1)
		select {
		case <-op.Closing():
			return endClosing, ""
		default:
		}
		return endFailed, classifyDial(rctx, err, 0)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		w.d.failed.Add(1)
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		if resp.StatusCode != http.StatusOK {
			return endFailed, metrics.HTTPStatusKind(resp.StatusCode)
		}
		return endFailed, metrics.ErrProtocol
	}
	w.connectH.RecordValue(metrics.Micros(time.Since(start)))
	var ours atomic.Bool
	go func() {
		select {
		case <-op.Closing():
			ours.Store(true)
			s.snapshotEnds() // expect what was published when the run ended
			s.drainWait(w.d.opts.Drain, rctx.Done())
			cancel()
		case <-rctx.Done():
		}
	}()
	br := bufio.NewReaderSize(resp.Body, 4<<10) // longer lines are assembled by readLine
	var data []byte
	var id int64
	hasID := false
	var e envelope
	for {
		line, err := readLine(br, w.d.opts.ReadLimit)
		if err != nil {
			break
		}
		if len(line) == 0 { // dispatch
			if len(data) > 0 {
				now := time.Now()
				if scanEnvelope(data, DefaultCorrelate, &e) != nil {
					op.MessageError(metrics.ErrProtocol)
				} else {
					if !e.hasSeq && hasID {
						e.seq, e.hasSeq = id, true
					}
					s.event(w, &e, now)
				}
			}
			data, hasID = data[:0], false
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "data":
			if len(data) > 0 {
				data = append(data, '\n')
			}
			data = append(data, value...)
		case "id":
			id, hasID = parseInt(value)
		}
	}
	cancel()
	select {
	case <-op.Closing():
		ours.Store(true)
	default:
	}
	if ours.Load() {
		w.d.closedBy("client")
		return endClosing, ""
	}
	w.d.closedBy("abnormal")
	return endLost, metrics.ErrEOF
}

// readLine reads one line without its end (LF or CRLF), at most limit
// bytes.
func readLine(br *bufio.Reader, limit int64) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		buf := append([]byte(nil), line...)
		for err == bufio.ErrBufferFull {
			if int64(len(buf)) > limit {
				return nil, errTooLong
			}
			line, err = br.ReadSlice('\n')
			buf = append(buf, line...)
		}
		line = buf
	}
	if err != nil {
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

var errTooLong = io.ErrShortBuffer

// poll runs polling for the whole session: GET URL&since=SEQ every
// PollInterval (with If-None-Match: the last ETag, unless NoETag), or with
// &wait=LongPoll back to back. Each request is a message sent, each event
// a message received, so requests per delivered event is sent / received.
// A failed request is a message error; the session goes on, polling is
// its own reconnect.
func (w *worker) poll(ctx context.Context, s *session) (endReason, metrics.ErrKind) {
	op, o := s.op, w.d.opts
	var p *load.Pacer
	if o.LongPoll <= 0 {
		p = load.NewPacer(time.Now().Add(time.Duration(float64(o.PollInterval)*frac(uint64(w.id)))), o.PollInterval)
		defer p.Stop()
	}
	sep := "?"
	if strings.Contains(w.url, "?") {
		sep = "&"
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // the run's end also ends a long poll in flight
		select {
		case <-op.Closing():
			cancel()
		case <-rctx.Done():
		}
	}()
	var etag string
	var e envelope
	var url []byte
	final := false
	for !final {
		if p != nil {
			if _, ok := p.Next(ctx, op.Closing()); !ok {
				final = true
			}
		} else {
			select {
			case <-op.Closing():
				final = true
			default:
			}
		}
		reqCtx := rctx
		if final {
			s.snapshotEnds() // expect what was published when the run ended
			// The run ended: one last plain poll collects what was
			// published since the previous one (the drain), so an event
			// is not counted lost for being merely not yet polled.
			var fcancel context.CancelFunc
			reqCtx, fcancel = context.WithTimeout(ctx, o.Drain)
			defer fcancel()
		}
		url = append(url[:0], w.url...)
		url = append(url, sep...)
		url = append(url, "since="...)
		sync := !s.synced && !final
		if sync {
			// The first poll asks for what follows a seq from the far
			// future: nothing, and last_seq says where the topic is now
			// (since=0 would be the whole log, history published before
			// this poller arrived).
			url = strconv.AppendInt(url, syncSince, 10)
		} else {
			url = strconv.AppendInt(url, s.lastSeq, 10)
		}
		if o.LongPoll > 0 && !final && !sync {
			url = append(url, "&wait="...)
			url = append(url, o.LongPoll.String()...)
		}
		req, err := w.request(reqCtx, s, string(url))
		if err != nil {
			return endFailed, metrics.ErrOther
		}
		if etag != "" && !o.NoETag && o.LongPoll <= 0 && !final {
			req.Header.Set("If-None-Match", etag)
		}
		resp, err := w.d.hc.Do(req)
		if err != nil {
			select {
			case <-op.Closing():
				if !final {
					continue // the run's end cut a long poll short: the final poll follows
				}
				return endClosing, ""
			default:
			}
			op.MessageSent(1)
			op.MessageError(classifyDial(reqCtx, err, 0))
			if p == nil && !w.wait(ctx, op, o.Backoff.Delay(0, w.rng)) {
				return endClosing, ""
			}
			continue
		}
		op.MessageSent(1) // a request is a message sent
		now := time.Now()
		switch resp.StatusCode {
		case http.StatusOK:
			w.buf, err = readAll(w.buf[:0], io.LimitReader(resp.Body, o.ReadLimit))
			if err == nil {
				now = time.Now()
				if tag := resp.Header.Get("ETag"); tag != "" {
					etag = tag
				}
				if !w.pollEvents(s, w.buf, &e, now) {
					op.MessageError(metrics.ErrProtocol)
				}
			} else {
				op.MessageError(metrics.ErrEOF)
			}
		case http.StatusNotModified, http.StatusNoContent:
		default:
			op.MessageError(metrics.HTTPStatusKind(resp.StatusCode))
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}
	return endClosing, ""
}

// syncSince is the seq of a session's first poll: the largest integer a
// JSON number carries exactly, later than any real seq.
const syncSince = 1<<53 - 1

// pollEvents accounts for the events of one poll response,
// {"events": [envelope...], "last_seq": N}; false if it is malformed.
func (w *worker) pollEvents(s *session, b []byte, e *envelope, now time.Time) bool {
	var ev envelope
	if scanEnvelope(b, DefaultCorrelate, &ev) != nil {
		return false
	}
	last, hasLast := parseInt(objectValue(b, "last_seq"))
	if !s.synced {
		// The answer to the sync poll: where the topic is now. Its events,
		// if a server sent any, came before this poller (not counted). A
		// server that echoes the far-future seq gets polled from 0.
		s.synced = true
		if hasLast && last < syncSince {
			s.lastSeq = last
		}
		return true
	}
	if hasLast {
		defer func() { s.lastSeq = max(s.lastSeq, last) }()
	}
	arr := objectValue(b, "events")
	if arr == nil || string(arr) == "null" {
		return true
	}
	if arr[0] != '[' {
		return false
	}
	i := skipWS(arr, 1)
	if i < len(arr) && arr[i] == ']' {
		return true
	}
	for i < len(arr) {
		end, ok := skipValue(arr, i, 1)
		if !ok {
			return false
		}
		if scanEnvelope(arr[i:end], DefaultCorrelate, e) == nil {
			s.event(w, e, now)
		} else {
			s.op.MessageError(metrics.ErrProtocol)
		}
		i = skipWS(arr, end)
		if i >= len(arr) || arr[i] == ']' {
			break
		}
		i = skipWS(arr, i+1)
	}
	return true
}

// objectValue returns the raw value of top-level field key of the JSON
// object obj (already validated), or nil.
func objectValue(obj []byte, key string) []byte {
	i := skipWS(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return nil
	}
	i = skipWS(obj, i+1)
	for i < len(obj) && obj[i] == '"' {
		ks, ke, next, ok := scanString(obj, i)
		if !ok {
			return nil
		}
		i = skipWS(obj, next)
		if i >= len(obj) || obj[i] != ':' {
			return nil
		}
		i = skipWS(obj, i+1)
		vs := i
		end, ok := skipValue(obj, i, 1)
		if !ok {
			return nil
		}
		if string(obj[ks:ke]) == key {
			return obj[vs:end]
		}
		i = skipWS(obj, end)
		if i >= len(obj) || obj[i] != ',' {
			return nil
		}
		i = skipWS(obj, i+1)
	}
	return nil
}
