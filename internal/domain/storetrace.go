package domain

import (
	"context"
	"sync/atomic"
	"time"
)

// StoreTrace counts the store work one request caused: calls that reached
// the store, rows they read or wrote, and time spent waiting for a database
// connection. The store's accounting decorator adds to the trace in a
// request's context, whatever the backend (memory, SQLite, Postgres), so a
// server can report per-request store cost (GraphQL's store_calls,
// store_rows, store_wait_us). Safe for concurrent use (resolvers run in
// parallel); the zero value is ready.
type StoreTrace struct {
	calls, rows, waitNS atomic.Int64
}

// Add records one store call's figures. Add on a nil trace is a no-op.
func (t *StoreTrace) Add(calls, rows int64, wait time.Duration) {
	if t == nil {
		return
	}
	t.calls.Add(calls)
	t.rows.Add(rows)
	if wait > 0 {
		t.waitNS.Add(int64(wait))
	}
}

// Calls returns the store calls recorded so far.
func (t *StoreTrace) Calls() int64 {
	if t == nil {
		return 0
	}
	return t.calls.Load()
}

// Rows returns the rows recorded so far.
func (t *StoreTrace) Rows() int64 {
	if t == nil {
		return 0
	}
	return t.rows.Load()
}

// Wait returns the summed connection wait recorded so far.
func (t *StoreTrace) Wait() time.Duration {
	if t == nil {
		return 0
	}
	return time.Duration(t.waitNS.Load())
}

type storeTraceKey struct{}

// WithStoreTrace returns ctx carrying t; the store adds every call made
// with that ctx (or one derived from it) to t.
func WithStoreTrace(ctx context.Context, t *StoreTrace) context.Context {
	return context.WithValue(ctx, storeTraceKey{}, t)
}

// StoreTraceFrom returns the trace in ctx, or nil (Add on nil is a no-op).
func StoreTraceFrom(ctx context.Context) *StoreTrace {
	t, _ := ctx.Value(storeTraceKey{}).(*StoreTrace)
	return t
}
