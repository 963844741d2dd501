package redistest

import (
	"os/exec"
	"testing"

	"github.com/loadrig/loadrig/internal/cache/rediscache"
)

var redisInst *rediscache.Instance

func TestMain(m *testing.M) { Main(m, &redisInst) }

// TestMainStartsRedis checks that Main handed the tests a Redis that
// answers, and that it is a real redis-server whenever one is installed.
func TestMainStartsRedis(t *testing.T) {
	if redisInst == nil {
		t.Fatal("Main did not set the instance")
	}
	t.Logf("redis mode: %s at %s", redisInst.Mode(), redisInst.Addr())
	if _, err := exec.LookPath("redis-server"); err == nil && redisInst.Mode() != rediscache.ModeSpawned {
		t.Errorf("redis-server is installed but mode is %s", redisInst.Mode())
	}
	b, err := rediscache.Open(rediscache.Options{URL: redisInst.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Client().Ping(t.Context()).Err(); err != nil {
		t.Fatalf("PING %s: %v", redisInst.URL(), err)
	}
}
