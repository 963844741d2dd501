package rediscache

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func needRedisServer(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not on PATH (CI=true requires it)")
		}
		t.Skip("SKIPPED: no redis-server on PATH")
	}
}

func TestSpawnedRedisIsPrivate(t *testing.T) {
	needRedisServer(t)
	in, err := Start(t.Context(), StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if in.Mode() != ModeSpawned || !strings.HasPrefix(in.URL(), "unix://") {
		t.Fatalf("mode %s url %s, want a spawned server on a unix socket", in.Mode(), in.URL())
	}
	st, err := os.Stat(filepath.Dir(in.Addr()))
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("socket folder %v %v, want 0700", st.Mode(), err)
	}
	if in.LossWindow() != LossWindowVolatile {
		t.Fatalf("loss window %q", in.LossWindow())
	}
	b, err := Open(Options{URL: in.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(in.Addr())
	in.Close()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("socket folder left behind: %v", err)
	}
}

// A persistent spawned Redis keeps what it acknowledged across SIGKILL.
func TestSpawnedRedisPersists(t *testing.T) {
	needRedisServer(t)
	data := filepath.Join(t.TempDir(), "redis-data")
	in, err := Start(t.Context(), StartOptions{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if in.LossWindow() != LossWindowPersistent {
		t.Fatalf("loss window %q", in.LossWindow())
	}
	b, err := Open(Options{URL: in.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := t.Context()
	if _, err := b.SetAndAppend(ctx, "k", []byte("v1"), "s"); err != nil {
		t.Fatal(err)
	}
	in.Kill() // SIGKILL right after the reply
	if err := in.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	var v []byte
	var ok bool
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, ok, err = b.Get(ctx, "k")
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil || !ok || string(v) != "v1" {
		t.Fatalf("after SIGKILL and restart: %q %v %v", v, ok, err)
	}
	bl, err := b.StreamBacklog(ctx, "s", "g")
	if err != nil || bl.Length != 1 {
		t.Fatalf("stream after restart: %+v %v", bl, err)
	}
	if _, err := os.Stat(filepath.Join(data, "appendonlydir")); err != nil {
		t.Fatalf("no AOF in the data folder: %v", err)
	}
}

// checkOwnChild refuses a server whose process_id is not the child's.
func TestCheckOwnChildRefusesAStranger(t *testing.T) {
	needRedisServer(t)
	in, err := Start(t.Context(), StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: in.Addr()})
	defer c.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	in.mu.Lock()
	pid := in.cmd.Process.Pid
	in.mu.Unlock()
	if err := checkOwnChild(ctx, c, pid); err != nil {
		t.Fatalf("own child refused: %v", err)
	}
	if err := checkOwnChild(ctx, c, pid+1); err == nil || !strings.Contains(err.Error(), "not the redis-server loadrig started") {
		t.Fatalf("a stranger accepted: %v", err)
	}
}
