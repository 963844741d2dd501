package rest

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/cache/rediscache"
	"github.com/loadrig/loadrig/internal/cache/rediscache/redistest"
	"github.com/loadrig/loadrig/internal/server/stack"
)

// Redis killed mid-run under each cache strategy: reads and writes keep
// answering (never a 5xx: the cache falls through to the store, writes go
// to the store), and the cache serves hits again once Redis is back.
func TestRedisKilledMidRun(t *testing.T) {
	redistest.Require(t, "redis-server") // the fault needs a real process to kill
	for _, strategy := range []string{"aside", "write-through", "write-behind"} {
		t.Run(strategy, func(t *testing.T) {
			in, err := rediscache.Start(t.Context(), rediscache.StartOptions{}) // this test's own Redis, to kill
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			rt, _ := newStackTest(t, stack.Config{Cache: "redis", Strategy: strategy, RedisURL: in.URL(),
				StoreLatency: time.Millisecond, Session: stack.SessionJWT}, Deps{})
			auth := rt.login()
			round := func(phase string, n int) (hits int) {
				for i := range n {
					id := i%5 + 1
					r := rt.get(fmt.Sprintf("/api/products/%d", id))
					if r.StatusCode >= 500 {
						t.Fatalf("%s: GET %d: %d %s", phase, id, r.StatusCode, r.body)
					}
					if r.Header.Get("X-Cache") == "HIT" {
						hits++
					}
					if i%4 == 0 {
						w := rt.do(http.MethodPatch, fmt.Sprintf("/api/products/%d", id), map[string]any{"price": float64(i) + 0.5}, "Authorization", auth)
						if w.StatusCode != 200 {
							t.Fatalf("%s: PATCH %d: %d %s", phase, id, w.StatusCode, w.body)
						}
					}
					if i%7 == 0 {
						o := rt.do(http.MethodPost, "/api/orders", map[string]any{"user_id": 1, "items": []map[string]int{{"product_id": 20 + i%5, "quantity": 1}}}, "Authorization", auth)
						if o.StatusCode >= 500 {
							t.Fatalf("%s: order: %d %s", phase, o.StatusCode, o.body)
						}
					}
				}
				return hits
			}
			if h := round("before", 40); h == 0 {
				t.Fatal("no cache hits with Redis up")
			}
			in.Kill()
			round("redis down", 40)
			if err := in.Restart(t.Context()); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for round("recovered", 20) == 0 {
				if time.Now().After(deadline) {
					t.Fatal("no cache hits 10 s after Redis came back")
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}
