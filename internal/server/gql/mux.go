package gql

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/loadrig/loadrig/internal/domain"
)

// Multiplexed subscriptions. gqlgen runs each WebSocket subscription on its
// own execution: per event and per subscriber it resolves the selection
// set, marshals the data and runs the response middleware. Subscribers of
// one document, operation name, variables and viewer all get the same
// answer, so the mux runs ONE execution per such key (one broker
// subscription, one resolution per event) and hands its response to every
// subscriber; gqlgen's WebSocket transport (kept: graphql-transport-ws and
// graphql-ws, init, keep-alive, origins, read limit, complete/stop) still
// wraps it in each subscriber's own message envelope (its id).
//
// It sits between that transport and the executor (muxExec wraps the
// graphql.GraphExecutor the transport is given), so parsing, validation,
// limits and APQ stay per subscribe message. A shared execution lives from
// its first subscriber to its last: it runs on a context of its own (the
// first subscriber's values, not its cancellation), and the last subscriber
// leaving cancels it, which ends its resolver goroutine and broker
// subscription. The key includes the viewer (the verified user id, or
// anonymous) and the cache bypass flag, so nothing crosses viewers; a
// credential that does not verify is not multiplexed (it runs alone and
// fails as before).
//
// A subscriber that falls subBuffer events behind is dropped (its stream
// ends with complete, as when the broker drops a slow subscription) and
// counted; the execution never waits for a subscriber.

// muxTransport is gqlgen's WebSocket transport with the executor wrapped.
type muxTransport struct {
	ws graphql.Transport
	m  *subMux
}

func (t muxTransport) Supports(r *http.Request) bool { return t.ws.Supports(r) }

func (t muxTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	t.ws.Do(w, r, muxExec{GraphExecutor: exec, m: t.m})
}

// muxExec dispatches subscriptions to shared executions; everything else
// goes to the wrapped executor.
type muxExec struct {
	graphql.GraphExecutor
	m *subMux
}

func (e muxExec) DispatchOperation(ctx context.Context, rc *graphql.OperationContext) (graphql.ResponseHandler, context.Context) {
	if rc == nil || rc.Operation == nil || rc.Operation.Operation != ast.Subscription {
		return e.GraphExecutor.DispatchOperation(ctx, rc)
	}
	key, ok := e.m.keyOf(ctx, rc)
	if !ok {
		return e.GraphExecutor.DispatchOperation(ctx, rc)
	}
	s := e.m.join(ctx, rc, key, e.GraphExecutor)
	return s.next, ctx
}

// muxKey identifies the subscribers that share an execution.
type muxKey struct {
	query, operation, variables string
	viewer                      int64 // 0: anonymous
	bypass                      bool
}

// subMux holds the shared executions.
type subMux struct {
	h     *Handler
	mu    sync.Mutex
	execs map[muxKey]*sharedExec
}

func newSubMux(h *Handler) *subMux {
	return &subMux{h: h, execs: map[muxKey]*sharedExec{}}
}

// keyOf is the subscription's key; ok is false when it must run alone (a
// credential that does not verify, variables that do not encode).
func (m *subMux) keyOf(ctx context.Context, rc *graphql.OperationContext) (muxKey, bool) {
	k := muxKey{query: rc.RawQuery, operation: rc.OperationName, bypass: domain.Bypass(ctx)}
	if len(rc.Variables) > 0 {
		b, err := json.Marshal(rc.Variables) // map keys sorted: one text per value
		if err != nil {
			return k, false
		}
		k.variables = string(b)
	}
	if tok, _ := ctx.Value(tokenKey).(string); tok != "" {
		id, err := m.h.d.Auth.Verify(ctx, tok)
		if err != nil || id == 0 {
			return k, false
		}
		k.viewer = id
	}
	return k, true
}

// sharedExec is one execution and its subscribers.
type sharedExec struct {
	m      *subMux
	key    muxKey
	cancel context.CancelFunc

	mu    sync.Mutex
	subs  map[*muxSub]struct{}
	ended bool // no longer in m.execs: joins make a new execution
}

// muxSub is one subscriber of a shared execution.
type muxSub struct {
	x    *sharedExec
	ch   chan *graphql.Response // closed when the execution ends or drops it
	stop func() bool            // unregisters the leave on ctx's end
}

// join adds a subscriber to the execution of key, starting it if there is
// none. The subscriber leaves when ctx ends (complete/stop, the connection
// closing).
func (m *subMux) join(ctx context.Context, rc *graphql.OperationContext, key muxKey, exec graphql.GraphExecutor) *muxSub {
	s := &muxSub{ch: make(chan *graphql.Response, subBuffer)}
	m.mu.Lock()
	x := m.execs[key]
	start := x == nil
	if start {
		x = &sharedExec{m: m, key: key, subs: map[*muxSub]struct{}{}}
		m.execs[key] = x
	}
	var xctx context.Context
	if start {
		// Cancelled by the last subscriber's leave, which may come before
		// run dispatches: the stream then ends at once.
		xctx, x.cancel = context.WithCancel(context.WithValue(context.WithoutCancel(ctx), muxedKey, true))
		m.h.subsExecs.Add(1)
	}
	s.x = x
	x.mu.Lock()
	x.subs[s] = struct{}{}
	m.h.subsActive.Add(1)
	x.mu.Unlock()
	m.mu.Unlock()
	if start {
		go x.run(xctx, rc, exec)
	}
	s.stop = context.AfterFunc(ctx, s.leave)
	return s
}

// next is the subscriber's graphql.ResponseHandler: the execution's next
// response, nil when it ended, dropped the subscriber or ctx ended.
func (s *muxSub) next(ctx context.Context) *graphql.Response {
	select {
	case r, ok := <-s.ch:
		if !ok {
			s.stop()
			return nil
		}
		return r
	case <-ctx.Done():
		s.leave()
		return nil
	}
}

// leave removes the subscriber; the last one out ends the execution.
func (s *muxSub) leave() {
	x, m := s.x, s.x.m
	m.mu.Lock()
	x.mu.Lock()
	_, ok := x.subs[s]
	if ok {
		delete(x.subs, s)
		m.h.subsActive.Add(-1)
	}
	last := ok && len(x.subs) == 0 && !x.ended
	if last {
		x.ended = true
		delete(m.execs, x.key)
	}
	x.mu.Unlock()
	m.mu.Unlock()
	if last {
		x.cancel()
	}
}

// run dispatches the operation (the resolver subscribes to the broker),
// resolves each event once and queues the response on every
// subscriber, dropping (and counting) one whose buffer is full; when the
// stream ends (the last subscriber left, the broker dropped it, the server
// shut down) it ends every subscriber's stream.
func (x *sharedExec) run(ctx context.Context, rc *graphql.OperationContext, exec graphql.GraphExecutor) {
	m := x.m
	defer func() {
		// As gqlgen's own subscription loop does: a panic is the recover
		// function's (logged), and here it ends the subscribers' streams.
		if v := recover(); v != nil && rc != nil && rc.RecoverFunc != nil {
			_ = rc.Recover(ctx, v)
		}
		m.mu.Lock()
		x.mu.Lock()
		if !x.ended {
			x.ended = true
			delete(m.execs, x.key)
		}
		for s := range x.subs {
			delete(x.subs, s)
			m.h.subsActive.Add(-1)
			close(s.ch)
		}
		x.mu.Unlock()
		m.mu.Unlock()
		x.cancel()
		m.h.subsExecs.Add(-1)
	}()
	responses, ctx := exec.DispatchOperation(ctx, rc)
	for {
		r := responses(ctx)
		if r == nil {
			return
		}
		// gqlgen reuses the buffer behind Data for the next event; the
		// subscribers marshal this one concurrently, read only.
		r.Data = bytes.Clone(r.Data)
		// Each subscriber's transport marshals the response again: encode
		// the extensions (extensions.loadrig) once, here.
		for k, v := range r.Extensions {
			if b, err := json.Marshal(v); err == nil {
				r.Extensions[k] = json.RawMessage(b)
			}
		}
		x.mu.Lock()
		for s := range x.subs {
			select {
			case s.ch <- r:
			default:
				delete(x.subs, s)
				m.h.subsActive.Add(-1)
				m.h.subsDropped.Add(1)
				close(s.ch)
			}
		}
		x.mu.Unlock()
	}
}

// muxedKey marks a shared execution's context: stream counts its
// subscribers in the mux, not per broker subscription.
const muxedKey ctxKey = 100

func muxed(ctx context.Context) bool {
	v, _ := ctx.Value(muxedKey).(bool)
	return v
}
