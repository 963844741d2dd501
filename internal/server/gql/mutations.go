package gql

import (
	"context"

	"github.com/loadrig/loadrig/internal/domain"
)

// ---- mutations: through the Catalog (the stack's cache layer, which
// publishes every write to the broker; Deps.Publish covers a Catalog that
// does not) ----

type mutationResolver struct{ h *Handler }

func (m mutationResolver) Login(ctx context.Context, email string, password string) (*AuthPayload, error) {
	if email == "" || password == "" {
		return nil, domain.Errorf(domain.CodeInvalid, `give email and password, e.g. login(email: "user1@example.com", password: "loadrig")`)
	}
	if m.h.d.Login == nil {
		return nil, domain.Errorf(domain.CodeUnavailable, "login is not available: the data layer cannot check passwords")
	}
	u, err := m.h.d.Login.Authenticate(ctx, email, password)
	if err != nil {
		return nil, err
	}
	tok, err := m.h.d.Auth.Issue(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	return &AuthPayload{Token: tok.Value, TokenType: "Bearer", ExpiresAt: tok.ExpiresAt, UserID: u.ID}, nil
}

// CreateOrder places an order for the logged-in user.
func (m mutationResolver) CreateOrder(ctx context.Context, items []OrderItemInput) (*domain.Order, error) {
	if len(items) == 0 {
		return nil, domain.Errorf(domain.CodeInvalid, "items must list at least one {productId, quantity}")
	}
	no := domain.NewOrder{UserID: userFrom(ctx), Items: make([]domain.OrderItem, len(items))}
	for i, it := range items {
		no.Items[i] = domain.OrderItem{ProductID: it.ProductID, Quantity: int64(it.Quantity)}
	}
	if err := domain.ValidateOrder(no.Items); err != nil {
		return nil, err
	}
	o, err := m.h.d.Catalog.CreateOrder(ctx, no)
	if err != nil {
		return nil, err
	}
	m.h.publish(domain.Event{Topic: domain.TopicOrders, Kind: domain.KindOrderCreated, Key: o.UserID, Order: &o})
	return &o, nil
}

// UpdateProduct needs the admin, as REST's PATCH does.
func (m mutationResolver) UpdateProduct(ctx context.Context, id int64, in domain.ProductPatch) (*domain.Product, error) {
	if err := m.admin(ctx, "changing a product"); err != nil {
		return nil, err
	}
	if err := domain.ValidatePatch(in); err != nil {
		return nil, err
	}
	p, err := m.h.d.Catalog.UpdateProduct(ctx, id, in)
	if err != nil {
		return nil, err
	}
	m.h.publish(domain.Event{Topic: domain.TopicProducts, Kind: domain.KindProductUpdated, Key: p.ID, Product: &p})
	return &p, nil
}

// AddReview adds a review by the logged-in user.
func (m mutationResolver) AddReview(ctx context.Context, productID int64, rating int, text string) (*domain.Review, error) {
	if rating < 1 || rating > 5 {
		return nil, domain.Errorf(domain.CodeInvalid, "rating must be 1..5, got %d", rating)
	}
	if err := domain.ValidateReviewText(text); err != nil {
		return nil, err
	}
	rs, err := m.h.d.Catalog.CreateReviews(ctx, []domain.NewReview{{
		ProductID: productID, AuthorID: userFrom(ctx), Rating: int32(rating), Text: text,
	}})
	if err != nil {
		return nil, err
	}
	if len(rs) != 1 {
		return nil, domain.Errorf(domain.CodeInternal, "review not created")
	}
	m.h.publish(domain.Event{Topic: domain.TopicReviews, Kind: domain.KindReviewAdded, Key: productID, Review: &rs[0]})
	return &rs[0], nil
}

// DeleteProduct needs the admin, as REST's DELETE does.
func (m mutationResolver) DeleteProduct(ctx context.Context, id int64) (bool, error) {
	if err := m.admin(ctx, "deleting a product"); err != nil {
		return false, err
	}
	if err := m.h.d.Catalog.DeleteProduct(ctx, id); err != nil {
		return false, err
	}
	m.h.publish(domain.Event{Topic: domain.TopicProducts, Kind: domain.KindProductDeleted, Key: id, Product: &domain.Product{ID: id}})
	return true, nil
}

// admin refuses a non-admin (FORBIDDEN), through the shared rule.
func (m mutationResolver) admin(ctx context.Context, what string) error {
	p, err := m.h.principal(ctx)
	if err != nil {
		return err
	}
	return p.RequireAdmin(what)
}

// publish emits a write's event when the Catalog does not (Deps.Publish).
func (h *Handler) publish(e domain.Event) {
	if h.o.Publish && h.d.Feed != nil {
		h.d.Feed.Publish(e)
	}
}

// ---- subscriptions: one broker subscription each ----

type subscriptionResolver struct{ h *Handler }

// subBuffer is a subscription's event buffer; a subscriber that falls
// further behind is dropped by the broker (and counted).
const subBuffer = 64

func (s subscriptionResolver) ProductUpdated(ctx context.Context, id *int64) (<-chan *ProductEvent, error) {
	var keys []int64
	if id != nil {
		keys = append(keys, *id)
	}
	return stream(ctx, s.h, domain.TopicProducts, keys, func(e domain.Event) *ProductEvent {
		if e.Product == nil {
			return nil
		}
		return &ProductEvent{Kind: e.Kind, Product: e.Product, EmittedAt: e.At.UTC()}
	})
}

func (s subscriptionResolver) ReviewAdded(ctx context.Context, productID int64) (<-chan *ReviewEvent, error) {
	return stream(ctx, s.h, domain.TopicReviews, []int64{productID}, func(e domain.Event) *ReviewEvent {
		if e.Review == nil {
			return nil
		}
		return &ReviewEvent{Review: e.Review, EmittedAt: e.At.UTC()}
	})
}

// OrderUpdated streams the logged-in user's order events.
func (s subscriptionResolver) OrderUpdated(ctx context.Context) (<-chan *OrderEvent, error) {
	return stream(ctx, s.h, domain.TopicOrders, []int64{userFrom(ctx)}, func(e domain.Event) *OrderEvent {
		if e.Order == nil {
			return nil
		}
		return &OrderEvent{Kind: e.Kind, Order: e.Order, EmittedAt: e.At.UTC()}
	})
}

// stream subscribes to topic (keys: those keys only) and forwards each
// event conv accepts until the client stops, the broker drops the
// subscriber as slow, or the server shuts down.
func stream[T any](ctx context.Context, h *Handler, topic string, keys []int64, conv func(domain.Event) *T) (<-chan *T, error) {
	if h.d.Feed == nil {
		return nil, domain.Errorf(domain.CodeUnavailable, "subscriptions are not available: the server has no event broker")
	}
	sub := h.d.Feed.Subscribe(topic, subBuffer, keys...)
	out := make(chan *T)
	// A shared execution's subscribers are counted by the mux, not here.
	own := int64(1)
	if muxed(ctx) {
		own = 0
	}
	h.subsActive.Add(own)
	h.subsExecs.Add(own)
	go func() {
		defer func() {
			sub.Close()
			h.subsActive.Add(-own)
			h.subsExecs.Add(-own)
			close(out)
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case <-sub.Done():
				if sub.Err() != nil {
					h.subsDropped.Add(1)
				}
				return
			case e := <-sub.C():
				v := conv(e)
				if v == nil {
					continue
				}
				select {
				case out <- v:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}
