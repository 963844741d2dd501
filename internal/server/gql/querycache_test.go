package gql

import (
	"context"
	"strings"
	"testing"
)

// The parsed-query and passed-operation caches keep texts up to
// MaxCachedQuery bytes and skip longer ones.
func TestTextBoundedCache(t *testing.T) {
	c := newTextBounded[int](10)
	ctx := context.Background()
	short, long := "{ a }", "{ a }"+strings.Repeat(" ", MaxCachedQuery)
	c.Add(ctx, short, 1)
	c.Add(ctx, long, 2)
	if v, ok := c.Get(ctx, short); !ok || v != 1 {
		t.Fatalf("short text: %v %v", v, ok)
	}
	if _, ok := c.Get(ctx, long); ok {
		t.Fatal("a text over MaxCachedQuery was cached")
	}
}
