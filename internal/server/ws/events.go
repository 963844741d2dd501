package ws

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/loadrig/loadrig/internal/domain"
)

// eventTopic resolves ?topic= of /api/events: ticker, notifications (the
// caller's own; needs a token) or room:NAME. It returns the log topic, the
// Feed topic and its key.
func (s *Server) eventTopic(r *http.Request) (logTopic, feedTopic string, key int64, status int, err error) {
	t := r.URL.Query().Get("topic")
	switch {
	case t == TopicTicker:
		return TopicTicker, TopicTicker, 0, 0, nil
	case t == TopicNotifications:
		user, err := s.authenticate(r)
		if err != nil || user == 0 {
			return "", "", 0, http.StatusUnauthorized, errors.New("topic=notifications needs the caller's token: Authorization: Bearer <token> or ?token=")
		}
		return notifTopic(user), TopicNotifications, user, 0, nil
	case strings.HasPrefix(t, "room:") && ValidRoom(t[5:]):
		return topicRoomPrefix + t[5:], topicRoomPrefix + t[5:], 0, 0, nil
	}
	return "", "", 0, http.StatusBadRequest, fmt.Errorf("topic %q: use ticker, notifications or room:NAME", truncate(t, 64))
}

// holdStream counts an SSE stream or long poll against MaxConns; false
// (with 503 written) when the server holds as many already or is shutting
// down.
func (s *Server) holdStream(w http.ResponseWriter) bool {
	if s.closing.Load() {
		httpError(w, http.StatusServiceUnavailable, "server is shutting down")
		return false
	}
	if s.stats.streams.Add(1) > int64(s.d.MaxConns) {
		s.stats.streams.Add(-1)
		w.Header().Set("Retry-After", "1")
		httpError(w, http.StatusServiceUnavailable, "too many open streams (--max-conns)")
		return false
	}
	return true
}

func parseSeq(s string) (int64, error) {
	s = strings.Trim(strings.TrimPrefix(s, "W/"), `"`)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a seq (a number >= 0)", truncate(s, 32))
	}
	return n, nil
}

// pollEvents is GET /api/events?topic=T&since=SEQ[&wait=25s]: the events
// after since at once, {"events": [...], "last_seq": N}, ETag = last seq,
// 304 when If-None-Match is the last seq; with wait, held until an event
// (200) or the end of the wait (204).
func (s *Server) pollEvents(w http.ResponseWriter, r *http.Request) {
	logTopic, feedTopic, key, status, err := s.eventTopic(r)
	if err != nil {
		httpError(w, status, err.Error())
		return
	}
	q := r.URL.Query()
	inm := r.Header.Get("If-None-Match")
	sinceStr := q.Get("since")
	if sinceStr == "" {
		sinceStr = inm
	}
	since, err := parseSeq(sinceStr)
	if err != nil {
		httpError(w, http.StatusBadRequest, "since: "+err.Error())
		return
	}
	var wait time.Duration
	if ws := q.Get("wait"); ws != "" {
		if wait, err = time.ParseDuration(ws); err != nil || wait < 0 {
			httpError(w, http.StatusBadRequest, "wait: a duration like 25s")
			return
		}
		wait = min(wait, s.d.MaxWait)
	}
	var sub *domain.Subscription
	if wait > 0 { // subscribe before reading, so nothing falls between
		if !s.holdStream(w) {
			return
		}
		defer s.stats.streams.Add(-1)
		var keys []int64
		if key != 0 {
			keys = []int64{key}
		}
		sub = s.subscribe(feedTopic, 64, keys...)
		defer sub.Close()
	}
	ctx, cancel := context.WithTimeout(r.Context(), logTimeout)
	es, err := s.d.Log.Since(ctx, logTopic, since, maxBatch)
	cancel()
	if err != nil {
		s.stats.logErrors.Add(1)
		httpError(w, http.StatusServiceUnavailable, "event log unavailable")
		return
	}
	if len(es) == 0 && wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
	loop:
		for {
			select {
			case e := <-sub.C():
				if envelopeSeq(e.Data) > since {
					break loop
				}
			case <-sub.Done():
				break loop
			case <-t.C:
				w.WriteHeader(http.StatusNoContent)
				return
			case <-r.Context().Done():
				return
			case <-s.done:
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		ctx, cancel := context.WithTimeout(r.Context(), logTimeout)
		es, err = s.d.Log.Since(ctx, logTopic, since, maxBatch)
		cancel()
		if err != nil {
			s.stats.logErrors.Add(1)
			httpError(w, http.StatusServiceUnavailable, "event log unavailable")
			return
		}
	}
	last := since
	if len(es) > 0 {
		last = es[len(es)-1].Seq
	} else {
		ctx, cancel := context.WithTimeout(r.Context(), logTimeout)
		if l, err := s.d.Log.Last(ctx, logTopic); err == nil && l < since {
			last = l
		}
		cancel()
	}
	etag := `"` + strconv.FormatInt(last, 10) + `"`
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", "no-cache")
	if len(es) == 0 && inm == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	var b bytes.Buffer
	b.WriteString(`{"events":[`)
	for i, e := range es {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(e.Data)
	}
	b.WriteString(`],"last_seq":`)
	b.WriteString(strconv.FormatInt(last, 10))
	b.WriteString("}\n")
	h.Set("Content-Type", "application/json")
	_, _ = w.Write(b.Bytes())
	s.stats.out.Add(int64(len(es)))
}

// streamEvents is GET /api/events/stream?topic=T: Server-Sent Events, one
// per event, `id:` = seq and `data:` = the envelope (no `event:` line, so
// EventSource.onmessage gets them), Last-Event-ID (or ?since=) resumes from
// the log, a comment line every SSEKeepalive.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request) {
	logTopic, feedTopic, key, status, err := s.eventTopic(r)
	if err != nil {
		httpError(w, status, err.Error())
		return
	}
	lastID := r.Header.Get("Last-Event-ID")
	if lastID == "" {
		lastID = r.URL.Query().Get("since")
	}
	since, err := parseSeq(lastID)
	if err != nil {
		httpError(w, http.StatusBadRequest, "Last-Event-ID: "+err.Error())
		return
	}
	if !s.holdStream(w) {
		return
	}
	defer s.stats.streams.Add(-1)
	var keys []int64
	if key != 0 {
		keys = []int64{key}
	}
	sub := s.subscribe(feedTopic, s.d.Queue, keys...)
	defer sub.Close()
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	var buf []byte
	write := func(b []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(s.d.WriteTimeout))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	event := func(seq int64, data []byte) bool {
		buf = buf[:0]
		if seq > 0 {
			buf = append(buf, "id: "...)
			buf = strconv.AppendInt(buf, seq, 10)
			buf = append(buf, '\n')
		}
		buf = append(buf, "data: "...)
		buf = append(buf, data...)
		buf = append(buf, "\n\n"...)
		if !write(buf) {
			return false
		}
		s.stats.out.Add(1)
		return true
	}
	if !write([]byte(": stream of " + logTopic + "\nretry: 1000\n\n")) {
		return
	}
	if since > 0 || lastID != "" {
		for {
			ctx, cancel := context.WithTimeout(r.Context(), logTimeout)
			es, err := s.d.Log.Since(ctx, logTopic, since, maxBatch)
			cancel()
			if err != nil {
				s.stats.logErrors.Add(1)
				break
			}
			for _, e := range es {
				if !event(e.Seq, e.Data) {
					return
				}
				since = e.Seq
			}
			if len(es) < maxBatch {
				break
			}
		}
	}
	keep := time.NewTicker(s.d.SSEKeepalive)
	defer keep.Stop()
	for {
		select {
		case e := <-sub.C():
			seq := envelopeSeq(e.Data)
			if seq > 0 && seq <= since {
				continue // already sent from the log
			}
			if !event(seq, e.Data) {
				return
			}
		case <-sub.Done(): // too slow for the feed: the client reconnects with Last-Event-ID
			s.stats.kicked.Add(1)
			return
		case <-keep.C:
			if !write([]byte(": keepalive\n\n")) {
				return
			}
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		}
	}
}
