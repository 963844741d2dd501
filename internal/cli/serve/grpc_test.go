package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/loadrig/loadrig/internal/cli/iostreams"
	pb "github.com/loadrig/loadrig/internal/gen/loadrig/v1"
)

func parseGRPC(t *testing.T, args ...string) (*GRPCOptions, error) {
	t.Helper()
	var got *GRPCOptions
	cmd := NewCmdServeGRPC(testFactory(), func(o *GRPCOptions) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	return got, err
}

func parseAll(t *testing.T, args ...string) (*AllOptions, error) {
	t.Helper()
	var got *AllOptions
	cmd := NewCmdServeAll(testFactory(), func(o *AllOptions) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	return got, err
}

func TestGRPCFlags(t *testing.T) {
	t.Parallel()
	o, err := parseGRPC(t)
	if err != nil {
		t.Fatal(err)
	}
	if o.Addr != DefaultGRPCAddr || o.AdminAddr != DefaultAdminAddr || o.PriceTicker != 0 || o.Stack.Cache != "none" || o.BodyLimit != 1<<20 {
		t.Fatalf("defaults = %+v", o)
	}
	o, err = parseGRPC(t, "--addr", ":0", "--admin-addr", "off", "--price-ticker", "5ms", "--cache", "tinylfu")
	if err != nil || o.AdminAddr != "off" || o.PriceTicker != 5*time.Millisecond || o.Stack.Cache != "tinylfu" {
		t.Fatalf("flags = %+v, %v", o, err)
	}
	a, err := parseAll(t)
	if err != nil || a.Addr != DefaultRESTAddr || a.GRPCAddr != DefaultGRPCAddr || a.AdminAddr != DefaultAdminAddr {
		t.Fatalf("all defaults = %+v, %v", a, err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--admin-addr", "9091"}, "--admin-addr"},
		{[]string{"--price-ticker", "-1s"}, "--price-ticker"},
		{[]string{"--grpc-accounting", "ebpf"}, "--grpc-accounting"},
		{[]string{"--cache", "memcached"}, "--cache"},
		{[]string{"--addr", "x"}, "--addr"},
	} {
		if _, err := parseGRPC(t, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error about %s", c.args, err, c.want)
		}
	}
	if _, err := parseAll(t, "--grpc-addr", "nope"); err == nil || !strings.Contains(err.Error(), "--grpc-addr") {
		t.Errorf("--grpc-addr nope: %v", err)
	}
}

func dialShop(t *testing.T, addr string) pb.ShopServiceClient {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return pb.NewShopServiceClient(cc)
}

func getJSON(t *testing.T, url string) map[string]any {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return m
}

func TestGRPCRunServesAndShutsDown(t *testing.T) {
	t.Parallel()
	out, errOut := &syncBuffer{}, &syncBuffer{}
	type addrs struct{ grpc, admin string }
	ready := make(chan addrs, 1)
	o, err := parseGRPC(t, "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--cache", "lru",
		"--store-latency", "1ms", "--price-ticker", "2ms", "--log-format", "json")
	if err != nil {
		t.Fatal(err)
	}
	o.IO = &iostreams.IOStreams{Out: out, ErrOut: errOut}
	o.Ready = func(g, a string) { ready <- addrs{g, a} }
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- GRPCRun(ctx, o) }()
	var a addrs
	select {
	case a = <-ready:
	case err := <-done:
		t.Fatalf("GRPCRun returned early: %v; stderr %s", err, errOut.String())
	case <-time.After(20 * time.Second):
		t.Fatal("server not ready")
	}
	want := "loadrig grpc listening on " + a.grpc + "\nloadrig grpc admin listening on " + a.admin + "\n"
	if out.String() != want || strings.HasSuffix(a.grpc, ":0") {
		t.Fatalf("stdout %q, want %q", out.String(), want)
	}

	client := dialShop(t, a.grpc)
	cctx, ccancel := context.WithTimeout(ctx, 20*time.Second)
	defer ccancel()
	var hdr metadata.MD
	for range 2 {
		if _, err := client.GetProduct(cctx, &pb.GetProductRequest{Id: 3}, grpc.Header(&hdr)); err != nil {
			t.Fatal(err)
		}
	}
	if got := hdr.Get("x-cache"); len(got) != 1 || got[0] != "HIT" {
		t.Errorf("second read x-cache = %v, want HIT from the lru stack", got)
	}
	// The price ticker's changes reach a watcher of every product.
	ws, err := client.WatchPrices(cctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Send(&pb.WatchPricesRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Recv(); err != nil { // the acknowledgement
		t.Fatal(err)
	}
	m, err := ws.Recv()
	if err != nil || m.GetProductId() == 0 || m.GetVersion() < 2 {
		t.Fatalf("price change = %v, %v", m, err)
	}

	stats := getJSON(t, a.admin+"/stats")
	if stats["server"] != "grpc" || stats["cache"].(map[string]any)["backend"] != "lru" || stats["store"] == nil {
		t.Errorf("stats = %v", stats)
	}
	if rp := stats["rpcs"].(map[string]any)["GetProduct"].(map[string]any); rp["calls"] != float64(2) {
		t.Errorf("GetProduct stats = %v", rp)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("GRPCRun after cancel = %v, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server did not stop after cancel")
	}
	if !strings.Contains(errOut.String(), `"msg":"stack closed"`) {
		t.Errorf("logs lack the shutdown sequence: %s", errOut.String())
	}
}

func TestAllRunSharesStack(t *testing.T) {
	t.Parallel()
	out, errOut := &syncBuffer{}, &syncBuffer{}
	type addrs struct{ rest, grpc, admin string }
	ready := make(chan addrs, 1)
	o, err := parseAll(t, "--addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0", "--admin-addr", "off", "--grpc-accounting", "listener",
		"--cache", "lru", "--store-latency", "1ms", "--shutdown-timeout", "2s")
	if err != nil {
		t.Fatal(err)
	}
	o.IO = &iostreams.IOStreams{Out: out, ErrOut: errOut}
	o.Ready = func(r, g, a string) { ready <- addrs{r, g, a} }
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- AllRun(ctx, o) }()
	var a addrs
	select {
	case a = <-ready:
	case err := <-done:
		t.Fatalf("AllRun returned early: %v; stderr %s", err, errOut.String())
	case <-time.After(20 * time.Second):
		t.Fatal("servers not ready")
	}
	if a.admin != "" || !strings.Contains(out.String(), "loadrig rest listening on "+a.rest) || !strings.Contains(out.String(), "loadrig grpc listening on "+a.grpc) {
		t.Fatalf("stdout %q", out.String())
	}
	client := dialShop(t, a.grpc)
	cctx, ccancel := context.WithTimeout(ctx, 20*time.Second)
	defer ccancel()

	// A gRPC read fills the shared cache: the REST read of the same
	// product is a hit.
	if _, err := client.GetProduct(cctx, &pb.GetProductRequest{Id: 5}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(a.rest + "/api/products/5")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Cache"); got != "HIT" {
		t.Errorf("REST X-Cache after a gRPC read = %q, want HIT (one shared cache)", got)
	}

	// A REST PATCH reaches a gRPC watcher.
	ws, err := client.WatchPrices(cctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Send(&pb.WatchPricesRequest{ProductIds: []int64{5}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Recv(); err != nil {
		t.Fatal(err)
	}
	login := postJSON(t, a.rest+"/api/login", "", `{"email": "user1@example.com", "password": "loadrig"}`)
	tok, _ := login["token"].(string)
	if tok == "" {
		t.Fatalf("login = %v", login)
	}
	req, _ := http.NewRequest(http.MethodPatch, a.rest+"/api/products/5", strings.NewReader(`{"price": 12.34}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	presp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	presp.Body.Close()
	if presp.StatusCode != http.StatusOK {
		t.Fatalf("PATCH status %d", presp.StatusCode)
	}
	m, err := ws.Recv()
	if err != nil || m.GetProductId() != 5 || m.GetPrice() != 12.34 {
		t.Fatalf("change pushed to gRPC = %v, %v", m, err)
	}

	// GraphQL is served on the REST listener over the same stack: it reads
	// the PATCHed price, and its own write reaches the gRPC watcher.
	g := postJSON(t, a.rest+"/graphql", tok, `{"query": "mutation { updateProduct(id: 5, input: {price: 7.5}) { price } }"}`)
	if d, _ := g["data"].(map[string]any); d == nil || d["updateProduct"].(map[string]any)["price"] != 7.5 {
		t.Fatalf("GraphQL on the REST listener: %v", g)
	}
	m, err = ws.Recv()
	if err != nil || m.GetProductId() != 5 || m.GetPrice() != 7.5 {
		t.Fatalf("GraphQL write pushed to gRPC = %v, %v", m, err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("AllRun after cancel = %v, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("servers did not stop after cancel")
	}
}

func postJSON(t *testing.T, url, token, body string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewBufferString(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return m
}
