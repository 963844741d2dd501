package cache

import (
	"context"

	"github.com/loadrig/loadrig/internal/domain"
)

// UpdateProduct writes a price/stock change. Aside and write-through write
// the store first, then delete the cached product (Invalidation "delete")
// or store the new one ("update"); write-behind acknowledges after Redis and
// the stream have it (see writebehind.go). Every strategy then invalidates
// product lists and cached responses tagged with the product.
func (l *Layer) UpdateProduct(ctx context.Context, id int64, patch domain.ProductPatch) (domain.Product, error) {
	if l.wb != nil {
		return l.wb.update(ctx, id, patch)
	}
	p, err := l.store.UpdateProduct(ctx, id, patch)
	if err != nil {
		return p, err
	}
	l.productChanged(ctx, p, true)
	return p, nil
}

// productChanged updates or invalidates everything derived from product p
// after the store has it. withEntity says p is the full new state (else
// only p.ID is known and the cached entity is deleted).
func (l *Layer) productChanged(ctx context.Context, p domain.Product, withEntity bool) {
	if l.b != nil {
		key := l.productKey(p.ID)
		l.sf.Forget(key)           // a load in flight may carry the old state
		l.fill.write(key, func() { // ...and must not cache it after this
			if l.mode == ModeObject {
				if withEntity && l.inval == InvalidateUpdate {
					setJSON(l, ctx, key, p, l.ttl)
				} else {
					l.del(ctx, key)
				}
			}
		})
		l.listGen.Add(1)
		l.resp.Invalidate(ProductTag(p.ID), ListTag)
	}
	if l.feed != nil {
		if withEntity {
			l.feed.PublishProduct(p)
		} else {
			l.feed.Publish(domain.Event{Topic: domain.TopicProducts, Kind: domain.KindProductDeleted, Key: p.ID, Product: &p})
		}
	}
}

// DeleteProduct deletes in the store, then drops the cached product, its
// review pages, list pages and tagged responses.
func (l *Layer) DeleteProduct(ctx context.Context, id int64) error {
	if err := l.store.DeleteProduct(ctx, id); err != nil {
		return err
	}
	if l.b != nil {
		l.reviewGen(id).Add(1)
	}
	l.productChanged(ctx, domain.Product{ID: id}, false)
	return nil
}

// CreateOrder places the order in the store (in every strategy: orders are
// the store's to validate, since stock must not go negative), then
// invalidates the user's cached orders and the ordered products, whose
// stock and version changed. Under write-behind, a product update still
// pending in the stream when an order takes its stock is flushed afterwards
// with last-writer-wins (see store.UpsertProducts). Under write-behind the
// stock is reserved in Redis instead (see writeBehind.createOrder), where
// the acknowledged stock lives.
func (l *Layer) CreateOrder(ctx context.Context, o domain.NewOrder) (domain.Order, error) {
	create := l.store.CreateOrder
	if l.wb != nil {
		create = l.wb.createOrder
	}
	out, err := create(ctx, o)
	if err != nil {
		return out, err
	}
	if l.b != nil {
		keys := []string{l.userOrdersKey(out.UserID)}
		seen := map[int64]bool{}
		for _, it := range out.Items {
			if !seen[it.ProductID] {
				seen[it.ProductID] = true
				keys = append(keys, l.productKey(it.ProductID))
				l.sf.Forget(l.productKey(it.ProductID))
			}
		}
		l.sf.Forget(keys[0])
		for _, k := range keys {
			l.fill.write(k, nil) // loads in flight must not cache the old state
		}
		switch {
		case l.wb != nil:
			l.del(ctx, keys[0]) // the products in Redis are the new, acknowledged states
		case l.mode == ModeObject:
			l.del(ctx, keys...)
		}
		l.listGen.Add(1)
		tags := []string{ListTag, UserTag(out.UserID)}
		for id := range seen {
			tags = append(tags, ProductTag(id))
		}
		l.resp.Invalidate(tags...)
	}
	if l.feed != nil {
		o := out
		l.feed.Publish(domain.Event{Topic: domain.TopicOrders, Kind: domain.KindOrderCreated, Key: o.UserID, Order: &o})
	}
	return out, nil
}

// CreateReviews adds reviews in the store and invalidates the review pages
// (and tagged responses) of the products reviewed.
func (l *Layer) CreateReviews(ctx context.Context, rs []domain.NewReview) ([]domain.Review, error) {
	out, err := l.store.CreateReviews(ctx, rs)
	if err != nil {
		return out, err
	}
	if l.b != nil {
		seen := map[int64]bool{}
		for _, r := range out {
			if !seen[r.ProductID] {
				seen[r.ProductID] = true
				l.reviewGen(r.ProductID).Add(1)
				l.resp.Invalidate(ProductTag(r.ProductID))
			}
		}
	}
	if l.feed != nil {
		for i := range out {
			r := out[i]
			l.feed.Publish(domain.Event{Topic: domain.TopicReviews, Kind: domain.KindReviewAdded, Key: r.ProductID, Review: &r})
		}
	}
	return out, nil
}
