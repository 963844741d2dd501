package profile

import (
	"strings"
	"testing"
	"time"

	"github.com/loadrig/loadrig/profiles"
)

func TestEmbeddedDemoProtocols(t *testing.T) {
	t.Parallel()
	p, err := Parse(profiles.DemoName, profiles.Demo)
	if err != nil {
		t.Fatal(err)
	}
	pp := p.Plan(false).Protocols
	if pp == nil {
		t.Fatal("the embedded demo has no protocols section")
	}
	if err := pp.Load.Validate(); err != nil {
		t.Fatalf("protocols load config: %v", err)
	}
	if pp.Load.Concurrency <= 0 || pp.Load.Rate != 0 {
		t.Errorf("protocols model: concurrency %d rate %v, want the closed model", pp.Load.Concurrency, pp.Load.Rate)
	}
	if got := strings.Join(pp.Operations, ","); got != "get,list" {
		t.Errorf("operations = %s", got)
	}
	want := []ByteSize{1000, 10000, 100000, 1000000}
	if len(pp.Sizes) != len(want) {
		t.Fatalf("sizes = %v", pp.Sizes)
	}
	for i := range want {
		if pp.Sizes[i] != want[i] {
			t.Errorf("size %d = %d, want %d", i, pp.Sizes[i], want[i])
		}
	}
	if *pp.Server.Cache != "lru" || pp.Server.StoreLatency.D() != 2*time.Millisecond {
		t.Errorf("protocols server = %+v (want lru over the profile's 2ms store)", pp.Server)
	}
	if pp.ListLimit != 10 || pp.Pad(OpList, 1000000) != 100000 || pp.Pad(OpGet, 1000) != 1000 {
		t.Errorf("list limit %d, pads %d / %d", pp.ListLimit, pp.Pad(OpList, 1000000), pp.Pad(OpGet, 1000))
	}
	if len(pp.Keys) != 1000 || pp.GRPCConnections != 1 {
		t.Errorf("%d keys, %d gRPC connections", len(pp.Keys), pp.GRPCConnections)
	}
	for _, id := range pp.Keys {
		if id < 1 || id > 100 {
			t.Fatalf("key %d outside 1..100", id)
		}
	}
	q := p.Plan(true)
	qp := q.Protocols
	if qp.Load.Duration >= pp.Load.Duration || len(qp.Sizes) >= len(pp.Sizes) {
		t.Errorf("quick protocols plan %v × %d sizes is not shorter than %v × %d", qp.Load.Duration, len(qp.Sizes), pp.Load.Duration, len(pp.Sizes))
	}
	// The whole quick demo (cache variants, then protocols) stays near the
	// 30-45 s promise: its load time, start-up aside.
	cache := time.Duration(len(q.Variants)) * (q.Load.Duration + q.Load.Warmup)
	if total := cache + qp.Length(); total > 45*time.Second {
		t.Errorf("quick demo runs %v of load (cache %v + protocols %v)", total, cache, qp.Length())
	}
	if !strings.Contains(qp.String(), "12 cells, closed model with 8 workers, 800ms each") {
		t.Errorf("quick plan description: %s", qp)
	}
}

const withProtocols = valid + `protocols:
  concurrency: 4
  duration: 1s
  keys: {n: 10}
  operations: [get, list]
  sizes: [2KiB, 1MB, 512]
  quick:
    duration: 200ms
    sizes: [100B]
`

func TestParseProtocols(t *testing.T) {
	t.Parallel()
	p, err := Parse("t.yaml", []byte(withProtocols))
	if err != nil {
		t.Fatal(err)
	}
	pp := p.Plan(false).Protocols
	if pp.Load.Concurrency != 4 || pp.Load.Duration != time.Second || pp.ListLimit != 10 || pp.GRPCConnections != 1 {
		t.Errorf("plan = %+v", pp)
	}
	if len(pp.Sizes) != 3 || pp.Sizes[0] != 2048 || pp.Sizes[1] != 1000000 || pp.Sizes[2] != 512 {
		t.Errorf("sizes = %v", pp.Sizes)
	}
	if *pp.Server.Cache != "lru" {
		t.Error("the section did not inherit the profile's server settings")
	}
	if pp.Cells() != 12 || pp.Length() != 12*time.Second {
		t.Errorf("cells %d, length %v", pp.Cells(), pp.Length())
	}
	qp := p.Plan(true).Protocols
	if qp.Load.Duration != 200*time.Millisecond || len(qp.Sizes) != 1 || qp.Sizes[0] != 100 || qp.Load.Concurrency != 4 {
		t.Errorf("quick plan = %+v", qp)
	}
	if p, _ := Parse("t.yaml", []byte(valid)); p.Plan(false).Protocols != nil {
		t.Error("a profile without protocols has a protocols plan")
	}
}

func TestParseProtocolsErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, old, new, want string
	}{
		{"unknown op", "[get, list]", "[get, put]", `t.yaml:22: protocols.operations.1: "put" is not one of get, list`},
		{"duplicate op", "[get, list]", "[get, get]", `protocols.operations.1: duplicate operation "get"`},
		{"too big", "[2KiB, 1MB, 512]", "[2KiB, 5MiB]", "t.yaml:23: protocols.sizes.1: 5MiB must be 1B..4MiB"},
		{"zero size", "[2KiB, 1MB, 512]", "[0]", "protocols.sizes.0: 0B must be 1B..4MiB"},
		{"bad unit", "[2KiB, 1MB, 512]", "[1GB]", `t.yaml:23: "1GB" is not a size like 512B`},
		{"less than a byte per product", "sizes: [100B]", "sizes: [5B]", "protocols.quick.sizes.0: 5B is less than one byte per product of a 10-product list"},
		{"no concurrency", "  concurrency: 4\n", "", "protocols.concurrency: must be > 0"},
		{"open model", "  concurrency: 4\n", "  concurrency: 4\n  rate: 100\n", "t.yaml:20: unknown key rate in Protocols"},
		{"no sizes", "  sizes: [2KiB, 1MB, 512]\n", "", "protocols: needs at least one entry under sizes"},
		{"no duration", "  duration: 1s\n  keys: {n: 10}\n  operations: [get", "  keys: {n: 10}\n  operations: [get", "protocols.duration: must be > 0"},
		{"list limit", "  concurrency: 4\n", "  concurrency: 4\n  list_limit: 1001\n", "protocols.list_limit: must be 1..1000"},
		{"keys", "  keys: {n: 10}\n  operations: [get", "  keys: {n: 0}\n  operations: [get", "protocols.keys: n (the largest id) must be > 0"},
		{"server", "  concurrency: 4\n", "  concurrency: 4\n  server: {cache: memcached}\n", `protocols.server.cache: "memcached" is not one of`},
		{"quick concurrency", "    duration: 200ms\n", "    duration: 200ms\n    concurrency: 0\n", "protocols.quick.concurrency: must be > 0"},
	} {
		src := strings.Replace(withProtocols, c.old, c.new, 1)
		if src == withProtocols {
			t.Fatalf("%s: replacement did not apply", c.name)
		}
		_, err := Parse("t.yaml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.name, err, c.want)
		}
	}
}

func TestByteSizeString(t *testing.T) {
	t.Parallel()
	for n, want := range map[ByteSize]string{1: "1B", 1000: "1KB", 1024: "1KiB", 1000000: "1MB", 1 << 20: "1MiB", 1500: "1500B", 10000: "10KB", 4 << 20: "4MiB"} {
		if got := n.String(); got != want {
			t.Errorf("%d: %q, want %q", n, got, want)
		}
	}
}
