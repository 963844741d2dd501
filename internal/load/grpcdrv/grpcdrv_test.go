package grpcdrv

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/loadrig/loadrig/internal/gen/loadrig/v1"
	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/load/tmpl"
	"github.com/loadrig/loadrig/internal/metrics"
	"github.com/loadrig/loadrig/internal/server/grpcsrv"
)

const shop = "loadrig.v1.ShopService/"

func TestUnaryReflectionAndProto(t *testing.T) {
	t.Parallel()
	tg := newTarget(t, grpcsrv.Options{})
	for name, opts := range map[string]Options{
		"reflection": {Target: tg.addr, Call: shop + "GetProduct", Data: `{"id": 7, "pad_bytes": 64}`},
		"proto":      {Target: tg.addr, Call: "/loadrig.v1.ShopService/GetProduct", Data: `{"id": "7", "padBytes": 64}`, ProtoFiles: []string{"loadrig/v1/shop.proto"}, ImportPaths: []string{protoDir}},
	} {
		t.Run(name, func(t *testing.T) {
			d := newDriver(t, opts)
			if d.Kind() != Unary || d.Protocol() != "grpc" || d.Target() != tg.addr {
				t.Fatalf("kind %v protocol %s target %s", d.Kind(), d.Protocol(), d.Target())
			}
			for i, o := range do(t, d, 5, nil) {
				if o.Err != metrics.OK || o.Cache != metrics.CacheHit || o.BytesSent != 4 || o.BytesReceived < 64 {
					t.Errorf("op %d: %+v", i, o)
				}
			}
		})
	}
}

func TestUnaryTemplatedAndErrorKinds(t *testing.T) {
	t.Parallel()
	tg := newTarget(t, grpcsrv.Options{})
	// {{.Seq}} is 0 for the first op: id 0 is InvalidArgument; 1..4 exist;
	// 1000+ does not.
	d := newDriver(t, Options{Target: tg.addr, Call: shop + "GetProduct", Data: `{"id": {{.Seq}}}`})
	outs := do(t, d, 3, nil)
	if outs[0].Err != "grpc_invalid_argument" || outs[1].Err != metrics.OK || outs[2].Err != metrics.OK {
		t.Errorf("outcomes %+v", outs)
	}
	d = newDriver(t, Options{Target: tg.addr, Call: shop + "GetProduct", Data: `{"id": {{randInt 1000 2000}}}`})
	if o := do(t, d, 1, nil)[0]; o.Err != "grpc_not_found" {
		t.Errorf("missing product: %+v", o)
	}
	// Metadata reaches the server: cache-control: no-cache bypasses.
	d = newDriver(t, Options{Target: tg.addr, Call: shop + "GetProduct", Data: `{"id": 1}`, Metadata: []string{"cache-control: no-cache", "x-request-id=abc"}})
	if o := do(t, d, 1, nil)[0]; o.Err != metrics.OK || o.Cache != metrics.CacheOther {
		t.Errorf("bypass: %+v", o)
	}
	// A rendering that no longer fits the message fails that op only.
	rows, err := tmpl.NewData("rows", []string{"v"}, [][]string{{"1"}, {"x"}})
	if err != nil {
		t.Fatal(err)
	}
	d = newDriver(t, Options{Target: tg.addr, Call: shop + "GetProduct", Data: `{"id": {{.Row.v}}}`, Rows: rows})
	outs = do(t, d, 3, nil)
	if outs[0].Err != metrics.OK || outs[1].Err != ErrBadRequestData || outs[2].Err != metrics.OK {
		t.Errorf("row-driven outcomes %+v", outs)
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	tg := newTarget(t, grpcsrv.Options{})
	cases := []struct {
		opts Options
		want string
	}{
		{Options{Target: tg.addr, Call: shop + "GetProdut"}, "unknown method loadrig.v1.ShopService/GetProdut; available: loadrig.v1.ShopService/GetProduct, loadrig.v1.ShopService/ListProducts"},
		{Options{Target: tg.addr, Call: "loadrig.v1.NoService/Get"}, "unknown service loadrig.v1.NoService; available: grpc.health.v1.Health"},
		{Options{Target: tg.addr, Call: "GetProduct"}, "is not pkg.Service/Method"},
		{Options{Target: tg.addr, Call: shop + "GetProduct", Data: `{"idd": 1}`}, `not valid JSON for loadrig.v1.GetProductRequest`},
		{Options{Target: tg.addr, Call: shop + "GetProduct", Data: `{"id": 1`}, `not valid JSON`},
		{Options{Target: tg.addr, Call: shop + "GetProduct", Data: `{"id": "{{.Seq}}x"}`}, `rendered for operation 0`},
		{Options{Target: tg.addr, Call: shop + "GetProduct", Data: `{{bogus}}`}, `request data`},
		{Options{Target: tg.addr, Call: shop + "GetProduct", Metadata: []string{"novalue"}}, `metadata "novalue"`},
		{Options{Target: tg.addr, Call: shop + "Nope", ProtoFiles: []string{"loadrig/v1/shop.proto"}, ImportPaths: []string{protoDir}}, "unknown method loadrig.v1.ShopService/Nope"},
		{Options{Target: tg.addr, Call: shop + "GetProduct", ProtoFiles: []string{"missing.proto"}, ImportPaths: []string{protoDir}}, "compile missing.proto"},
		{Options{Call: shop + "GetProduct"}, "target"},
	}
	for _, c := range cases {
		_, err := New(testCtx(t), c.opts)
		if err == nil || !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v; want a usage error containing %q", c.opts, err, c.want)
		}
	}
}

func TestServerStream(t *testing.T) {
	t.Parallel()
	tg := newTarget(t, grpcsrv.Options{})
	d := newDriver(t, Options{Target: tg.addr, Call: shop + "ListProducts", Data: `{"page_size": 12}`})
	if d.Kind() != ServerStream {
		t.Fatalf("kind = %v", d.Kind())
	}
	var sk sink
	outs := do(t, d, 2, &sk)
	for _, o := range outs {
		if o.Err != metrics.OK || o.BytesReceived == 0 {
			t.Errorf("outcome %+v", o)
		}
	}
	if len(sk.latencies) != 24 || sk.sent != 2 {
		t.Errorf("received %d messages, sent %d; want 24 and 2", len(sk.latencies), sk.sent)
	}
	for _, l := range sk.latencies {
		if l < 0 || l > 10*time.Second {
			t.Errorf("one-way latency %v out of range", l)
		}
	}
	// --stream-messages on a server stream stops reading early.
	d = newDriver(t, Options{Target: tg.addr, Call: shop + "ListProducts", Data: `{"page_size": 12}`, StreamMessages: 5})
	sk = sink{}
	if o := do(t, d, 1, &sk)[0]; o.Err != metrics.OK || len(sk.latencies) != 5 {
		t.Errorf("limited stream: %+v, %d messages", o, len(sk.latencies))
	}
}

func TestClientStream(t *testing.T) {
	t.Parallel()
	tg := newTarget(t, grpcsrv.Options{})
	before, err := tg.cat.ProductReviews(testCtx(t), 3, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	d := newDriver(t, Options{Target: tg.addr, Call: shop + "UploadReviews", Metadata: tg.auth,
		Data: `{"product_id": 3, "author_id": {{randInt 0 1}}, "rating": 4, "text": "op {{.Seq}}"}`, StreamMessages: 7})
	var sk sink
	outs := do(t, d, 2, &sk)
	for _, o := range outs {
		if o.Err != metrics.OK || o.BytesReceived == 0 || o.BytesSent == 0 {
			t.Errorf("outcome %+v", o)
		}
	}
	after, err := tg.cat.ProductReviews(testCtx(t), 3, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(after)-len(before) != 14 || sk.sent != 14 {
		t.Errorf("stored %d reviews, sent %d; want 14 and 14", len(after)-len(before), sk.sent)
	}
	if txt := after[len(after)-1].Text; txt != "op 1" {
		t.Errorf("last review text %q, want templated %q", txt, "op 1")
	}
	// A rejected review ends the stream with the server's status.
	d = newDriver(t, Options{Target: tg.addr, Call: shop + "UploadReviews", Metadata: tg.auth, Data: `{"product_id": 3, "author_id": 1, "rating": 9}`, StreamMessages: 3})
	if o := do(t, d, 1, nil)[0]; o.Err != "grpc_invalid_argument" {
		t.Errorf("bad rating: %+v", o)
	}
}

func TestBidiStream(t *testing.T) {
	t.Parallel()
	tg := newTarget(t, grpcsrv.Options{})
	d := newDriver(t, Options{Target: tg.addr, Call: shop + "WatchPrices", Data: `{"product_ids": [{{randInt 1 50}}]}`, StreamMessages: 4, StreamInterval: time.Millisecond})
	if d.Kind() != BidiStream || d.reqSentAt == 0 || d.respEcho == 0 || d.respSentAt == 0 {
		t.Fatalf("kind %v, timestamp fields %d %d %d", d.Kind(), d.reqSentAt, d.respEcho, d.respSentAt)
	}
	var sk sink
	for i, o := range do(t, d, 3, &sk) {
		if o.Err != metrics.OK || o.BytesReceived == 0 {
			t.Errorf("op %d: %+v", i, o)
		}
	}
	if sk.sent != 12 || len(sk.latencies) != 12 {
		t.Errorf("sent %d, received %d; want 12 acks for 12 requests", sk.sent, len(sk.latencies))
	}
	for _, l := range sk.latencies {
		if l <= 0 || l > 10*time.Second {
			t.Errorf("round trip %v out of range", l)
		}
	}
}

func TestMaxSizes(t *testing.T) {
	t.Parallel()
	tg := newTarget(t, grpcsrv.Options{MaxRecvMsgSize: 1024})
	// The server rejects a request over its receive limit...
	d := newDriver(t, Options{Target: tg.addr, Call: shop + "UploadReviews", Metadata: tg.auth,
		Data: `{"product_id": 1, "author_id": 1, "rating": 5, "text": "` + strings.Repeat("x", 2000) + `"}`, StreamMessages: 1})
	if o := do(t, d, 1, nil)[0]; o.Err != "grpc_resource_exhausted" {
		t.Errorf("oversized request: %+v", o)
	}
	// ...and the driver one over its own.
	d = newDriver(t, Options{Target: tg.addr, Call: shop + "GetProduct", Data: `{"id": 1, "pad_bytes": 5000}`, MaxRecvMsgSize: 4096})
	if o := do(t, d, 1, nil)[0]; o.Err != "grpc_resource_exhausted" {
		t.Errorf("oversized response: %+v", o)
	}
}

func TestRunThroughEngine(t *testing.T) {
	t.Parallel()
	tg := newTarget(t, grpcsrv.Options{})
	d := newDriver(t, Options{Target: tg.addr, Call: shop + "GetProduct", Data: `{"id": {{zipf 1.1 1 50}}}`, Connections: 2})
	res, err := load.Run(testCtx(t), d, load.Config{Concurrency: 4, Requests: 200, CacheSource: "x-cache"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Protocol != "grpc" || res.Requests.OK != 200 || res.Requests.Errors != 0 {
		t.Errorf("result: protocol %s, requests %+v", res.Protocol, res.Requests)
	}
	if res.Connections.Opened != 2 || res.Connections.PeakOpen != 2 {
		t.Errorf("connections %+v, want 2 opened", res.Connections)
	}
	if res.Cache == nil || res.Cache.Hits != 200 {
		t.Errorf("cache %+v, want 200 hits", res.Cache)
	}
	if c := tg.srv.Stats()["connections"].(map[string]int64); c["total"] != 2 {
		t.Errorf("server saw %d connections, want 2", c["total"])
	}

	// A bidi run records per-message latency in the result.
	d = newDriver(t, Options{Target: tg.addr, Call: shop + "WatchPrices", Data: `{"product_ids": [1]}`, StreamMessages: 3})
	res, err = load.Run(testCtx(t), d, load.Config{Concurrency: 2, Requests: 10})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests.OK != 10 || res.Messages == nil || res.Messages.Sent != 30 || res.Messages.Received != 30 || res.MessageLatency == nil || res.MessageLatency.N != 30 {
		t.Errorf("bidi result: requests %+v messages %+v latency %+v", res.Requests, res.Messages, res.MessageLatency)
	}
}

func TestTimestampWire(t *testing.T) {
	t.Parallel()
	at := time.Unix(1764000000, 123456789)
	base, _ := proto.Marshal(&pb.UploadReviewsRequest{ProductId: 5, Text: "hi", SentAt: timestamppb.New(time.Unix(1, 1))})
	b := appendTimestampField(base, 5, at)
	var m pb.UploadReviewsRequest
	if err := proto.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if !m.GetSentAt().AsTime().Equal(at) || m.GetProductId() != 5 || m.GetText() != "hi" {
		t.Errorf("stamped message = %v", &m)
	}

	resp, _ := proto.Marshal(&pb.WatchPricesResponse{ProductId: 3, SentAt: timestamppb.New(at), RequestSentAt: timestamppb.New(at.Add(-time.Second))})
	in := inMsg{sentAtNum: 6, echoNum: 7}
	if err := in.scan(resp); err != nil || !in.hasSent || !in.hasEcho || !in.sentAt.Equal(at) || !in.echo.Equal(at.Add(-time.Second)) || in.n != len(resp) {
		t.Errorf("scan: %v %+v", err, in)
	}
	if err := in.scan(resp[:len(resp)-1]); err == nil {
		t.Error("truncated message scanned without error")
	}
}

func FuzzScan(f *testing.F) {
	resp, _ := proto.Marshal(&pb.WatchPricesResponse{ProductId: 3, SentAt: timestamppb.Now()})
	f.Add(resp)
	f.Add([]byte{0x32, 0x02, 0x08})
	f.Fuzz(func(t *testing.T, b []byte) {
		in := inMsg{sentAtNum: 6, echoNum: 7}
		err := in.scan(b)
		var m pb.WatchPricesResponse
		if err == nil && proto.Unmarshal(b, &m) == nil && in.hasSent != (m.SentAt != nil) {
			t.Errorf("scan found sent_at %v, proto %v", in.hasSent, m.SentAt != nil)
		}
	})
}
