package grpcsrv

import (
	"context"
	"log/slog"
	"math"
	"math/rand/v2"
	"time"

	"github.com/loadrig/loadrig/internal/domain"
)

// PriceTicker changes the price of a random product every interval through
// cat (so caches see the write like any other) until ctx ends, and
// publishes each change to feed. It gives WatchPrices something to push in
// a standalone demo. Pass a nil feed when cat publishes acknowledged
// updates itself (the server stack's cache layer does), so no change is
// delivered twice. Prices move by up to ±5 % and never below 0.01; products and
// moves come from a PCG generator seeded with seed, so a run is repeatable.
// A failed read or update is logged at debug level and skipped.
func PriceTicker(ctx context.Context, cat domain.Catalog, feed *domain.Feed, interval time.Duration, seed uint64, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	page, err := cat.ListProducts(ctx, domain.ProductFilter{Limit: 1})
	if err != nil {
		return err
	}
	if page.Total == 0 {
		return domain.Errorf(domain.CodeInvalid, "price ticker: the catalog has no products")
	}
	rnd := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		// Generated ids are dense from 1; a deleted id is simply skipped.
		id := 1 + rnd.Int64N(int64(page.Total))
		p, err := cat.GetProduct(ctx, id)
		if err != nil {
			log.Debug("price ticker: read failed", "id", id, "err", err)
			continue
		}
		price := math.Max(0.01, domain.RoundCents(p.Price*(0.95+0.1*rnd.Float64())))
		np, err := cat.UpdateProduct(ctx, id, domain.ProductPatch{Price: &price})
		if err != nil {
			log.Debug("price ticker: update failed", "id", id, "err", err)
			continue
		}
		if feed != nil {
			feed.PublishProduct(np)
		}
	}
}
