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
)

func parseGraphQL(t *testing.T, args ...string) (*GraphQLOptions, error) {
	t.Helper()
	var got *GraphQLOptions
	cmd := NewCmdServeGraphQL(testFactory(), func(o *GraphQLOptions) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	return got, cmd.Execute()
}

func TestGraphQLFlags(t *testing.T) {
	t.Parallel()
	o, err := parseGraphQL(t)
	if err != nil {
		t.Fatal(err)
	}
	if o.Addr != DefaultGraphQLAddr || o.DataLoader != "on" || o.MaxDepth != 10 || o.MaxComplexity != 1000 || o.MaxTokens != 10000 ||
		o.APQ != "lru" || o.Dev || len(o.Origins) != 0 || o.Stack.Cache != "none" || o.Stack.StorePool != 8 ||
		o.Multiplex != "on" || o.FastPath != "on" {
		t.Fatalf("defaults = %+v", o)
	}
	o, err = parseGraphQL(t, "--addr", "127.0.0.1:0", "--dataloader", "off", "--max-depth", "5", "--max-complexity", "0",
		"--max-tokens", "500", "--apq", "redis", "--apq-ttl", "1h", "--origins", "app.example,*.example.org", "--dev",
		"--cache", "lru", "--store-latency", "1ms", "--multiplex", "off", "--fast-path", "off")
	if err != nil {
		t.Fatal(err)
	}
	if o.DataLoader != "off" || o.MaxDepth != 5 || o.MaxComplexity != 0 || o.MaxTokens != 500 || o.APQ != "redis" ||
		o.APQTTL != time.Hour || strings.Join(o.Origins, " ") != "app.example *.example.org" || !o.Dev || o.Stack.Cache != "lru" ||
		o.Multiplex != "off" || o.FastPath != "off" {
		t.Fatalf("parsed = %+v", o)
	}
}

// TestGraphQLBadFlags: one line naming the flag, a usage error (exit 2).
func TestGraphQLBadFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--dataloader", "maybe"}, {"--apq", "memcached"}, {"--max-depth", "-1"}, {"--max-complexity", "-5"},
		{"--max-tokens", "-1"}, {"--apq-ttl", "0s"}, {"--origins", "http://app.example"}, {"--addr", "nope"},
		{"--cache", "mongo"}, {"--multiplex", "maybe"}, {"--fast-path", "yes"},
	} {
		_, err := parseGraphQL(t, args...)
		var fe *cmdutil.FlagError
		if !errors.As(err, &fe) {
			t.Errorf("%v: %v, want a usage error", args, err)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, strings.TrimLeft(args[0], "-")) {
			t.Errorf("%v: message %q should be one line naming the flag", args, msg)
		}
	}
}

// TestGraphQLRunServesAndShutsDown runs the command end to end on :0.
func TestGraphQLRunServesAndShutsDown(t *testing.T) {
	ios, _, out, errOut := iostreams.Test()
	o, err := parseGraphQL(t, "--addr", "127.0.0.1:0", "--cache", "lru", "--store-latency", "0", "--log-format", "json", "--dev")
	if err != nil {
		t.Fatal(err)
	}
	o.IO = ios
	ready := make(chan string, 1)
	o.Ready = func(u string) { ready <- u }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- GraphQLRun(ctx, o) }()
	var url string
	select {
	case url = <-ready:
	case err := <-done:
		t.Fatalf("GraphQLRun returned early: %v; stderr %s", err, errOut.String())
	case <-time.After(20 * time.Second):
		t.Fatal("server not ready")
	}
	if out.String() != "loadrig graphql listening on "+url+"\n" {
		t.Fatalf("stdout %q", out.String())
	}
	resp, err := http.Post(url+"/graphql", "application/json", strings.NewReader(`{"query":"{ product(id: 1) { id } }"}`))
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Data       map[string]any
		Extensions map[string]map[string]any
	}
	json.NewDecoder(resp.Body).Decode(&r)
	resp.Body.Close()
	if r.Data["product"] == nil || r.Extensions["loadrig"]["dataloader"] != true {
		t.Fatalf("response %+v", r)
	}
	for _, p := range []string{"/graphiql", "/healthz", "/stats", "/metrics"} {
		resp, err := http.Get(url + p)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", p, resp, err)
		}
		resp.Body.Close()
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("GraphQLRun after cancel = %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("server did not stop after cancel")
	}
}
