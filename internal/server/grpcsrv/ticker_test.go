package grpcsrv

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/loadrig/loadrig/internal/domain"
)

func TestPriceTicker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cat := testCatalog(t)
		feed := domain.NewFeed()
		sub := feed.Subscribe(domain.TopicProducts, 16)
		defer sub.Close()
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- PriceTicker(ctx, cat, feed, time.Second, 1, nil) }()
		time.Sleep(3500 * time.Millisecond)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n := len(sub.C()); n != 3 {
			t.Fatalf("%d changes in 3.5 s at 1/s, want 3", n)
		}
		for range 3 {
			c := <-sub.C()
			p, err := cat.GetProduct(t.Context(), c.Product.ID)
			if err != nil {
				t.Fatal(err)
			}
			if p.Version < 2 || c.Product.Version < 2 || c.Product.Price <= 0 {
				t.Errorf("change %+v not applied through the catalog (stored %+v)", c.Product, p)
			}
		}
	})
}
