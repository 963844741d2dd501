package demo

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/cli/iostreams"
	"github.com/loadrig/loadrig/internal/metrics"
	"github.com/loadrig/loadrig/internal/profile"
	"github.com/loadrig/loadrig/internal/server/grpcsrv"
	"github.com/loadrig/loadrig/internal/server/rest"
)

func TestPadCapsAgree(t *testing.T) {
	t.Parallel()
	caps := []int{profile.MaxPadBytes, rest.DefaultMaxPadBytes, grpcsrv.DefaultMaxPadBytes}
	for _, c := range caps[1:] {
		if c != caps[0] {
			t.Fatalf("pad caps differ: profile %d, rest %d, grpc %d", caps[0], caps[1], caps[2])
		}
	}
}

func TestSectionFlag(t *testing.T) {
	t.Parallel()
	var fe *cmdutil.FlagError
	o, err := parse(t, "--section", "protocols", "--quick")
	if err != nil || o.Section != SectionProtocols {
		t.Fatalf("--section protocols: %v, %+v", err, o)
	}
	if o, _ := parse(t); o.Section != SectionAll {
		t.Errorf("default section %q", o.Section)
	}
	if _, err := parse(t, "--section", "grpc"); !errors.As(err, &fe) || !strings.Contains(err.Error(), "not one of cache, protocols, all") {
		t.Errorf("bad section: %v", err)
	}
	if _, err := parse(t, "--section", "protocols", "--variant", "lru"); !errors.As(err, &fe) {
		t.Errorf("--variant with --section protocols: %v", err)
	}
	pl, err := loadPlan(o)
	if err != nil || pl.Protocols == nil || pl.Protocols.Load.Duration >= time.Second {
		t.Fatalf("quick plan: %v, %+v", err, pl.Protocols)
	}
	noProto := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(noProto, []byte("version: 1\nname: x\nworkload: {rate: 1, duration: 1s, keys: {n: 1}, operations: [{name: r, weight: 1, path: /}]}\nvariants: [{name: a}]\n"), 0o644)
	if _, err := loadPlan(&Options{Profile: noProto, Section: SectionProtocols}); !errors.As(err, &fe) || !strings.Contains(err.Error(), "no protocols section") {
		t.Errorf("protocols section missing: %v", err)
	}
}

// TestProtocolsRun runs a shrunken protocols section end to end: one stack,
// the REST and gRPC servers on 127.0.0.1:0, both real drivers, a few
// hundred milliseconds per cell.
func TestProtocolsRun(t *testing.T) {
	ios, _, out, errOut := iostreams.Test()
	dir := t.TempDir()
	opts := &Options{
		IO: ios, OutDir: dir, Section: SectionProtocols,
		Tune: func(p *profile.Plan) {
			pp := p.Protocols
			pp.Load.Concurrency, pp.Load.Duration, pp.Load.Warmup = 2, 300*time.Millisecond, 100*time.Millisecond
			pp.Sizes = []profile.ByteSize{1000, 50000}
		},
	}
	if err := DemoRun(t.Context(), opts); err != nil {
		t.Fatalf("DemoRun: %v\nstderr:\n%s", err, errOut)
	}
	t.Logf("stdout:\n%s\nstderr:\n%s", out, errOut)
	table := out.String()
	for _, want := range []string{"REST/JSON", "gRPC/protobuf", "gRPC÷REST", "ops/s", "p50", "p99", "B/op", "gz B/op", "CPU µs/op", "faster",
		"closed model: 2 workers per cell", "note: get by ops/s: ", "note: list by CPU µs/op: "} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q", want)
		}
	}
	if strings.Contains(table, "variant") {
		t.Error("--section protocols printed the cache table")
	}
	lines := 0
	for _, l := range strings.Split(table, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || (f[0] != "get" && f[0] != "list") {
			continue
		}
		lines++
		// 16 figures, then "REST 1.20×" or "tie (<10%)".
		if len(f) != 18 || strings.Contains(l, " - ") || strings.Contains(l, "failed") {
			t.Errorf("row without a full set of figures: %q", l)
		}
	}
	if lines != 4 {
		t.Errorf("%d table rows, want 4 (2 operations × 2 sizes)", lines)
	}
	for _, op := range []string{"get", "list"} {
		for _, size := range []profile.ByteSize{1000, 50000} {
			for _, proto := range []string{protoREST, protoGRPC} {
				name := "protocols-" + op + "-" + size.String() + "-" + proto
				res, err := metrics.Load(filepath.Join(dir, name+".json"))
				if err != nil {
					t.Fatalf("result file of %s: %v", name, err)
				}
				if res.Name != name || res.Requests.OK == 0 || res.Requests.Errors != 0 || res.ThroughputRPS <= 0 || res.Latency.P50 <= 0 {
					t.Errorf("%s: name %q, %d ok, %d errors %v, %.0f/s, p50 %d", name, res.Name, res.Requests.OK, res.Requests.Errors, res.Requests.ErrorsByKind, res.ThroughputRPS, res.Latency.P50)
				}
				if res.Model.Kind != "closed" || res.Model.Concurrency != 2 {
					t.Errorf("%s: model %+v", name, res.Model)
				}
				cell, _ := res.Server["demo_protocols_cell"].(map[string]any)
				wire, _ := cell["wire_bytes"].(float64)
				// Every operation carried its payload: the filler is on the wire.
				if perOp := wire / float64(res.Requests.Total); perOp < float64(size) || perOp > float64(size)+4000 {
					t.Errorf("%s: %.0f wire bytes per operation for a %d-byte payload", name, perOp, size)
				}
				if cpu, _ := cell["process_cpu_us"].(float64); cpu <= 0 {
					t.Errorf("%s: process CPU %v", name, cell["process_cpu_us"])
				}
				if proto == protoREST {
					raw, _ := cell["sample_body_bytes"].(float64)
					gz, _ := cell["sample_body_gzip_bytes"].(float64)
					if raw < float64(size) || gz <= 0 || gz >= raw {
						t.Errorf("%s: sample body %v bytes, gzipped %v", name, raw, gz)
					}
				}
				if proto == protoGRPC && res.Protocol != "grpc" || proto == protoREST && res.Protocol != "http" {
					t.Errorf("%s: protocol %q", name, res.Protocol)
				}
			}
		}
	}
}

func cell(op string, size profile.ByteSize, proto string, rps float64, cpuUS int) cellResult {
	return cellResult{op: op, size: size, protocol: proto, cpu: time.Duration(cpuUS) * 100 * time.Microsecond, wireBytes: 1000,
		res: &metrics.Result{ThroughputRPS: rps, DurationS: 1, Requests: metrics.Requests{Total: 100, OK: 100}}}
}

func TestCrossovers(t *testing.T) {
	t.Parallel()
	cells := []cellResult{
		cell("get", 1000, protoREST, 1000, 20), cell("get", 1000, protoGRPC, 500, 40),
		cell("get", 10000, protoREST, 1000, 30), cell("get", 10000, protoGRPC, 1050, 30),
		cell("get", 100000, protoREST, 100, 200), cell("get", 100000, protoGRPC, 300, 100),
		cell("list", 1000, protoREST, 100, 50), cell("list", 1000, protoGRPC, 200, 100),
	}
	got := strings.Join(crossovers(pairCells(cells), byThroughput), "\n")
	want := "get by ops/s: REST ahead at 1KB; within 10% at 10KB; gRPC ahead at 100KB — the lead passes from REST to gRPC between 1KB and 100KB\n" +
		"list by ops/s: gRPC ahead at 1KB — no crossover within the sizes measured"
	if got != want {
		t.Errorf("crossovers by ops/s:\n%s\nwant:\n%s", got, want)
	}
	got = strings.Join(crossovers(pairCells(cells), byCPU), "\n")
	want = "get by CPU µs/op: REST cheaper at 1KB; within 10% at 10KB; gRPC cheaper at 100KB — the lead passes from REST to gRPC between 1KB and 100KB\n" +
		"list by CPU µs/op: REST cheaper at 1KB — no crossover within the sizes measured"
	if got != want {
		t.Errorf("crossovers by CPU:\n%s\nwant:\n%s", got, want)
	}
	if w, by := pairCells(cells)[0].winner(byThroughput); w != "REST" || by != 2 {
		t.Errorf("winner %s %.2f", w, by)
	}
	var fails []cellResult
	fails = append(fails, cells[0], cellResult{op: "get", size: 1000, protocol: protoGRPC, err: errors.New("boom")})
	if w, _ := pairCells(fails)[0].winner(byCPU); w != "" {
		t.Errorf("a failed cell has a winner: %q", w)
	}
}
