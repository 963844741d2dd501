package domain

import (
	"math"
	"time"
)

// Validate reports a CodeInvalid error when p changes nothing or sets a
// negative or non-finite price or a negative stock. The store and the
// write-behind cache (which acknowledges writes before the store sees them)
// share it so both reject the same input.
func (p ProductPatch) Validate() error {
	if p.Price == nil && p.Stock == nil && p.Name == nil && p.Category == nil {
		return Errorf(CodeInvalid, "nothing to update: give price and/or stock")
	}
	if p.Name != nil && (*p.Name == "" || len(*p.Name) > MaxNameLen) {
		return Errorf(CodeInvalid, "name must be 1..%d bytes, got %d", MaxNameLen, len(*p.Name))
	}
	if p.Category != nil && (*p.Category == "" || len(*p.Category) > MaxNameLen) {
		return Errorf(CodeInvalid, "category must be 1..%d bytes, got %d", MaxNameLen, len(*p.Category))
	}
	if p.Price != nil && (*p.Price < 0 || math.IsNaN(*p.Price) || math.IsInf(*p.Price, 0)) {
		return Errorf(CodeInvalid, "price must be a number >= 0, got %v", *p.Price)
	}
	if p.Stock != nil && *p.Stock < 0 {
		return Errorf(CodeInvalid, "stock must be >= 0, got %d", *p.Stock)
	}
	return nil
}

// MaxNameLen bounds a product name or category set by a patch, in bytes.
const MaxNameLen = 200

// Apply returns prod with p applied, Version bumped and UpdatedAt set to at.
func (p ProductPatch) Apply(prod Product, at time.Time) Product {
	if p.Price != nil {
		prod.Price = *p.Price
	}
	if p.Stock != nil {
		prod.Stock = *p.Stock
	}
	if p.Name != nil {
		prod.Name = *p.Name
	}
	if p.Category != nil {
		prod.Category = *p.Category
	}
	prod.Version++
	prod.UpdatedAt = at
	return prod
}

// NormalizePage validates a page request and applies the defaults: limit 0
// means DefaultPageSize, larger than MaxPageSize is capped; negative values
// are CodeInvalid.
func NormalizePage(offset, limit int) (int, int, error) {
	if offset < 0 {
		return 0, 0, Errorf(CodeInvalid, "offset must be >= 0, got %d", offset)
	}
	if limit < 0 {
		return 0, 0, Errorf(CodeInvalid, "limit must be >= 0, got %d", limit)
	}
	if limit == 0 {
		limit = DefaultPageSize
	}
	return offset, min(limit, MaxPageSize), nil
}

// UpsertResult says what a batch upsert (the write-behind flusher's
// store.UpsertProducts) did with the products it was given.
type UpsertResult struct {
	Applied int `json:"applied"` // written
	Same    int `json:"same"`    // already in that state at that version (a duplicate delivery)
	Stale   int `json:"stale"`   // skipped: the store holds a newer version
	Missing int `json:"missing"` // skipped: the product no longer exists
}
