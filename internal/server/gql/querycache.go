package gql

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/lru"
)

// MaxCachedQuery is the longest query text (bytes) the server remembers:
// in the parsed-query LRU, the limits' passed-operation LRU and the
// in-process APQ store. The caches are bounded in entries and keyed (APQ:
// valued) by the text, and the token limit does not count comments or
// whitespace, so without it 1,000 parsed-query entries of a 1 MiB body
// could pin ~1 GiB (10,000 APQ entries ~10 GiB). A longer query still runs;
// it is parsed and measured on every request, and APQ does not register it
// (the client keeps sending the text). Real queries are a few KiB.
const MaxCachedQuery = 16 << 10

// textBounded is a graphql.Cache that skips entries whose key is longer
// than MaxCachedQuery, so an entry-bounded LRU is bounded in bytes too.
type textBounded[T any] struct{ c *lru.LRU[T] }

var _ graphql.Cache[int] = textBounded[int]{}

func newTextBounded[T any](size int) textBounded[T] { return textBounded[T]{lru.New[T](size)} }

func (b textBounded[T]) Get(ctx context.Context, key string) (T, bool) { return b.c.Get(ctx, key) }

func (b textBounded[T]) Add(ctx context.Context, key string, v T) {
	if len(key) <= MaxCachedQuery {
		b.c.Add(ctx, key, v)
	}
}
