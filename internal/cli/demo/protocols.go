package demo

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/loadrig/loadrig/internal/cache/rediscache"
	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/load/grpcdrv"
	"github.com/loadrig/loadrig/internal/load/httpdrv"
	"github.com/loadrig/loadrig/internal/load/tmpl"
	"github.com/loadrig/loadrig/internal/metrics"
	"github.com/loadrig/loadrig/internal/profile"
	"github.com/loadrig/loadrig/internal/server"
	"github.com/loadrig/loadrig/internal/server/grpcsrv"
	"github.com/loadrig/loadrig/internal/server/rest"
	"github.com/loadrig/loadrig/internal/server/stack"
)

// Protocol labels of the protocols section (table columns, result files).
const (
	protoREST = "rest"
	protoGRPC = "grpc"
)

// protoServers is the protocols section's one stack served twice: the REST
// server and the gRPC server over the same store and cache (like `loadrig
// serve all`), each behind a byte-counting listener.
type protoServers struct {
	st       *stack.Stack
	rest     *server.HTTP
	restH    *rest.Handler
	grpc     *grpcsrv.Server
	restWire *wireCount
	grpcWire *wireCount
}

func startProtoServers(ctx context.Context, pp *profile.ProtocolPlan, redis *rediscache.Instance, log *slog.Logger) (*protoServers, error) {
	cfg := stackConfig(pp.Server, redis, "demo:protocols:"+fmt.Sprint(time.Now().UnixNano())+":", log)
	st, err := stack.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	ps := &protoServers{st: st, restWire: &wireCount{}, grpcWire: &wireCount{}}
	fail := func(err error) (*protoServers, error) {
		ps.close(ctx)
		return nil, err
	}
	conns := &server.ConnStats{}
	var maxAge time.Duration
	if pp.Server.MaxAge != nil {
		maxAge = pp.Server.MaxAge.D()
	}
	d := st.Deps()
	d.Logger = log
	sp := server.NewSpine(server.SpineOptions{Logger: log, Limiter: d.Limiter, Stats: d.Stats, Conns: conns})
	ps.restH = rest.New(sp, d, rest.Options{MaxAge: maxAge})
	ps.rest = server.NewHTTP(server.HTTPOptions{Name: "rest-protocols", Handler: sp, Conns: conns, Logger: log})
	ln, err := server.Listen("127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	if err := ps.rest.Serve(countingListener{Listener: ln, c: ps.restWire}); err != nil {
		_ = ln.Close()
		return fail(err)
	}
	// Listener accounting, as `serve all --grpc-accounting listener`: the
	// stats.Handler's per-call events would be a cost the REST server does
	// not pay.
	ps.grpc, err = grpcsrv.New(grpcsrv.Options{
		Catalog: d.Catalog, Auth: d.Auth, Login: d.Login, Feed: d.Feed, Limiter: d.Limiter, Logger: log,
		ExtraStats: d.Stats, ListenerAccounting: true,
	})
	if err != nil {
		return fail(err)
	}
	gln, err := server.Listen("127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	if err := ps.grpc.Serve(countingListener{Listener: gln, c: ps.grpcWire}); err != nil {
		_ = gln.Close()
		return fail(err)
	}
	return ps, nil
}

func (ps *protoServers) close(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if ps.rest != nil {
		_ = ps.rest.Shutdown(sctx)
	}
	if ps.grpc != nil {
		_ = ps.grpc.Shutdown(sctx)
	}
	return ps.st.Close(sctx)
}

// wireCount counts the bytes a server reads from and writes to its
// connections: HTTP/1.1 headers and bodies, or HTTP/2 frames (HPACK
// headers, DATA, trailers, SETTINGS, PINGs, WINDOW_UPDATEs).
type wireCount struct{ in, out atomic.Int64 }

func (w *wireCount) total() int64 { return w.in.Load() + w.out.Load() }

type countingListener struct {
	net.Listener
	c *wireCount
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, c: l.c}, nil
}

type countingConn struct {
	net.Conn
	c *wireCount
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.c.in.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.c.out.Add(int64(n))
	return n, err
}

// cellResult is one protocols cell: a run plus what was measured around it.
type cellResult struct {
	op       string
	size     profile.ByteSize
	protocol string
	res      *metrics.Result
	// wireBytes is what the server read and wrote on its connections during
	// the measured run.
	wireBytes int64
	// cpu is the process's CPU time during the measured run; -1 unknown.
	cpu time.Duration
	// bodyBytes and gzipBytes are one sample REST response body, raw and
	// gzipped (compress/gzip, default level); 0 for gRPC.
	bodyBytes, gzipBytes int
	err                  error
}

// ops is the number of operations of the measured run (errors included).
func (c cellResult) ops() int64 {
	if c.res == nil {
		return 0
	}
	return c.res.Requests.Total
}

// name labels the cell's result file: protocols-get-1KB-rest.json.
func (c cellResult) name() string {
	return "protocols-" + c.op + "-" + c.size.String() + "-" + c.protocol
}

// runProtocols runs every cell of the protocols section: for each
// operation and size, REST then gRPC, against one server stack.
func runProtocols(ctx context.Context, opts *Options, pp *profile.ProtocolPlan, redis *rediscache.Instance, log *slog.Logger) ([]cellResult, error) {
	ps, err := startProtoServers(ctx, pp, redis, log)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := ps.close(ctx); err != nil {
			fmt.Fprintf(opts.IO.ErrOut, "      warning: the protocols stack did not drain cleanly: %v\n", err)
		}
	}()
	rows := make([][]string, len(pp.Keys))
	for i, id := range pp.Keys {
		rows[i] = []string{fmt.Sprint(id)}
	}
	data, err := tmpl.NewData("protocol keys", []string{"id"}, rows)
	if err != nil {
		return nil, err
	}
	var cells []cellResult
	n := 0
	for _, op := range pp.Operations {
		for _, size := range pp.Sizes {
			for _, proto := range []string{protoREST, protoGRPC} {
				n++
				c := cellResult{op: op, size: size, protocol: proto, cpu: -1}
				fmt.Fprintf(opts.IO.ErrOut, "[%d/%d] %-5s %-6s %-4s ", n, pp.Cells(), op, size, proto)
				c = runCell(ctx, opts, pp, ps, data, c)
				if c.err != nil {
					if ctx.Err() != nil {
						fmt.Fprintln(opts.IO.ErrOut, "interrupted")
						return cells, nil
					}
					fmt.Fprintf(opts.IO.ErrOut, "failed: %v\n", c.err)
				} else {
					fmt.Fprintf(opts.IO.ErrOut, "%.0f ops/s, p50 %s, p99 %s, %s B/op, CPU %s µs/op, errors %d\n",
						c.res.ThroughputRPS, us(c.res.Latency.P50), us(c.res.Latency.P99),
						perOp(float64(c.wireBytes), c.ops()), cpuPerOp(c), c.res.Requests.Errors)
					if opts.OutDir != "" {
						path := filepath.Join(opts.OutDir, c.name()+".json")
						if err := cmdutil.WriteFile(path, c.res.Write); err != nil {
							return cells, err
						}
					}
				}
				cells = append(cells, c)
				if c.res != nil && c.res.StopReason == metrics.StopInterrupted || ctx.Err() != nil {
					return cells, nil
				}
			}
		}
	}
	return cells, nil
}

// newCellDriver builds the driver of one cell.
func newCellDriver(ctx context.Context, pp *profile.ProtocolPlan, ps *protoServers, data *tmpl.Data, c cellResult) (load.Driver, error) {
	pad := pp.Pad(c.op, c.size)
	switch {
	case c.protocol == protoREST && c.op == profile.OpGet:
		return httpdrv.New(httpdrv.Options{
			URL: fmt.Sprintf("%s/api/products/{{.id}}?pad=%d", ps.rest.URL(), pad), CacheHeader: "X-Cache",
			Data: data, RowMode: tmpl.RowRoundRobin, Seed: 1,
		})
	case c.protocol == protoREST:
		return httpdrv.New(httpdrv.Options{
			URL: fmt.Sprintf("%s/api/products?limit=%d&pad=%d", ps.rest.URL(), pp.ListLimit, pad), CacheHeader: "X-Cache",
		})
	case c.op == profile.OpGet:
		return grpcdrv.New(ctx, grpcdrv.Options{
			Target: ps.grpc.Addr().String(), Call: "loadrig.v1.ShopService/GetProduct",
			Data: fmt.Sprintf(`{"id": {{.Row.id}}, "pad_bytes": %d}`, pad), Rows: data, RowMode: tmpl.RowRoundRobin, Seed: 1,
			Connections: pp.GRPCConnections,
		})
	default:
		return grpcdrv.New(ctx, grpcdrv.Options{
			Target: ps.grpc.Addr().String(), Call: "loadrig.v1.ShopService/ListProducts",
			Data:        fmt.Sprintf(`{"page_size": %d, "pad_bytes": %d}`, pp.ListLimit, pad),
			Connections: pp.GRPCConnections,
		})
	}
}

// runCell warms the cell up in a run of its own, then measures a second
// run with the process CPU time and the server's wire bytes read around
// it, so neither includes the warm-up, the driver's start (gRPC reflection)
// or the sample request.
func runCell(ctx context.Context, opts *Options, pp *profile.ProtocolPlan, ps *protoServers, data *tmpl.Data, c cellResult) cellResult {
	d, err := newCellDriver(ctx, pp, ps, data, c)
	if err != nil {
		c.err = err
		return c
	}
	defer d.Close()
	if c.protocol == protoREST {
		if c.bodyBytes, c.gzipBytes, err = sampleBody(ctx, pp, ps, c); err != nil {
			c.err = err
			return c
		}
	}
	run := opts.Runner
	if run == nil {
		run = load.Run
	}
	cfg := pp.Load
	if cfg.Warmup > 0 {
		wcfg := cfg
		wcfg.Duration, wcfg.Warmup = cfg.Warmup, 0
		if _, err := run(ctx, d, wcfg); err != nil {
			c.err = err
			return c
		}
	}
	cfg.Warmup = 0
	wire := ps.restWire
	if c.protocol == protoGRPC {
		wire = ps.grpcWire
	}
	w0, cpu0 := wire.total(), processCPU()
	res, err := run(ctx, d, cfg)
	cpu1, w1 := processCPU(), wire.total()
	if err != nil {
		c.err = err
		return c
	}
	c.res, c.wireBytes = res, w1-w0
	if cpu0 >= 0 && cpu1 >= 0 {
		c.cpu = cpu1 - cpu0
	}
	res.Name = c.name()
	res.ToolVersion = opts.BuildInfo.Version
	if cc, ok := d.(load.ConnCounter); ok {
		res.Connections = cc.Connections()
	}
	if c.protocol == protoREST {
		res.Server = ps.restH.Stats()
	} else {
		res.Server = ps.grpc.Stats()
	}
	cell := map[string]any{
		"operation": c.op, "payload_bytes": int(c.size), "pad": pp.Pad(c.op, c.size),
		"wire_bytes":     c.wireBytes,
		"wire_note":      "bytes the server read and wrote on its connections during the measured run (headers and framing included)",
		"process_cpu_us": c.cpu.Microseconds(),
		"cpu_note":       "user+system CPU of the whole loadrig process (load generator and both servers) during the measured run",
	}
	if c.bodyBytes > 0 {
		cell["sample_body_bytes"], cell["sample_body_gzip_bytes"] = c.bodyBytes, c.gzipBytes
	}
	res.Server["demo_protocols_cell"] = cell
	return c
}

// sampleBody fetches one REST response of the cell and gzips its body, to
// show what compression would save. The run itself is uncompressed: the
// HTTP driver sends no Accept-Encoding and the server does not compress.
func sampleBody(ctx context.Context, pp *profile.ProtocolPlan, ps *protoServers, c cellResult) (raw, gz int, err error) {
	pad := pp.Pad(c.op, c.size)
	url := fmt.Sprintf("%s/api/products?limit=%d&pad=%d", ps.rest.URL(), pp.ListLimit, pad)
	if c.op == profile.OpGet {
		url = fmt.Sprintf("%s/api/products/%d?pad=%d", ps.rest.URL(), pp.Keys[0], pad)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("sample response: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("sample response: status %d, %v", resp.StatusCode, err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(body)
	if err := zw.Close(); err != nil {
		return 0, 0, err
	}
	return len(body), buf.Len(), nil
}
