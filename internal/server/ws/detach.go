package ws

import (
	"fmt"
	"net/http"
	"runtime/debug"
)

// WebSocket handlers run detached from net/http: net/http's goroutine
// returns as soon as the connection is upgraded and registered, and the
// handler goes on as the connection's reader on a goroutine of its own.
// net/http's per-connection state (its connection struct with 8 KiB of
// buffers, the request, the request's contexts, the handshake's grown
// stack) is then let go rather than held for the life of the WebSocket,
// which is most of what an idle connection would cost (README, WebSocket
// server, idle memory).

// The upgrade itself (authentication, websocket.Accept) runs back on
// net/http's goroutine, which waits for the handler anyway: its stack has
// grown for the request already, and the handler's goroutine then stays
// at the few KiB that reading frames needs (a goroutine's stack shrinks
// only at a GC and only by half, so one grown to 8 KiB by a handshake
// would keep 8 KiB while it sits in a read).

// detachWriter is the ResponseWriter a detached handler gets; handshake
// runs the upgrade through it (onNetHTTP) and calls detach once the
// connection is registered.
type detachWriter struct {
	http.ResponseWriter
	msgs chan any // handler → net/http: func() to run there; nil (detached or done); panicked
	ran  chan any // net/http → handler: the func ran (nil) or panicked with this
	sent bool     // the last message is sent (the handler's goroutine only)
}

// panicked carries a handler's panic back to net/http's goroutine.
type panicked struct{ v any }

// Unwrap lets http.ResponseController (and websocket.Accept) reach the
// writer underneath.
func (d *detachWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }

// detached serves h on a goroutine of its own and returns when h calls
// detach (through handshake) or ends. A panic before the detach is raised
// again on net/http's goroutine, for the spine's recovery; one after it is
// logged, the handler's deferred cleanup having run.
func (s *Server) detached(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		msgs, ran := make(chan any, 1), make(chan any, 1)
		d := &detachWriter{ResponseWriter: w, msgs: msgs, ran: ran}
		go s.runDetached(h, d, r)
		for {
			switch m := (<-msgs).(type) {
			case func():
				ran <- run(m)
			case panicked:
				panic(m.v)
			default:
				return
			}
		}
	})
}

// run calls f and returns what it panicked with (nil: nothing).
func run(f func()) (v any) {
	defer func() {
		if p := recover(); p != nil {
			v = panicked{p}
		}
	}()
	f()
	return nil
}

func (s *Server) runDetached(h http.HandlerFunc, d *detachWriter, r *http.Request) {
	defer func() {
		v := recover()
		if d.sent {
			if v != nil {
				s.d.Logger.Error("websocket handler panic", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			}
			return
		}
		d.sent = true
		if v != nil {
			d.msgs <- panicked{v}
			return
		}
		d.msgs <- nil
	}()
	h(d, r)
}

// onNetHTTP runs f on net/http's goroutine when w is a detached handler's
// writer not yet detached, else here. A panic in f is raised again here.
func onNetHTTP(w http.ResponseWriter, f func()) {
	d, ok := w.(*detachWriter)
	if !ok || d.sent {
		f()
		return
	}
	d.msgs <- f
	if p, ok := (<-d.ran).(panicked); ok {
		panic(p.v)
	}
}

// detach releases net/http's goroutine of a detached handler (a no-op for
// any other writer). The handler must not touch w or its request's
// context afterwards.
func detach(w http.ResponseWriter) {
	d, ok := w.(*detachWriter)
	if !ok || d.sent {
		return
	}
	d.sent = true
	d.msgs <- nil
	// What the handler's goroutine keeps of d for its life: nothing of
	// net/http's.
	d.ResponseWriter, d.msgs, d.ran = nil, nil, nil
}
