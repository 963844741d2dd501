package domain

import (
	"context"
	"sync/atomic"
	"time"
)

// BatchReader reads relations of many parents in one store call each: what a
// GraphQL DataLoader needs to turn N+1 relation reads into one call per
// level. The store implements it, and so does the cache layer (per-key cache
// reads, then one store call for the misses). Callers type-assert a Catalog
// to it and fall back to one call per key when it is missing.
type BatchReader interface {
	// GetUsers reads many users in one call. The result has one entry per id
	// in order; a missing id yields a User with ID 0 rather than an error.
	GetUsers(ctx context.Context, ids []int64) ([]User, error)
	// ReviewsOfProducts reads the first limit reviews (by id) of each product
	// in one call. The result has one slice per product id in order; an
	// unknown product yields an empty slice. limit is normalized like a page
	// size (NormalizePage).
	ReviewsOfProducts(ctx context.Context, productIDs []int64, limit int) ([][]Review, error)
}

// StoreTally counts the store calls made on behalf of one request, so a
// server can report them per request (GraphQL's extensions.loadrig). The
// store adds to the tally in its context on every call that reaches a
// connection, including calls a cache makes for the request (a shared
// cache fill counts for the request that ran it). Safe for concurrent use.
type StoreTally struct {
	calls, rows, waitNS atomic.Int64
}

// Add records one store call that touched rows rows after waiting wait for
// a connection. A nil tally ignores it.
func (t *StoreTally) Add(rows int, wait time.Duration) {
	if t == nil {
		return
	}
	t.calls.Add(1)
	t.rows.Add(int64(rows))
	if wait > 0 {
		t.waitNS.Add(int64(wait))
	}
}

// Calls returns the store calls recorded.
func (t *StoreTally) Calls() int64 { return t.calls.Load() }

// Rows returns the rows those calls touched.
func (t *StoreTally) Rows() int64 { return t.rows.Load() }

// Wait returns the summed time those calls queued for a connection.
func (t *StoreTally) Wait() time.Duration { return time.Duration(t.waitNS.Load()) }

type tallyKey struct{}

// WithStoreTally returns ctx carrying t.
func WithStoreTally(ctx context.Context, t *StoreTally) context.Context {
	return context.WithValue(ctx, tallyKey{}, t)
}

// StoreTallyFrom returns the tally in ctx, or nil (Add on nil is a no-op).
func StoreTallyFrom(ctx context.Context) *StoreTally {
	t, _ := ctx.Value(tallyKey{}).(*StoreTally)
	return t
}
