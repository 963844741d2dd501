package domain

import (
	"context"
	"math"
)

// Role is what a user may do.
type Role string

// Roles. The seeded user 1 (user1@example.com) is the one admin; every
// other user is a customer.
const (
	RoleAdmin    Role = "admin"
	RoleCustomer Role = "customer"
)

// AdminUserID is the admin of the seeded dataset.
const AdminUserID int64 = 1

// RoleOf returns the role of a user.
func RoleOf(userID int64) Role {
	if userID == AdminUserID {
		return RoleAdmin
	}
	return RoleCustomer
}

// Principal is the authenticated user a request acts for.
type Principal struct {
	UserID int64
	Role   Role
}

// PrincipalOf returns the principal of an authenticated user id.
func PrincipalOf(userID int64) Principal { return Principal{UserID: userID, Role: RoleOf(userID)} }

// IsAdmin reports whether p may do anything.
func (p Principal) IsAdmin() bool { return p.Role == RoleAdmin }

// CanSee reports whether p may read what belongs to owner: the owner
// itself or an admin. Transports answer "not found" otherwise, so ids
// cannot be probed.
func (p Principal) CanSee(owner int64) bool { return p.IsAdmin() || p.UserID == owner }

// RequireAdmin returns a CodeForbidden error unless p is an admin.
func (p Principal) RequireAdmin(what string) error {
	if p.IsAdmin() {
		return nil
	}
	return Errorf(CodeForbidden, "%s needs an admin; user %d is a %s", what, p.UserID, p.Role)
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal in ctx; ok is false when the request
// is anonymous.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Input bounds every transport applies to writes.
const (
	MaxOrderItems   = 100       // items per order
	MaxItemQuantity = 1000      // units per item
	MaxPrice        = 1_000_000 // a product's price
	MaxReviewText   = 4 << 10   // bytes of review text
)

// ValidateOrder checks an order's items: 1..MaxOrderItems items, each a
// positive product id and a quantity in 1..MaxItemQuantity.
func ValidateOrder(items []OrderItem) error {
	switch {
	case len(items) == 0:
		return Errorf(CodeInvalid, `items must list at least one {"product_id": N, "quantity": N}`)
	case len(items) > MaxOrderItems:
		return Errorf(CodeInvalid, "an order holds at most %d items, got %d", MaxOrderItems, len(items))
	}
	for i, it := range items {
		if it.ProductID <= 0 {
			return Errorf(CodeInvalid, "items[%d]: product_id must be a positive integer", i)
		}
		if it.Quantity < 1 || it.Quantity > MaxItemQuantity {
			return Errorf(CodeInvalid, "items[%d]: quantity must be in 1..%d, got %d", i, MaxItemQuantity, it.Quantity)
		}
	}
	return nil
}

// OrderTotal sums quantity × unit price, refusing a total that is not a
// finite number (it cannot overflow for valid items and prices, but a
// price written before the bounds existed could).
func OrderTotal(items []OrderItem) (float64, error) {
	var t float64
	for _, it := range items {
		t += float64(it.Quantity) * it.UnitPrice
	}
	if math.IsInf(t, 0) || math.IsNaN(t) || t < 0 {
		return 0, Errorf(CodeInvalid, "order total is out of range")
	}
	return t, nil
}

// ValidatePatch checks a product patch: a price finite and in
// 0..MaxPrice, a stock not negative.
func ValidatePatch(p ProductPatch) error {
	if p.Price != nil && (math.IsNaN(*p.Price) || *p.Price < 0 || *p.Price > MaxPrice) {
		return Errorf(CodeInvalid, "price must be in 0..%d", MaxPrice)
	}
	if p.Stock != nil && *p.Stock < 0 {
		return Errorf(CodeInvalid, "stock must not be negative, got %d", *p.Stock)
	}
	return nil
}

// ValidateReviewText checks a review's text length.
func ValidateReviewText(text string) error {
	if len(text) > MaxReviewText {
		return Errorf(CodeInvalid, "review text is %d bytes; at most %d", len(text), MaxReviewText)
	}
	return nil
}
