package gql

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/99designs/gqlgen/graphql"
)

// fakeExec is an executor whose subscription streams are fed by the test.
type fakeExec struct {
	graphql.GraphExecutor // unused: only DispatchOperation is called
	events                chan *graphql.Response
	mu                    sync.Mutex
	ctxs                  []context.Context
}

// dispatched is the contexts of the executions dispatched so far.
func (f *fakeExec) dispatched() []context.Context {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.ctxs)
}

func (f *fakeExec) DispatchOperation(ctx context.Context, _ *graphql.OperationContext) (graphql.ResponseHandler, context.Context) {
	f.mu.Lock()
	f.ctxs = append(f.ctxs, ctx)
	f.mu.Unlock()
	return func(ctx context.Context) *graphql.Response {
		select {
		case r := <-f.events:
			return r
		case <-ctx.Done():
			return nil
		}
	}, ctx
}

func event(i int) *graphql.Response {
	return &graphql.Response{Data: []byte(`{"i":` + strconv.Itoa(i) + `}`)}
}

// TestMuxDropsSlowSubscriber: a subscriber that does not read is dropped
// after subBuffer events (its stream ends) and counted, while the others
// get every event; the execution never waits for it. Then the last
// subscriber leaving cancels the execution, and a later subscriber starts
// a new one. In a synctest bubble, which also fails if any goroutine the
// mux started is left behind.
func TestMuxDropsSlowSubscriber(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &Handler{}
		m := newSubMux(h)
		fe := &fakeExec{events: make(chan *graphql.Response)}
		key := muxKey{query: "subscription { productUpdated { kind } }"}
		ctxA, cancelA := context.WithCancel(t.Context())
		ctxB, cancelB := context.WithCancel(t.Context())
		defer cancelB()
		a := m.join(ctxA, nil, key, fe)
		b := m.join(ctxB, nil, key, fe)
		synctest.Wait()
		if len(fe.dispatched()) != 1 || h.subsActive.Load() != 2 || h.subsExecs.Load() != 1 {
			t.Fatalf("dispatched %d, active %d, executions %d; want 1, 2, 1", len(fe.dispatched()), h.subsActive.Load(), h.subsExecs.Load())
		}
		for i := range subBuffer + 1 {
			fe.events <- event(i)
			if r := a.next(ctxA); r == nil || string(r.Data) != `{"i":`+strconv.Itoa(i)+`}` {
				t.Fatalf("a: event %d: %+v", i, r)
			}
		}
		synctest.Wait()
		if h.subsDropped.Load() != 1 || h.subsActive.Load() != 1 {
			t.Fatalf("dropped %d, active %d; want 1, 1", h.subsDropped.Load(), h.subsActive.Load())
		}
		for i := range subBuffer {
			if r := b.next(ctxB); r == nil || string(r.Data) != `{"i":`+strconv.Itoa(i)+`}` {
				t.Fatalf("b: buffered event %d: %+v", i, r)
			}
		}
		if r := b.next(ctxB); r != nil {
			t.Fatalf("b after the drop: %+v, want the end of its stream", r)
		}
		// a still gets events.
		fe.events <- event(99)
		if r := a.next(ctxA); r == nil || string(r.Data) != `{"i":99}` {
			t.Fatalf("a after b's drop: %+v", r)
		}

		// The last subscriber leaving ends the execution.
		cancelA()
		synctest.Wait()
		if fe.dispatched()[0].Err() == nil || h.subsExecs.Load() != 0 || h.subsActive.Load() != 0 || len(m.execs) != 0 {
			t.Fatalf("after the last left: execution ctx %v, executions %d, active %d, keys %d", fe.dispatched()[0].Err(), h.subsExecs.Load(), h.subsActive.Load(), len(m.execs))
		}
		if r := a.next(ctxA); r != nil {
			t.Fatalf("a after leaving: %+v", r)
		}

		// A new subscriber: a new execution.
		ctxC, cancelC := context.WithCancel(t.Context())
		c := m.join(ctxC, nil, key, fe)
		synctest.Wait()
		if d := fe.dispatched(); len(d) != 2 || d[1].Err() != nil {
			t.Fatalf("dispatched %d", len(d))
		}
		fe.events <- event(7)
		if r := c.next(ctxC); r == nil || string(r.Data) != `{"i":7}` {
			t.Fatalf("c: %+v", r)
		}
		cancelC()
		synctest.Wait()
		if h.subsExecs.Load() != 0 || h.subsActive.Load() != 0 {
			t.Fatalf("executions %d, active %d after c left", h.subsExecs.Load(), h.subsActive.Load())
		}
	})
}

// TestMuxExecutionEnds: when the stream ends by itself (the broker dropped
// it, the server shuts down) every subscriber's stream ends.
func TestMuxExecutionEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &Handler{}
		m := newSubMux(h)
		fe := &fakeExec{events: make(chan *graphql.Response)}
		key := muxKey{query: "q"}
		subs := make([]*muxSub, 3)
		for i := range subs {
			subs[i] = m.join(t.Context(), nil, key, fe)
		}
		close(fe.events) // the stream returns nil from now on
		for i, s := range subs {
			if r := s.next(t.Context()); r != nil {
				t.Fatalf("sub %d: %+v", i, r)
			}
		}
		synctest.Wait()
		if h.subsExecs.Load() != 0 || h.subsActive.Load() != 0 || len(m.execs) != 0 {
			t.Fatalf("executions %d, active %d, keys %d", h.subsExecs.Load(), h.subsActive.Load(), len(m.execs))
		}
	})
}

// panicExec's stream panics on its first event, or (dispatch) its
// dispatch panics.
type panicExec struct {
	graphql.GraphExecutor
	dispatch bool
}

func (p panicExec) DispatchOperation(ctx context.Context, _ *graphql.OperationContext) (graphql.ResponseHandler, context.Context) {
	if p.dispatch {
		panic("resolver bug")
	}
	return func(context.Context) *graphql.Response { panic("resolver bug") }, ctx
}

// TestMuxPanic: a panic in the shared execution goes to the recover
// function (as gqlgen's own loop sends it there) and ends every
// subscriber's stream; the process goes on.
func TestMuxPanic(t *testing.T) {
	for _, dispatch := range []bool{false, true} {
		t.Run(map[bool]string{false: "stream", true: "dispatch"}[dispatch], func(t *testing.T) { testMuxPanic(t, panicExec{dispatch: dispatch}) })
	}
}

func testMuxPanic(t *testing.T, exec panicExec) {
	synctest.Test(t, func(t *testing.T) {
		h := &Handler{}
		m := newSubMux(h)
		var got any
		rc := &graphql.OperationContext{RecoverFunc: func(_ context.Context, v any) error { got = v; return nil }}
		s1 := m.join(t.Context(), rc, muxKey{query: "q"}, exec)
		s2 := m.join(t.Context(), rc, muxKey{query: "q"}, exec)
		if s1.next(t.Context()) != nil || s2.next(t.Context()) != nil {
			t.Fatal("a stream went on after the panic")
		}
		synctest.Wait()
		if got != "resolver bug" || h.subsExecs.Load() != 0 || h.subsActive.Load() != 0 {
			t.Fatalf("recovered %v, executions %d, active %d", got, h.subsExecs.Load(), h.subsActive.Load())
		}
	})
}
