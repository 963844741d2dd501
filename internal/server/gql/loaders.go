package gql

import (
	"context"
	"time"

	"github.com/vikstrous/dataloadgen"

	"github.com/loadrig/loadrig/internal/domain"
)

// loaders are one operation's DataLoaders over the catalog's batch reads:
// every relation read of one level of a query that starts within the wait
// window becomes one store call (domain.BatchReader), not one per parent.
type loaders struct {
	users    *dataloadgen.Loader[int64, domain.User]
	products *dataloadgen.Loader[int64, domain.Product]
	reviews  *dataloadgen.Loader[reviewsKey, []domain.Review]
}

// reviewsKey asks for the first n reviews of a product.
type reviewsKey struct {
	product int64
	first   int
}

func newLoaders(cat domain.Catalog, wait time.Duration) *loaders {
	br, _ := cat.(domain.BatchReader)
	opt := dataloadgen.WithWait(wait)
	return &loaders{
		users: dataloadgen.NewLoader(func(ctx context.Context, ids []int64) ([]domain.User, []error) {
			var us []domain.User
			var err error
			if br != nil {
				us, err = br.GetUsers(ctx, ids)
			} else {
				us, err = oneByOne(ctx, ids, cat.GetUser)
			}
			return found(ids, us, err, func(u domain.User) bool { return u.ID != 0 }, "user")
		}, opt),
		products: dataloadgen.NewLoader(func(ctx context.Context, ids []int64) ([]domain.Product, []error) {
			ps, err := cat.GetProducts(ctx, ids)
			return found(ids, ps, err, func(p domain.Product) bool { return p.ID != 0 }, "product")
		}, opt),
		reviews: dataloadgen.NewLoader(func(ctx context.Context, keys []reviewsKey) ([][]domain.Review, []error) {
			return loadReviews(ctx, cat, br, keys)
		}, opt),
	}
}

// loadReviews answers a batch of review pages: one batch read per distinct
// page size (one in practice: sibling fields share their arguments).
func loadReviews(ctx context.Context, cat domain.Catalog, br domain.BatchReader, keys []reviewsKey) ([][]domain.Review, []error) {
	out := make([][]domain.Review, len(keys))
	errs := make([]error, len(keys))
	byFirst := map[int][]int{}
	for i, k := range keys {
		byFirst[k.first] = append(byFirst[k.first], i)
	}
	for first, at := range byFirst {
		ids := make([]int64, len(at))
		for j, i := range at {
			ids[j] = keys[i].product
		}
		var pages [][]domain.Review
		var err error
		if br != nil {
			pages, err = br.ReviewsOfProducts(ctx, ids, first)
		} else {
			pages, err = oneByOne(ctx, ids, func(ctx context.Context, id int64) ([]domain.Review, error) {
				return cat.ProductReviews(ctx, id, 0, first)
			})
		}
		for j, i := range at {
			switch {
			case err != nil:
				errs[i] = err
			case j < len(pages):
				out[i] = pages[j]
			}
		}
	}
	return out, errs
}

// oneByOne is the fallback of a catalog without batch reads: one call per
// id, missing ids left zero.
func oneByOne[T any](ctx context.Context, ids []int64, get func(context.Context, int64) (T, error)) ([]T, error) {
	out := make([]T, len(ids))
	for i, id := range ids {
		v, err := get(ctx, id)
		if domain.ErrorCode(err) == domain.CodeNotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// found spreads a batch result over per-key errors: the batch error for
// every key, or NOT_FOUND for keys the batch did not find.
func found[T any](ids []int64, vs []T, err error, ok func(T) bool, kind string) ([]T, []error) {
	errs := make([]error, len(ids))
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return make([]T, len(ids)), errs
	}
	for i, id := range ids {
		if i >= len(vs) || !ok(vs[i]) {
			errs[i] = domain.Errorf(domain.CodeNotFound, "%s %d not found", kind, id)
		}
	}
	if len(vs) < len(ids) {
		vs = append(vs, make([]T, len(ids)-len(vs))...)
	}
	return vs, errs
}
