package rediscache_test

import (
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/loadrig/loadrig/internal/cache/rediscache"
)

// TestFlushDB empties the database the URL names and only that one.
func TestFlushDB(t *testing.T) {
	ctx := t.Context()
	o, err := redis.ParseURL(inst.URL())
	if err != nil {
		t.Fatal(err)
	}
	o.DB = 3
	c3 := redis.NewClient(o)
	defer c3.Close()
	o4 := *o
	o4.DB = 4
	c4 := redis.NewClient(&o4)
	defer c4.Close()
	if err := c3.Set(ctx, "flush-me", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c4.Set(ctx, "keep-me", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	url3 := inst.URL() + "/3"
	if strings.HasPrefix(inst.URL(), "unix://") {
		url3 = inst.URL() + "?db=3"
	}
	if err := rediscache.FlushDB(ctx, url3); err != nil {
		t.Fatal(err)
	}
	if n, _ := c3.DBSize(ctx).Result(); n != 0 {
		t.Fatalf("db 3 has %d keys after the flush", n)
	}
	if v, err := c4.Get(ctx, "keep-me").Result(); err != nil || v != "1" {
		t.Fatalf("db 4 lost its key: %q %v", v, err)
	}
	if err := rediscache.FlushDB(ctx, "not a url"); err == nil {
		t.Fatal("a bad URL flushed")
	}
}
