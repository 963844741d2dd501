package redistest

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/loadrig/loadrig/internal/cache/rediscache"
)

// Main is a test package's TestMain body: it starts one Redis with
// rediscache.Start (which logs to stderr which one: a spawned redis-server
// or the miniredis fallback), stores it in *inst for the tests, runs m,
// closes the Redis and exits with m's code. When no Redis can be started it
// exits 1 without running the tests.
//
//	var redisInst *rediscache.Instance
//
//	func TestMain(m *testing.M) { redistest.Main(m, &redisInst) }
func Main(m *testing.M, inst **rediscache.Instance) {
	in, err := rediscache.Start(context.Background(), rediscache.StartOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start redis:", err)
		os.Exit(1)
	}
	*inst = in
	code := m.Run()
	in.Close()
	os.Exit(code)
}
