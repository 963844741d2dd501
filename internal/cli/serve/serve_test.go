package serve

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/loadrig/loadrig/internal/server"
	"github.com/loadrig/loadrig/internal/syncbuf"
)

func testFactory() *cmdutil.Factory {
	ios, _, _, _ := iostreams.Test()
	return &cmdutil.Factory{IOStreams: ios, Getenv: func(string) string { return "" }}
}

func parseREST(t *testing.T, args ...string) (*RESTOptions, error) {
	t.Helper()
	var got *RESTOptions
	cmd := NewCmdServeREST(testFactory(), func(o *RESTOptions) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	err := cmd.Execute()
	return got, err
}

func TestRESTFlagDefaults(t *testing.T) {
	t.Parallel()
	o, err := parseREST(t)
	if err != nil {
		t.Fatal(err)
	}
	if o.Addr != "127.0.0.1:8080" || o.Stack.Cache != "none" || o.Stack.Strategy != "aside" || o.Stack.StoreLatency != 2*time.Millisecond ||
		o.Stack.StorePool != 8 || o.MaxAge != 0 || o.Stack.Dataset != "small" || o.Stack.Session != "jwt" || o.BodyLimit != 1<<20 || o.Stack.TTL != time.Minute ||
		o.GCHeadroom != server.DefaultGCHeadroom {
		t.Fatalf("defaults = %+v", o)
	}
}

func TestRESTFlagsContract(t *testing.T) {
	t.Parallel()
	o, err := parseREST(t, "--addr", "127.0.0.1:0", "--cache", "redis", "--strategy", "write-behind", "--ttl", "30s",
		"--redis-url", "redis://127.0.0.1:6379", "--store-latency", "5ms", "--store-pool", "4", "--max-age", "10s",
		"--seed", "7", "--dataset", "medium", "--pprof", "--log-level", "debug", "--log-format", "json",
		"--session", "redis", "--rate-limit", "100/s", "--body-limit", "2048", "--gc-headroom", "1048576")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := o.StackConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Cache != "redis" || cfg.Strategy != "write-behind" || cfg.TTL != 30*time.Second || cfg.RedisURL != "redis://127.0.0.1:6379" ||
		cfg.StoreLatency != 5*time.Millisecond || cfg.StorePool != 4 || cfg.Seed != 7 || cfg.Dataset != "medium" ||
		cfg.Session != "redis" || cfg.RateLimit.Events != 100 || cfg.RateLimit.Per != time.Second {
		t.Fatalf("stack config = %+v", cfg)
	}
	if o.MaxAge != 10*time.Second || !o.Pprof || o.BodyLimit != 2048 || o.LogFormat != "json" || o.GCHeadroom != 1<<20 {
		t.Fatalf("options = %+v", o)
	}
}

func TestRESTBadFlags(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--cache", "memcached"}, "--cache"},
		{[]string{"--strategy", "write-behind"}, "needs --cache redis"},
		{[]string{"--rate-limit", "fast"}, "--rate-limit"},
		{[]string{"--log-level", "loud"}, "log level"},
		{[]string{"--log-format", "xml"}, "log format"},
		{[]string{"--addr", "8080"}, "--addr"},
		{[]string{"--dataset", "huge"}, "--dataset"},
		{[]string{"--body-limit", "0"}, "--body-limit"},
		{[]string{"--max-age", "-1s"}, "--max-age"},
		{[]string{"--session", "cookie"}, "--session"},
		{[]string{"--invalidation", "maybe"}, "--invalidation"},
		{[]string{"--cache", "lru", "--strategy", "write-through", "--invalidation", "delete"}, "contradicts"},
		{[]string{"--cache-mode", "page"}, "--cache-mode"},
		{[]string{"--cache-mode", "response"}, "needs a cache"},
		{[]string{"extra-arg"}, "takes no arguments"},
		{[]string{"--store-pool", "-3"}, "--store-pool"},
		{[]string{"--gc-headroom", "-1"}, "--gc-headroom"},
		{[]string{"--redis-url", "foo://x"}, "--redis-url"},
		{[]string{"--store", "mysql://x"}, "unknown store"},
		{[]string{"--store", "sqlite:"}, "needs a file path"},
	} {
		_, err := parseREST(t, c.args...)
		var fe *cmdutil.FlagError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want a usage error mentioning %q", c.args, err, c.want)
		}
	}
}

// syncBuffer is a goroutine-safe sink for logs and output.
type syncBuffer = syncbuf.Buffer

func TestRESTRunServesAndShutsDown(t *testing.T) {
	t.Parallel()
	t.Run("lru", func(t *testing.T) {
		t.Parallel()
		testRESTRun(t, "none", "--cache", "lru")
	})
	t.Run("redis-write-behind", func(t *testing.T) {
		t.Parallel()
		// No --redis-url: the launcher spawns redis-server (or miniredis).
		testRESTRun(t, "", "--cache", "redis", "--strategy", "write-behind")
	})
}

// testRESTRun starts `serve rest` with args, checks the printed address,
// /stats and a write, then cancels and expects a clean drain. wantRedis is
// the expected redis_mode ("" for spawned or embedded).
func testRESTRun(t *testing.T, wantRedis string, args ...string) {
	out, errOut := &syncBuffer{}, &syncBuffer{}
	ready := make(chan string, 1)
	o, err := parseREST(t, append([]string{"--addr", "127.0.0.1:0", "--store-latency", "1ms", "--log-format", "json"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	o.IO = &iostreams.IOStreams{Out: out, ErrOut: errOut}
	o.Ready = func(u string) { ready <- u }
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- RESTRun(ctx, o) }()
	var url string
	select {
	case url = <-ready:
	case err := <-done:
		t.Fatalf("RESTRun returned early: %v; stderr %s", err, errOut.String())
	case <-time.After(20 * time.Second):
		t.Fatal("server not ready")
	}
	if want := "loadrig rest listening on " + url + "\n"; out.String() != want || !strings.HasPrefix(url, "http://127.0.0.1:") || strings.HasSuffix(url, ":0") {
		t.Fatalf("stdout %q, want %q with the real port", out.String(), want)
	}
	resp, err := http.Get(url + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	var stats map[string]any
	json.NewDecoder(resp.Body).Decode(&stats)
	resp.Body.Close()
	mode, _ := stats["redis_mode"].(string)
	switch {
	case wantRedis != "" && mode != wantRedis:
		t.Errorf("redis_mode = %q, want %q", mode, wantRedis)
	case wantRedis == "" && mode != "spawned" && mode != "embedded-miniredis":
		t.Errorf("redis_mode = %q, want spawned or embedded-miniredis", mode)
	}
	t.Logf("redis_mode: %s", mode)
	// A write (acknowledged from Redis under write-behind) before shutdown.
	resp, err = http.Post(url+"/api/login", "application/json", strings.NewReader(`{"email":"user1@example.com","password":"loadrig"}`))
	if err != nil {
		t.Fatal(err)
	}
	var lr struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&lr)
	resp.Body.Close()
	req, _ := http.NewRequest("PATCH", url+"/api/products/2", strings.NewReader(`{"stock": 5}`))
	req.Header.Set("Authorization", "Bearer "+lr.Token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("PATCH: %v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("RESTRun after cancel = %v, want nil (clean drain)", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("server did not stop after cancel")
	}
	if !strings.Contains(errOut.String(), `"msg":"shutting down"`) || !strings.Contains(errOut.String(), `"msg":"stack closed"`) {
		t.Errorf("logs lack the shutdown sequence: %s", errOut.String())
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Error("server still answers after shutdown")
	}
}

func TestServeParent(t *testing.T) {
	t.Parallel()
	cmd := NewCmdServe(testFactory())
	cmd.SetArgs([]string{"soap"})
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	var fe *cmdutil.FlagError
	if err := cmd.Execute(); !errors.As(err, &fe) {
		t.Fatalf("unknown protocol: %v, want a usage error", err)
	}
}
