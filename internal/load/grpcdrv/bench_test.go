package grpcdrv

import (
	"context"
	"os"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/loadrig/loadrig/internal/gen/loadrig/v1"
	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/metrics"
	"github.com/loadrig/loadrig/internal/server/grpcsrv"
)

// BenchmarkUnary compares one GetProduct call through the driver's worker
// (constant and templated data) with the generated stub on the same server.
// allocs/op include the server's, which runs in the same process.
func BenchmarkUnary(b *testing.B) {
	tg := newTarget(b, grpcsrv.Options{})
	ctx := context.Background()
	for _, c := range []struct{ name, data string }{
		{"driver_const", `{"id": 7}`},
		{"driver_template", `{"id": {{randInt 1 50}}}`},
	} {
		b.Run(c.name, func(b *testing.B) {
			d := newDriver(b, Options{Target: tg.addr, Call: shop + "GetProduct", Data: c.data})
			w, err := d.NewWorker(ctx, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			op := load.NewOp(0, nil)
			b.ReportAllocs()
			for b.Loop() {
				if o := w.Do(ctx, op); o.Err != metrics.OK {
					b.Fatal(o.Err)
				}
			}
		})
	}
	b.Run("generated_stub", func(b *testing.B) {
		cc, err := grpc.NewClient(tg.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		defer cc.Close()
		client := pb.NewShopServiceClient(cc)
		req := &pb.GetProductRequest{Id: 7}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := client.GetProduct(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkUnaryExternal measures the driver alone against a server in
// another process: LOADRIG_BENCH_GRPC=host:port (helloworld.Greeter/SayHello,
// as ../shared/bench/target serves it). Skipped when unset.
func BenchmarkUnaryExternal(b *testing.B) {
	addr := os.Getenv("LOADRIG_BENCH_GRPC")
	if addr == "" {
		b.Skip("LOADRIG_BENCH_GRPC not set")
	}
	d := newDriver(b, Options{Target: addr, Call: "helloworld.Greeter/SayHello", Data: `{"name": "x"}`})
	w, err := d.NewWorker(context.Background(), 0)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	op := load.NewOp(0, nil)
	b.ReportAllocs()
	b.SetParallelism(50) // 50 workers per GOMAXPROCS, like the closed-loop runs
	b.RunParallel(func(pb *testing.PB) {
		w, err := d.NewWorker(context.Background(), 0)
		if err != nil {
			b.Error(err)
			return
		}
		defer w.Close()
		op := load.NewOp(0, nil)
		for pb.Next() {
			if o := w.Do(context.Background(), op); o.Err != metrics.OK {
				b.Error(o.Err)
				return
			}
		}
	})
	_ = w.Do(context.Background(), op)
}

// BenchmarkRunExternal is BenchmarkUnaryExternal through the engine: 50
// closed-loop workers on one connection, b.N calls.
func BenchmarkRunExternal(b *testing.B) {
	addr := os.Getenv("LOADRIG_BENCH_GRPC")
	if addr == "" {
		b.Skip("LOADRIG_BENCH_GRPC not set")
	}
	d := newDriver(b, Options{Target: addr, Call: "helloworld.Greeter/SayHello", Data: `{"name": "x"}`})
	b.ReportAllocs()
	b.ResetTimer()
	res, err := load.Run(context.Background(), d, load.Config{Concurrency: 50, Requests: int64(b.N)})
	if err != nil {
		b.Fatal(err)
	}
	if res.Requests.OK != int64(b.N) {
		b.Fatalf("%d of %d ok", res.Requests.OK, b.N)
	}
}
