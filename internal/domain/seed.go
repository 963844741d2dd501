package domain

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// DatasetSize names a preset dataset size for --dataset.
type DatasetSize string

// Preset dataset sizes. Their counts are in Counts.
const (
	SizeSmall  DatasetSize = "small"  // 500 users, 1,000 products, ~5,000 reviews, 1,000 orders
	SizeMedium DatasetSize = "medium" // 5,000 users, 10,000 products, ~50,000 reviews, 10,000 orders
	SizeLarge  DatasetSize = "large"  // 50,000 users, 100,000 products, ~500,000 reviews, 100,000 orders
)

// Counts sizes a generated dataset. Reviews are generated per product: each
// product gets between 0 and 2*ReviewsPerProduct reviews (mean
// ReviewsPerProduct), so popular and unreviewed products both exist.
type Counts struct {
	Users             int `json:"users"`
	Products          int `json:"products"`
	ReviewsPerProduct int `json:"reviews_per_product"`
	Orders            int `json:"orders"`
}

// Counts returns the counts of a preset size, or a CodeInvalid error naming
// the accepted values.
func (s DatasetSize) Counts() (Counts, error) {
	switch s {
	case SizeSmall, "":
		return Counts{Users: 500, Products: 1_000, ReviewsPerProduct: 5, Orders: 1_000}, nil
	case SizeMedium:
		return Counts{Users: 5_000, Products: 10_000, ReviewsPerProduct: 5, Orders: 10_000}, nil
	case SizeLarge:
		return Counts{Users: 50_000, Products: 100_000, ReviewsPerProduct: 5, Orders: 100_000}, nil
	}
	return Counts{}, Errorf(CodeInvalid, "unknown dataset size %q: use small, medium or large", string(s))
}

// Validate reports a CodeInvalid error when a count is negative or the
// dataset could not hold orders (orders need at least one user and product).
func (c Counts) Validate() error {
	switch {
	case c.Users < 0 || c.Products < 0 || c.ReviewsPerProduct < 0 || c.Orders < 0:
		return Errorf(CodeInvalid, "dataset counts must not be negative (got users=%d products=%d reviews_per_product=%d orders=%d)",
			c.Users, c.Products, c.ReviewsPerProduct, c.Orders)
	case c.Orders > 0 && (c.Users == 0 || c.Products == 0):
		return Errorf(CodeInvalid, "dataset with orders needs at least one user and one product")
	case c.ReviewsPerProduct > 0 && c.Products > 0 && c.Users == 0:
		return Errorf(CodeInvalid, "dataset with reviews needs at least one user (the authors)")
	}
	return nil
}

// Credential is a seeded user's salted password hash. The hash is
// hex(SHA-256(salt + ":" + password)) with a per-user random salt: enough to
// keep plain passwords out of memory dumps and to make login do real work,
// while staying cheap and deterministic. It is deliberately not bcrypt/argon2:
// a slow KDF would dominate a login benchmark and hide the JWT-vs-session
// tradeoff the servers exist to measure. Never reuse this for real secrets.
type Credential struct {
	UserID int64  `json:"user_id"`
	Salt   string `json:"salt"`
	Hash   string `json:"hash"`
}

// HashPassword returns the hex SHA-256 of salt + ":" + password.
func HashPassword(salt, password string) string {
	sum := sha256.Sum256([]byte(salt + ":" + password))
	return hex.EncodeToString(sum[:])
}

// Check reports whether password matches c, in constant time.
func (c Credential) Check(password string) bool {
	got := HashPassword(c.Salt, password)
	return subtle.ConstantTimeCompare([]byte(got), []byte(c.Hash)) == 1
}

// Authenticator checks a login. The slow store implements it and cache layers
// pass it through (credentials are never cached); servers type-assert their
// Catalog to it.
type Authenticator interface {
	// Authenticate returns the user with that email when password matches,
	// and a CodeUnauthorized error otherwise (unknown email included, so the
	// response does not reveal which emails exist).
	Authenticate(ctx context.Context, email, password string) (User, error)
}

// Dataset is a generated, deterministic set of entities. IDs start at 1 and
// are dense: Users[i].ID == i+1, and likewise for products, reviews, orders.
type Dataset struct {
	Seed        int64        `json:"seed"`
	Counts      Counts       `json:"counts"`
	Users       []User       `json:"users"`
	Credentials []Credential `json:"-"` // parallel to Users
	Products    []Product    `json:"products"`
	Reviews     []Review     `json:"reviews"`
	Orders      []Order      `json:"orders"`
}

// Categories are the product categories of generated datasets.
var Categories = []string{"books", "electronics", "home", "garden", "toys", "sports", "grocery", "fashion"}

// SeedEpoch is the UpdatedAt base of generated entities, fixed so that the
// same seed always yields byte-identical data (and identical Last-Modified).
var SeedEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

var (
	adjectives = []string{"Sturdy", "Compact", "Deluxe", "Classic", "Smart", "Rustic", "Vivid", "Quiet",
		"Rapid", "Gentle", "Bold", "Tiny", "Grand", "Modern", "Vintage", "Nimble"}
	nouns = map[string][]string{
		"books":       {"Novel", "Cookbook", "Atlas", "Anthology", "Guide", "Journal"},
		"electronics": {"Headphones", "Charger", "Speaker", "Keyboard", "Monitor", "Router"},
		"home":        {"Lamp", "Blanket", "Vase", "Clock", "Mirror", "Rug"},
		"garden":      {"Trowel", "Planter", "Hose", "Shears", "Birdhouse", "Lantern"},
		"toys":        {"Puzzle", "Robot", "Kite", "Blocks", "Yo-yo", "Train"},
		"sports":      {"Ball", "Racket", "Helmet", "Mat", "Bottle", "Glove"},
		"grocery":     {"Tea", "Coffee", "Honey", "Olive Oil", "Pasta", "Granola"},
		"fashion":     {"Scarf", "Jacket", "Sneakers", "Hat", "Belt", "Wallet"},
	}
	firstNames  = []string{"Ada", "Grace", "Alan", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Frances", "Edsger", "Radia", "John"}
	lastNames   = []string{"Lovelace", "Hopper", "Turing", "Torvalds", "Liskov", "Thompson", "Hamilton", "Ritchie", "Allen", "Dijkstra", "Perlman", "Backus"}
	reviewWords = []string{"great", "solid", "flimsy", "value", "arrived", "quickly", "would", "buy", "again", "works",
		"as", "described", "disappointing", "excellent", "quality", "recommend", "packaging", "perfect"}
	orderStatuses = []OrderStatus{OrderPending, OrderPaid, OrderShipped, OrderCancelled}
)

// Generate builds the dataset of seed with counts c. The same (seed, c)
// always yields identical data; it panics only if c is invalid (call
// c.Validate first for user input). Seeded user N has email
// userN@example.com and password SeedPassword.
func Generate(seed int64, c Counts) Dataset {
	if err := c.Validate(); err != nil {
		panic("domain.Generate: " + err.Error())
	}
	r := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	ds := Dataset{Seed: seed, Counts: c}
	at := func(minutes int) time.Time { return SeedEpoch.Add(time.Duration(minutes) * time.Minute) }

	ds.Users = make([]User, c.Users)
	ds.Credentials = make([]Credential, c.Users)
	for i := range c.Users {
		id := int64(i + 1)
		ds.Users[i] = User{
			ID:        id,
			Name:      firstNames[r.IntN(len(firstNames))] + " " + lastNames[r.IntN(len(lastNames))],
			Email:     fmt.Sprintf("user%d@example.com", id),
			Version:   1,
			UpdatedAt: at(r.IntN(60 * 24 * 30)),
		}
		salt := fmt.Sprintf("%016x", r.Uint64())
		ds.Credentials[i] = Credential{UserID: id, Salt: salt, Hash: HashPassword(salt, SeedPassword)}
	}

	ds.Products = make([]Product, c.Products)
	for i := range c.Products {
		id := int64(i + 1)
		cat := Categories[r.IntN(len(Categories))]
		noun := nouns[cat][r.IntN(len(nouns[cat]))]
		adj := adjectives[r.IntN(len(adjectives))]
		ds.Products[i] = Product{
			ID:          id,
			Name:        fmt.Sprintf("%s %s %d", adj, noun, id),
			Description: fmt.Sprintf("A %s %s from the %s aisle.", strings.ToLower(adj), strings.ToLower(noun), cat),
			Category:    cat,
			Price:       float64(99+r.IntN(49_900)) / 100, // 0.99 .. 499.98
			Stock:       int64(r.IntN(1_000)),
			Version:     1,
			UpdatedAt:   at(r.IntN(60 * 24 * 30)),
		}
	}

	if c.ReviewsPerProduct > 0 && c.Products > 0 {
		ds.Reviews = make([]Review, 0, c.Products*c.ReviewsPerProduct)
		for i := range c.Products {
			n := r.IntN(2*c.ReviewsPerProduct + 1)
			for range n {
				words := make([]string, 4+r.IntN(8))
				for w := range words {
					words[w] = reviewWords[r.IntN(len(reviewWords))]
				}
				ds.Reviews = append(ds.Reviews, Review{
					ID:        int64(len(ds.Reviews) + 1),
					ProductID: int64(i + 1),
					AuthorID:  int64(1 + r.IntN(c.Users)),
					Rating:    int32(1 + r.IntN(5)),
					Text:      strings.Join(words, " ") + ".",
					Version:   1,
					UpdatedAt: at(r.IntN(60 * 24 * 30)),
				})
			}
		}
	}

	ds.Orders = make([]Order, c.Orders)
	for i := range c.Orders {
		items := make([]OrderItem, 1+r.IntN(3))
		total := 0.0
		for k := range items {
			p := ds.Products[r.IntN(c.Products)]
			items[k] = OrderItem{ProductID: p.ID, Quantity: int64(1 + r.IntN(3)), UnitPrice: p.Price}
			total += float64(items[k].Quantity) * p.Price
		}
		ds.Orders[i] = Order{
			ID:        int64(i + 1),
			UserID:    int64(1 + r.IntN(c.Users)),
			Items:     items,
			Total:     RoundCents(total),
			Status:    orderStatuses[r.IntN(len(orderStatuses))],
			Version:   1,
			UpdatedAt: at(r.IntN(60 * 24 * 30)),
		}
	}
	return ds
}

// RoundCents rounds a money amount to two decimals, so totals print cleanly.
func RoundCents(v float64) float64 {
	if v < 0 {
		return -RoundCents(-v)
	}
	return float64(int64(v*100+0.5)) / 100
}

// ParseCounts reads a --dataset value: a preset name (small, medium,
// large) or explicit counts such as "products=5000,users=200,orders=1000,
// reviews=3" (reviews is reviews per product; keys left out keep the small
// preset's value). Errors are CodeInvalid and say what is accepted.
func ParseCounts(s string) (Counts, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "=") {
		return DatasetSize(s).Counts()
	}
	c, _ := SizeSmall.Counts()
	for _, part := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			return Counts{}, Errorf(CodeInvalid, "dataset count %q: want a whole number >= 0 after %q", v, k+"=")
		}
		switch strings.TrimSpace(k) {
		case "users":
			c.Users = n
		case "products":
			c.Products = n
		case "reviews":
			c.ReviewsPerProduct = n
		case "orders":
			c.Orders = n
		default:
			return Counts{}, Errorf(CodeInvalid, "unknown dataset count %q: use users=, products=, reviews= (per product), orders=", k)
		}
	}
	return c, c.Validate()
}
