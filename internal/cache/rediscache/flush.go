package rediscache

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// FlushDB empties the database that url names (redis://host:port/db) —
// `loadrig compare --redis-flush` between variants, so one variant's cache
// does not warm the next. Only ever on a Redis the user named for it.
func FlushDB(ctx context.Context, url string) error {
	o, err := redis.ParseURL(url)
	if err != nil {
		return fmt.Errorf("redis url %q: %w", url, err)
	}
	c := redis.NewClient(o)
	defer c.Close()
	if err := c.FlushDB(ctx).Err(); err != nil {
		return fmt.Errorf("flush %s: %w", url, err)
	}
	return nil
}
