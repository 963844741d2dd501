package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
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

// Require returns the path of each named binary (redis-server, redis-cli)
// for a test that needs the real program, not the miniredis fallback.
// Without one the test is skipped loudly, except under CI=true, where
// .ci/run installs them all: there it fails, so CI never passes by
// skipping what it was meant to run.
func Require(t testing.TB, bins ...string) []string {
	t.Helper()
	paths := make([]string, len(bins))
	for i, b := range bins {
		p, err := exec.LookPath(b)
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not on PATH (CI=true requires it: .ci/run installs redis-server)", b)
			}
			t.Skipf("SKIPPED LOUDLY: %s is not on PATH (apt-get install redis-server); this test needs the real program", b)
		}
		paths[i] = p
	}
	return paths
}

// RequireSpawned is Require for a test holding an Instance: it needs a
// spawned redis-server (one it can kill), not miniredis.
func RequireSpawned(t testing.TB, in *rediscache.Instance) {
	t.Helper()
	if in.Mode() != rediscache.ModeSpawned {
		Require(t, "redis-server")
		t.Fatalf("redis-server is on PATH but the Redis is %s, not spawned", in.Mode())
	}
}
