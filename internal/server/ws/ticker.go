package ws

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/loadrig/loadrig/internal/domain"
)

// tickProducts is how many synthetic instruments the ticker walks.
const tickProducts = 100

type tickData struct {
	ProductID int64   `json:"product_id"`
	Price     float64 `json:"price"`
	Source    string  `json:"source"` // "tick" (synthetic) or "write" (a product changed)
}

// runTicker publishes ticks on TopicTicker: TickRate synthetic price moves
// per second, plus every product price change the Feed carries from writes
// (REST PATCH, gRPC, GraphQL under serve all). Orders written on this node
// become notifications to their user. It returns when ctx ends.
func (s *Server) runTicker(ctx context.Context) {
	products := s.d.Feed.Subscribe(domain.TopicProducts, 256)
	orders := s.d.Feed.Subscribe(domain.TopicOrders, 256)
	defer func() { products.Close(); orders.Close() }()
	var tick <-chan time.Time
	if s.d.TickRate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / s.d.TickRate))
		defer t.Stop()
		tick = t.C
	}
	r := rand.New(rand.NewPCG(s.d.Seed, 0x7469636b))
	prices := make([]float64, tickProducts)
	for i := range prices {
		prices[i] = 10 + float64(r.IntN(9000))/100
	}
	for {
		var d tickData
		select {
		case <-ctx.Done():
			return
		case <-tick:
			if !s.ticks() { // another node holds the ticker lease
				continue
			}
			i := r.IntN(tickProducts)
			prices[i] = max(0.01, prices[i]*(1+(r.Float64()-0.5)/50))
			d = tickData{ProductID: int64(i + 1), Price: float64(int64(prices[i]*100)) / 100, Source: "tick"}
		case <-products.Done():
			products = s.d.Feed.Subscribe(domain.TopicProducts, 256)
			continue
		case <-orders.Done():
			orders = s.d.Feed.Subscribe(domain.TopicOrders, 256)
			continue
		case e := <-orders.C():
			if e.Order != nil && e.Origin == s.d.Node && e.Order.UserID > 0 {
				s.notify(ctx, e.Order.UserID, 0, fmt.Sprintf("order %d %s (%s)", e.Order.ID, strings.TrimPrefix(e.Kind, "order_"), e.Order.Status))
			}
			continue
		case e := <-products.C():
			// Only this node's writes: another node's change reached us through
			// the relay and its own ticker numbers it.
			if e.Product == nil || e.Kind == domain.KindProductDeleted || e.Origin != s.d.Node {
				continue
			}
			d = tickData{ProductID: e.Product.ID, Price: e.Product.Price, Source: "write"}
		}
		if d.Source == "tick" {
			s.stats.ticks.Add(1)
		}
		env := Envelope{Type: TypeTick, Data: mustJSON(d)}
		s.broadcast(ctx, TopicTicker, TopicTicker, 0, TypeTick, &env)
	}
}
