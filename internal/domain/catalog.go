package domain

import "context"

// Catalog is the whole data surface the reference servers use. The slow store
// implements it; every cache strategy is a Catalog decorating another Catalog.
// All methods are safe for concurrent use and honour ctx cancellation.
type Catalog interface {
	GetProduct(ctx context.Context, id int64) (Product, error)
	// GetProducts reads many products in one batch (one store call, far
	// cheaper than len(ids) single reads). The result has one entry per id in
	// order; a missing id yields a Product with ID 0 rather than an error.
	GetProducts(ctx context.Context, ids []int64) ([]Product, error)
	ListProducts(ctx context.Context, f ProductFilter) (ProductPage, error)
	ProductReviews(ctx context.Context, productID int64, offset, limit int) ([]Review, error)
	// ProductVersion returns a product's version without reading its body. A
	// cache answers it from memory when it can (so a conditional GET costs no
	// store call); ok is false when the version is not known without a store
	// read, in which case callers fall back to GetProduct.
	ProductVersion(ctx context.Context, id int64) (v Version, ok bool)
	GetUser(ctx context.Context, id int64) (User, error)
	// UserByEmail is used by login; it is never cached.
	UserByEmail(ctx context.Context, email string) (User, error)
	UserOrders(ctx context.Context, userID int64) ([]Order, error)
	GetOrder(ctx context.Context, id int64) (Order, error)
	CreateOrder(ctx context.Context, o NewOrder) (Order, error)
	UpdateProduct(ctx context.Context, id int64, p ProductPatch) (Product, error)
	DeleteProduct(ctx context.Context, id int64) error
	CreateReviews(ctx context.Context, rs []NewReview) ([]Review, error)
}

// SeedPassword is the password of every seeded user.
const SeedPassword = "loadrig"
