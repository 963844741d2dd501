package domain

import "time"

// User is a customer of the shop. Seeded user N has email userN@example.com.
type User struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	Version   int64     `json:"version"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Product is an item for sale. Version grows by one on every change and is the
// basis of strong ETags.
type Product struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Category    string    `json:"category"`
	Price       float64   `json:"price"`
	Stock       int64     `json:"stock"`
	Version     int64     `json:"version"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Review is one user's rating of one product.
type Review struct {
	ID        int64     `json:"id"`
	ProductID int64     `json:"product_id"`
	AuthorID  int64     `json:"author_id"`
	Rating    int32     `json:"rating"` // 1..5
	Text      string    `json:"text"`
	Version   int64     `json:"version"`
	UpdatedAt time.Time `json:"updated_at"`
}

// OrderStatus is the life-cycle state of an order.
type OrderStatus string

// Order states.
const (
	OrderPending   OrderStatus = "pending"
	OrderPaid      OrderStatus = "paid"
	OrderShipped   OrderStatus = "shipped"
	OrderCancelled OrderStatus = "cancelled"
)

// OrderItem is one line of an order; UnitPrice is the product price when ordered.
type OrderItem struct {
	ProductID int64   `json:"product_id"`
	Quantity  int64   `json:"quantity"`
	UnitPrice float64 `json:"unit_price"`
}

// Order is a user's purchase.
type Order struct {
	ID        int64       `json:"id"`
	UserID    int64       `json:"user_id"`
	Items     []OrderItem `json:"items"`
	Total     float64     `json:"total"`
	Status    OrderStatus `json:"status"`
	Version   int64       `json:"version"`
	UpdatedAt time.Time   `json:"updated_at"`
}

// NewOrder is the input to CreateOrder; unit prices are taken from the store.
type NewOrder struct {
	UserID int64       `json:"user_id"`
	Items  []OrderItem `json:"items"`
}

// ProductPatch changes some fields of a product; nil fields are left alone.
// Name and Category are set by GraphQL's updateProduct only: they have no
// JSON name, so the REST PATCH body (price, stock) is unchanged.
type ProductPatch struct {
	Price    *float64 `json:"price,omitempty"`
	Stock    *int64   `json:"stock,omitempty"`
	Name     *string  `json:"-"`
	Category *string  `json:"-"`
}

// NewReview is the input to CreateReviews.
type NewReview struct {
	ProductID int64  `json:"product_id"`
	AuthorID  int64  `json:"author_id"`
	Rating    int32  `json:"rating"`
	Text      string `json:"text"`
}

// ProductFilter selects a page of products. Zero values mean "any" / defaults.
type ProductFilter struct {
	Category string // exact match; empty for all
	After    int64  // keyset cursor: only products with a larger id; 0 for none
	Offset   int    // rows to skip (after the cursor)
	Limit    int    // page size; 0 means DefaultPageSize, capped at MaxPageSize
}

// Page sizes for list calls.
const (
	DefaultPageSize = 20
	MaxPageSize     = 1000
)

// ProductPage is one page of products and the total matching the filter.
type ProductPage struct {
	Products []Product `json:"products"`
	Total    int       `json:"total"`
	Offset   int       `json:"offset"`
	Limit    int       `json:"limit"`
}

// Version identifies an entity's state without its body: enough to answer a
// conditional request.
type Version struct {
	Version   int64
	UpdatedAt time.Time
}
