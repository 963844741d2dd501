package demo

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"text/tabwriter"

	"github.com/loadrig/loadrig/internal/metrics"
	"github.com/loadrig/loadrig/internal/profile"
	"github.com/loadrig/loadrig/internal/report"
)

// tieBand is the comparison's tie band (report.TieBand).
const tieBand = report.TieBand

// protoPair is one line of the protocols table: the REST and the gRPC cell
// of one operation at one size (either may be missing or failed).
type protoPair struct {
	op         string
	size       profile.ByteSize
	rest, grpc *cellResult
}

func pairCells(cells []cellResult) []protoPair {
	var pairs []protoPair
	for i := range cells {
		c := &cells[i]
		if len(pairs) == 0 || pairs[len(pairs)-1].op != c.op || pairs[len(pairs)-1].size != c.size {
			pairs = append(pairs, protoPair{op: c.op, size: c.size})
		}
		p := &pairs[len(pairs)-1]
		if c.protocol == protoREST {
			p.rest = c
		} else {
			p.grpc = c
		}
	}
	return pairs
}

func (c *cellResult) ok() bool { return c != nil && c.err == nil && c.res != nil && c.ops() > 0 }

func perOp(v float64, ops int64) string {
	if ops <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", v/float64(ops))
}

func cpuPerOp(c cellResult) string {
	if c.cpu < 0 || c.ops() <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", float64(c.cpu.Nanoseconds())/1e3/float64(c.ops()))
}

// gzPerOp is the REST cell's bytes per operation with the sample body's
// gzipped size in place of the body.
func gzPerOp(c *cellResult) string {
	if !c.ok() || c.bodyBytes == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", float64(c.wireBytes)/float64(c.ops())-float64(c.bodyBytes)+float64(c.gzipBytes))
}

// metric is a figure the crossover notes compare: gRPCAdvantage is how
// many times better gRPC did than REST (above 1: gRPC better), ok false when
// either side lacks the figure.
type metric struct {
	name          string // "ops/s"
	ahead         string // "ahead", for "gRPC ahead at 1KB"
	gRPCAdvantage func(p protoPair) (float64, bool)
}

var (
	byThroughput = metric{name: "ops/s", ahead: "ahead", gRPCAdvantage: func(p protoPair) (float64, bool) {
		if !p.rest.ok() || !p.grpc.ok() || p.rest.res.ThroughputRPS <= 0 || p.grpc.res.ThroughputRPS <= 0 {
			return 0, false
		}
		return p.grpc.res.ThroughputRPS / p.rest.res.ThroughputRPS, true
	}}
	byCPU = metric{name: "CPU µs/op", ahead: "cheaper", gRPCAdvantage: func(p protoPair) (float64, bool) {
		if !p.rest.ok() || !p.grpc.ok() || p.rest.cpu <= 0 || p.grpc.cpu <= 0 {
			return 0, false
		}
		rest := float64(p.rest.cpu) / float64(p.rest.ops())
		grpc := float64(p.grpc.cpu) / float64(p.grpc.ops())
		return rest / grpc, true
	}}
)

// winner names the protocol that did better by m and by how much, "tie"
// within tieBand, or "" when a side is missing (report.Lead).
func (p protoPair) winner(m metric) (string, float64) {
	r, ok := m.gRPCAdvantage(p)
	return report.Lead("REST", "gRPC", r, ok)
}

func ratioOf(g, r float64) string { return report.Ratio(g, r) }

// writeProtocolTable prints the protocols comparison and its notes.
func writeProtocolTable(w io.Writer, pp *profile.ProtocolPlan, cells []cellResult) error {
	conns := "1 connection"
	if pp.GRPCConnections != 1 {
		conns = fmt.Sprintf("%d connections", pp.GRPCConnections)
	}
	cache := "no cache"
	if pp.Server.Cache != nil && *pp.Server.Cache != "none" {
		cache = "one " + string(*pp.Server.Cache) + " cache"
	}
	fmt.Fprintf(w, "REST/JSON (HTTP/1.1, a connection per worker) vs gRPC/protobuf (HTTP/2, %s), one store and %s behind both;\n", conns, cache)
	fmt.Fprintf(w, "closed model: %d workers per cell, %v per cell after %v warm-up (latency is service time at that concurrency)\n\n",
		pp.Load.Concurrency, pp.Load.Duration, pp.Load.Warmup)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	// Group labels right-aligned over the last column of their group.
	group := make([]string, 17)
	group[7], group[12], group[15] = "REST/JSON", "gRPC/protobuf", "gRPC÷REST"
	fmt.Fprintln(tw, strings.Join(group, "\t")+"\t")
	fmt.Fprintln(tw, "op\tsize\tops/s\tp50\tp99\tB/op\tgz B/op\tCPU µs/op\tops/s\tp50\tp99\tB/op\tCPU µs/op\tops/s\tB/op\tCPU\tfaster\t")
	for _, p := range pairCells(cells) {
		var fields []string
		fields = append(fields, p.op, p.size.String())
		fields = append(fields, side(p.rest, true)...)
		fields = append(fields, side(p.grpc, false)...)
		if p.rest.ok() && p.grpc.ok() {
			fields = append(fields,
				ratioOf(p.grpc.res.ThroughputRPS, p.rest.res.ThroughputRPS),
				ratioOf(float64(p.grpc.wireBytes)/float64(p.grpc.ops()), float64(p.rest.wireBytes)/float64(p.rest.ops())),
				ratioOf(float64(p.grpc.cpu)/float64(p.grpc.ops()), float64(p.rest.cpu)/float64(p.rest.ops())))
		} else {
			fields = append(fields, "-", "-", "-")
		}
		win, by := p.winner(byThroughput)
		switch win {
		case "":
			win = "-"
		case "tie":
			win = "tie (<10%)"
		default:
			win = fmt.Sprintf("%s %.2f×", win, by)
		}
		fields = append(fields, win)
		fmt.Fprintln(tw, strings.Join(fields, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	notes := []string{
		fmt.Sprintf("size: filler bytes per operation, the same 'a'..'z' bytes in a JSON string (REST ?pad=N) and a protobuf bytes field (gRPC pad_bytes); a list spreads them over its %d products", pp.ListLimit),
		fmt.Sprintf("ops/s: completed operations per second; a list is one operation (REST: one response with %d products; gRPC: the whole ListProducts stream of %d messages)", pp.ListLimit, pp.ListLimit),
		"B/op: bytes the server read and wrote on its connections per operation, requests and responses, headers and framing included (HTTP/2 control frames too); nothing is compressed on the wire",
		"gz B/op: B/op with the REST response body replaced by its gzipped size (compress/gzip, default level, of one sample body; compression CPU not counted). The filler repeats every 26 bytes and compresses far better than real data, so at large sizes this is a best case",
		"CPU µs/op: user+system CPU time of the whole loadrig process during the cell ÷ operations (getrusage). The load generator and both servers share the process, so this is client and server together, including the drivers' own costs (neither decodes response payloads into objects); it cannot be split per side here",
		"REST is driven by loadrig's allocation-free HTTP/1.1 client (the HTTP driver's fast path), gRPC by grpc-go through loadrig's gRPC driver: at small sizes part of any gap is the clients, not the protocols",
		"gRPC÷REST: gRPC's figure over REST's (ops/s above 1: gRPC does more; B/op and CPU below 1: gRPC spends less); faster: the protocol with more ops/s, a tie within 10% — every cell is one short run on a shared machine, so gaps under ~15% are not reliable",
	}
	if lo, hi, ok := cpuUse(cells); ok {
		notes = append(notes, fmt.Sprintf("the process kept %.2f–%.2f of this machine's %d CPUs busy across the cells; client and servers compete for them, and whatever is left went to other processes or idle waiting, so ops/s moves with the machine's other load more than CPU µs/op does",
			lo, hi, runtime.NumCPU()))
	}
	notes = append(notes, crossovers(pairCells(cells), byThroughput)...)
	notes = append(notes, crossovers(pairCells(cells), byCPU)...)
	for _, c := range cells {
		switch {
		case c.err != nil:
			notes = append(notes, fmt.Sprintf("%s %s %s failed: %v", c.op, c.size, c.protocol, c.err))
		case c.res != nil && c.res.StopReason == metrics.StopInterrupted:
			notes = append(notes, fmt.Sprintf("%s %s %s was interrupted after %.1fs of measurement: its figures are partial", c.op, c.size, c.protocol, c.res.DurationS))
		case c.res != nil && c.res.Requests.Errors > 0:
			notes = append(notes, fmt.Sprintf("%s %s %s: %d of %d operations failed %v", c.op, c.size, c.protocol,
				c.res.Requests.Errors, c.res.Requests.Total, c.res.Requests.ErrorsByKind))
		}
	}
	_, err := fmt.Fprintln(w, "\n"+strings.Join(prefixEach(notes, "note: "), "\n"))
	return err
}

// side is one protocol's columns: ops/s, p50, p99, B/op, (gz B/op), CPU.
func side(c *cellResult, withGz bool) []string {
	n := 5
	if withGz {
		n = 6
	}
	if !c.ok() {
		out := make([]string, n)
		for i := range out {
			out[i] = "-"
		}
		if c != nil && c.err != nil {
			out[0] = "failed"
		}
		return out
	}
	out := []string{fmt.Sprintf("%.0f", c.res.ThroughputRPS), us(c.res.Latency.P50), us(c.res.Latency.P99),
		perOp(float64(c.wireBytes), c.ops())}
	if withGz {
		out = append(out, gzPerOp(c))
	}
	return append(out, cpuPerOp(*c))
}

// crossovers says, per operation, which protocol did better by m at which
// sizes and where the lead changed hands (report.Crossover).
func crossovers(pairs []protoPair, m metric) []string {
	var out []string
	var ops []string
	byOp := map[string][]report.LeadPoint{}
	for _, p := range pairs {
		if _, ok := byOp[p.op]; !ok {
			ops = append(ops, p.op)
		}
		win, _ := p.winner(m)
		byOp[p.op] = append(byOp[p.op], report.LeadPoint{At: p.size.String(), Winner: win})
	}
	for _, op := range ops {
		if line, ok := report.Crossover(op, m.name, m.ahead, byOp[op]); ok {
			out = append(out, line)
		}
	}
	return out
}

// cpuUse is the lowest and highest process CPU use (CPU-seconds per
// second) over the measured cells.
func cpuUse(cells []cellResult) (lo, hi float64, ok bool) {
	for i := range cells {
		c := &cells[i]
		if !c.ok() || c.cpu < 0 || c.res.DurationS <= 0 {
			continue
		}
		u := c.cpu.Seconds() / c.res.DurationS
		if !ok || u < lo {
			lo = u
		}
		if !ok || u > hi {
			hi = u
		}
		ok = true
	}
	return lo, hi, ok
}
