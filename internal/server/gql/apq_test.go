package gql_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/cache/rediscache"
	"github.com/loadrig/loadrig/internal/cache/rediscache/redistest"
	"github.com/loadrig/loadrig/internal/server/gql"
	"github.com/loadrig/loadrig/internal/server/stack"
)

var redisInst *rediscache.Instance

func TestMain(m *testing.M) { redistest.Main(m, &redisInst) }

func pq(hash string) map[string]any {
	return map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
}

func sha(q string) string {
	b := sha256.Sum256([]byte(q))
	return hex.EncodeToString(b[:])
}

// testAPQ: miss, register, hit; a wrong hash is refused and registers
// nothing; a persisted query still obeys the limits.
func testAPQ(t *testing.T, f *fixture) {
	q := `{ product(id: 4) { id } }`
	h := sha(q)
	r := f.post(request{Extensions: pq(h)}, "")
	if r.code() != gql.CodePersistedNotFound {
		t.Fatalf("unknown hash: code %q", r.code())
	}
	r = f.post(request{Query: q, Extensions: pq(h)}, "")
	if string(r.Data) != `{"product":{"id":"4"}}` {
		t.Fatalf("register: %s %+v", r.Data, r.Errors)
	}
	r = f.post(request{Extensions: pq(h)}, "")
	if string(r.Data) != `{"product":{"id":"4"}}` {
		t.Fatalf("hit: %s %+v", r.Data, r.Errors)
	}

	other := `{ product(id: 5) { id name } }`
	wrong := sha(other)
	r = f.post(request{Query: `mutation { deleteProduct(id: 5) }`, Extensions: pq(wrong)}, "")
	if len(r.Errors) == 0 || (r.Data != nil && string(r.Data) != "null") {
		t.Fatalf("wrong hash: data %s errors %+v", r.Data, r.Errors)
	}
	r = f.post(request{Extensions: pq(wrong)}, "")
	if r.code() != gql.CodePersistedNotFound {
		t.Fatalf("a refused wrong hash was registered: %s %+v", r.Data, r.Errors)
	}

	// Every refused query is refused with its own code and registers
	// nothing: the hash alone is still unknown afterwards.
	deep := `{ products(first: 1) { reviews(first: 1) { author { orders(first: 1) { items { product { reviews(first: 1) { author { orders(first: 1) { items { product { id } } } } } } } } } } } }`
	refused := []struct{ query, code string }{
		{`{ products(first: 100) { reviews(first: 100) { id } } }`, gql.CodeComplexityLimit},
		{deep, gql.CodeDepthLimit},
		{"{ " + strings.Repeat("a: __typename ", 3500) + "}", gql.CodeParseFailed},
		{`{ product(id: 1) { id `, gql.CodeParseFailed},
		{`{ product(id: 1) { nope } }`, gql.CodeValidationFailed},
		{`query Q($id: ID!) { product(id: $id) { id } }`, gql.CodeValidationFailed}, // $id missing
	}
	for _, c := range refused {
		r = f.post(request{Query: c.query, Extensions: pq(sha(c.query))}, "")
		if r.code() != c.code {
			t.Fatalf("refused persisted query %.40q: code %q, want %q", c.query, r.code(), c.code)
		}
		r = f.post(request{Extensions: pq(sha(c.query))}, "")
		if r.code() != gql.CodePersistedNotFound {
			t.Fatalf("refused query %.40q was registered: code %q data %s", c.query, r.code(), r.Data)
		}
		if f.apqHas != nil && f.apqHas(sha(c.query)) {
			t.Fatalf("refused query %.40q is in the store", c.query)
		}
	}
	if f.apqHas != nil && !f.apqHas(h) {
		t.Fatal("the accepted query is not in the store")
	}

	apq := f.h.GraphQLStats()["apq"].(map[string]any)
	if apq["hits"].(int64) != 1 || apq["misses"].(int64) != 2+int64(len(refused)) || apq["registered"].(int64) != 1 {
		t.Fatalf("/stats apq: %v", apq)
	}
}

func TestAPQLRU(t *testing.T) {
	f := newFixture(t, stack.Config{}, func(d *gql.Deps) { d.APQ = gql.NewAPQLRU(100) })
	testAPQ(t, f)
}

// TestAPQRedis keeps persisted queries in a real redis-server, with a TTL.
func TestAPQRedis(t *testing.T) {
	if redisInst.Mode() != rediscache.ModeSpawned && redisInst.Mode() != rediscache.ModeExternal {
		t.Logf("Redis is %s (no redis-server on PATH)", redisInst.Mode())
	}
	rb, err := rediscache.Open(rediscache.Options{URL: redisInst.URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rb.Close() })
	prefix := fmt.Sprintf("t%d:", time.Now().UnixNano()) // a fresh namespace per run (-count)
	f := newFixture(t, stack.Config{}, func(d *gql.Deps) { d.APQ = gql.NewAPQStore(rb, prefix, time.Minute) })
	f.apqHas = func(hash string) bool {
		n, err := rb.Client().Exists(context.Background(), prefix+"apq:"+hash).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	testAPQ(t, f)
	ttl, err := rb.Client().TTL(context.Background(), prefix+"apq:"+sha(`{ product(id: 4) { id } }`)).Result()
	if err != nil || ttl <= 0 || ttl > time.Minute {
		t.Fatalf("persisted query TTL in Redis: %v %v", ttl, err)
	}
}

// TestAPQOff: without a store, a hash-only request is refused.
func TestAPQOff(t *testing.T) {
	f := newFixture(t, stack.Config{}, nil)
	r := f.post(request{Extensions: pq(sha(`{ product(id: 4) { id } }`))}, "")
	if len(r.Errors) == 0 {
		t.Fatal("hash-only request answered with APQ off")
	}
}
