package cache

import (
	"context"
	"time"

	"github.com/loadrig/loadrig/internal/domain"
)

// The batch reads of domain.BatchReader, which GraphQL's DataLoader uses:
// each key is looked up in the cache, and the misses are read from the store
// in ONE call (one per key when the store has no batch read), then cached.
// Users never change, so their fills need no fill guard; review pages are
// keyed by the product's review generation (read before the store call), so
// a fill that raced a new review lands under a generation nobody reads. An
// empty page is not cached: the batch read cannot tell an unknown product
// (REST answers 404 for it) from one without reviews.

// GetUsers reads many users: cache first, then one store call for the misses.
func (l *Layer) GetUsers(ctx context.Context, ids []int64) ([]domain.User, error) {
	if l.passThrough(ctx) || len(ids) == 0 {
		return storeUsers(ctx, l.store, ids)
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = l.userKey(id)
	}
	return batchRead(l, ctx, keys, l.ttl, func(c context.Context, miss []int) ([]domain.User, error) {
		mids := make([]int64, len(miss))
		for i, at := range miss {
			mids[i] = ids[at]
		}
		return storeUsers(c, l.store, mids)
	}, func(u domain.User) bool { return u.ID != 0 })
}

// ReviewsOfProducts reads the first limit reviews of many products: cached
// pages (offset 0) first, then one store call for the misses.
func (l *Layer) ReviewsOfProducts(ctx context.Context, productIDs []int64, limit int) ([][]domain.Review, error) {
	_, limit, err := domain.NormalizePage(0, limit)
	if err != nil {
		return nil, err
	}
	if l.passThrough(ctx) || l.listTTL < 0 || len(productIDs) == 0 {
		return storeReviews(ctx, l.store, productIDs, limit)
	}
	keys := make([]string, len(productIDs))
	for i, id := range productIDs {
		keys[i] = l.reviewsKey(id, 0, limit)
	}
	return batchRead(l, ctx, keys, l.listTTL, func(c context.Context, miss []int) ([][]domain.Review, error) {
		mids := make([]int64, len(miss))
		for i, at := range miss {
			mids[i] = productIDs[at]
		}
		return storeReviews(c, l.store, mids, limit)
	}, func(rs []domain.Review) bool { return len(rs) > 0 })
}

// batchRead looks every key up, loads the misses with load (given their
// indexes into keys) in one call, caches the loaded values keep accepts, and
// returns one value per key. Hits and misses count per key.
func batchRead[T any](l *Layer, ctx context.Context, keys []string, ttl time.Duration,
	load func(context.Context, []int) ([]T, error), keep func(T) bool) ([]T, error) {
	out := make([]T, len(keys))
	var miss []int
	for i, k := range keys {
		if !getObj(l, ctx, k, &out[i]) {
			miss = append(miss, i)
		}
	}
	l.hits.Add(int64(len(keys) - len(miss)))
	if len(miss) == 0 {
		l.saved.Add(1)
		domain.CacheTraceFrom(ctx).Mark(domain.CacheHit)
		return out, nil
	}
	l.misses.Add(int64(len(miss)))
	domain.CacheTraceFrom(ctx).Mark(domain.CacheMiss)
	l.loads.Add(1)
	vs, err := load(ctx, miss)
	if err != nil {
		return nil, err
	}
	for j, at := range miss {
		if j < len(vs) {
			out[at] = vs[j]
			if keep(vs[j]) {
				setJSON(l, ctx, keys[at], vs[j], ttl)
			}
		}
	}
	return out, nil
}

// storeUsers reads users with the store's batch read, or one call each.
func storeUsers(ctx context.Context, st domain.Catalog, ids []int64) ([]domain.User, error) {
	if br, ok := st.(domain.BatchReader); ok {
		return br.GetUsers(ctx, ids)
	}
	out := make([]domain.User, len(ids))
	for i, id := range ids {
		u, err := st.GetUser(ctx, id)
		if domain.ErrorCode(err) == domain.CodeNotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[i] = u
	}
	return out, nil
}

// storeReviews reads review pages with the store's batch read, or one call
// each.
func storeReviews(ctx context.Context, st domain.Catalog, ids []int64, limit int) ([][]domain.Review, error) {
	if br, ok := st.(domain.BatchReader); ok {
		return br.ReviewsOfProducts(ctx, ids, limit)
	}
	out := make([][]domain.Review, len(ids))
	for i, id := range ids {
		rs, err := st.ProductReviews(ctx, id, 0, limit)
		if domain.ErrorCode(err) == domain.CodeNotFound {
			rs, err = []domain.Review{}, nil
		}
		if err != nil {
			return nil, err
		}
		out[i] = rs
	}
	return out, nil
}

var _ domain.BatchReader = (*Layer)(nil)
