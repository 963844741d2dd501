package grpcdrv

import (
	"errors"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"

	pb "github.com/loadrig/loadrig/internal/gen/loadrig/v1"
	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/load/tmpl"
	"github.com/loadrig/loadrig/internal/metrics"
	"github.com/loadrig/loadrig/internal/server/grpcsrv"
)

// TestEveryKindBothPaths runs each RPC kind with descriptors from
// reflection and from the .proto file.
func TestEveryKindBothPaths(t *testing.T) {
	t.Parallel()
	tg := newTarget(t, grpcsrv.Options{})
	kinds := []struct {
		method string
		data   string
		kind   Kind
		sent   int // messages sent per operation
		recv   int // messages received per operation
	}{
		{"GetProduct", `{"id": {{randInt 1 50}}}`, Unary, 0, 0},
		{"ListProducts", `{"page_size": 4}`, ServerStream, 1, 4},
		{"UploadReviews", `{"product_id": 2, "author_id": 1, "rating": 3}`, ClientStream, 3, 0},
		{"WatchPrices", `{"product_ids": [2]}`, BidiStream, 3, 3},
	}
	for _, path := range []string{"reflection", "proto"} {
		for _, k := range kinds {
			t.Run(path+"/"+k.method, func(t *testing.T) {
				opts := Options{Target: tg.addr, Call: shop + k.method, Data: k.data, StreamMessages: 3, Metadata: tg.auth}
				if k.kind == ServerStream {
					opts.StreamMessages = 0
				}
				if path == "proto" {
					opts.ProtoFiles, opts.ImportPaths = []string{"loadrig/v1/shop.proto"}, []string{protoDir}
				}
				d := newDriver(t, opts)
				if d.Kind() != k.kind {
					t.Fatalf("kind = %v, want %v", d.Kind(), k.kind)
				}
				var sk sink
				for i, o := range do(t, d, 2, &sk) {
					if o.Err != metrics.OK || o.BytesReceived == 0 {
						t.Errorf("op %d: %+v", i, o)
					}
				}
				if sk.sent != 2*k.sent || len(sk.latencies) != 2*k.recv {
					t.Errorf("sent %d, received %d; want %d, %d", sk.sent, len(sk.latencies), 2*k.sent, 2*k.recv)
				}
			})
		}
	}
}

// TestNoReflection: a server without the reflection service needs --proto,
// and says so.
func TestNoReflection(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	pb.RegisterShopServiceServer(gs, pb.UnimplementedShopServiceServer{})
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)

	_, err = New(testCtx(t), Options{Target: ln.Addr().String(), Call: shop + "GetProduct"})
	if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "does not offer reflection") || !strings.Contains(err.Error(), "--proto") {
		t.Fatalf("New without reflection = %v", err)
	}
	d := newDriver(t, Options{Target: ln.Addr().String(), Call: shop + "GetProduct", Data: `{"id": 1}`,
		ProtoFiles: []string{"loadrig/v1/shop.proto"}, ImportPaths: []string{protoDir}})
	if o := do(t, d, 1, nil)[0]; o.Err != "grpc_unimplemented" {
		t.Errorf("unimplemented method: %+v", o)
	}
}

// TestUnreachable: with --proto, a target nobody listens on is measured as
// errors, not a failure to start.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	d := newDriver(t, Options{Target: addr, Call: shop + "GetProduct", Data: `{"id": 1}`,
		ProtoFiles: []string{"loadrig/v1/shop.proto"}, ImportPaths: []string{protoDir}})
	if o := do(t, d, 1, nil)[0]; o.Err != metrics.ErrRefused {
		t.Errorf("refused target: %+v", o)
	}
}

// TestHeaderProbes: headers stop being read after headerProbes calls
// without x-cache, and keep being read while x-cache comes.
func TestHeaderProbes(t *testing.T) {
	t.Parallel()
	tg := newTarget(t, grpcsrv.Options{})
	d := newDriver(t, Options{Target: tg.addr, Call: shop + "GetProduct", Data: `{"id": 1}`})
	outs := do(t, d, 3*headerProbes, nil)
	for i, o := range outs {
		if o.Cache != metrics.CacheHit {
			t.Fatalf("op %d: cache %v, want hit on every call (x-cache is sent)", i, o.Cache)
		}
	}
	// The health service sends no x-cache.
	d = newDriver(t, Options{Target: tg.addr, Call: "grpc.health.v1.Health/Check"})
	w, err := d.NewWorker(testCtx(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range headerProbes + 2 {
		if o := w.Do(testCtx(t), load.NewOp(uint64(i), nil)); o.Err != metrics.OK || o.Cache != metrics.CacheUnknown {
			t.Fatalf("health op %d: %+v", i, o)
		}
	}
	if p := w.(*worker).probes; p != headerProbes {
		t.Errorf("probes = %d, want %d (stopped reading headers)", p, headerProbes)
	}
}

// TestStreamArrays: a JSON array gives one message per element on client
// and bidi streams.
func TestStreamArrays(t *testing.T) {
	t.Parallel()
	tg := newTarget(t, grpcsrv.Options{})
	texts := func(product int64) []string {
		rs, err := tg.cat.ProductReviews(testCtx(t), product, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rs {
			if r.Text != "" && strings.HasPrefix(r.Text, "m") {
				out = append(out, r.Text)
			}
		}
		return out
	}
	// Constant array, StreamMessages from its length.
	d := newDriver(t, Options{Target: tg.addr, Call: shop + "UploadReviews", Metadata: tg.auth,
		Data: `[{"product_id": 8, "author_id": 1, "rating": 5, "text": "m1"}, {"product_id": 8, "author_id": 1, "rating": 4, "text": "m2"}, {"product_id": 8, "author_id": 1, "rating": 3, "text": "m3"}]`})
	var sk sink
	if o := do(t, d, 1, &sk)[0]; o.Err != metrics.OK || sk.sent != 3 {
		t.Fatalf("constant array: %+v, sent %d", o, sk.sent)
	}
	if got := strings.Join(texts(8), ","); got != "m1,m2,m3" {
		t.Errorf("stored %q, want m1,m2,m3 in order", got)
	}
	// Templated array, cycled to 5 messages.
	d = newDriver(t, Options{Target: tg.addr, Call: shop + "UploadReviews", Metadata: tg.auth, StreamMessages: 5,
		Data: `[{"product_id": 9, "author_id": 1, "rating": 5, "text": "ma{{.Seq}}"}, {"product_id": 9, "author_id": 1, "rating": 5, "text": "mb{{.Seq}}"}]`})
	if o := do(t, d, 1, nil)[0]; o.Err != metrics.OK {
		t.Fatalf("templated array: %+v", o)
	}
	if got := strings.Join(texts(9), ","); got != "ma0,mb0,ma0,mb0,ma0" {
		t.Errorf("stored %q, want ma0,mb0,ma0,mb0,ma0", got)
	}
	// Bidi with an array: one acknowledgement per element.
	d = newDriver(t, Options{Target: tg.addr, Call: shop + "WatchPrices", Data: `[{"product_ids": [1]}, {"product_ids": [2, 3]}]`})
	sk = sink{}
	if o := do(t, d, 1, &sk)[0]; o.Err != metrics.OK || sk.sent != 2 || len(sk.latencies) != 2 {
		t.Errorf("bidi array: %+v, sent %d, received %d", o, sk.sent, len(sk.latencies))
	}
	// Bad arrays are usage errors naming the element.
	for data, want := range map[string]string{
		`[]`:                            "empty JSON array",
		`[{"product_id": 1}, {"x": 1}]`: "(element 1) is not valid JSON",
		`[{"product_id": 1}`:            "not a valid JSON array",
	} {
		_, err := New(testCtx(t), Options{Target: tg.addr, Call: shop + "UploadReviews", Metadata: tg.auth, Data: data})
		if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), want) {
			t.Errorf("data %s: %v, want %q", data, err, want)
		}
	}
	// On a unary call an array is just invalid data.
	if _, err := New(testCtx(t), Options{Target: tg.addr, Call: shop + "GetProduct", Data: `[{"id": 1}]`}); !errors.Is(err, ErrUsage) {
		t.Errorf("array on unary: %v", err)
	}
}

// TestBidiSendError: a bidi message the driver cannot build (a row that
// renders to bad JSON) is classified by that cause, not as "canceled" by
// the cancellation that stops the receiver.
func TestBidiSendError(t *testing.T) {
	t.Parallel()
	tg := newTarget(t, grpcsrv.Options{})
	rows, err := tmpl.NewData("rows", []string{"v"}, [][]string{{"1"}, {"x"}})
	if err != nil {
		t.Fatal(err)
	}
	d := newDriver(t, Options{Target: tg.addr, Call: shop + "WatchPrices", Data: `{"product_ids": [{{.Row.v}}]}`, Rows: rows, StreamMessages: 2})
	outs := do(t, d, 2, nil)
	if outs[0].Err != metrics.OK || outs[1].Err != ErrBadRequestData {
		t.Errorf("outcomes %+v; want ok, then bad_request_data", outs)
	}
}
