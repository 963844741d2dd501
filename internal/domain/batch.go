package domain

import "context"

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
