package profile

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/metrics"
	"github.com/loadrig/loadrig/profiles"
)

func TestEmbeddedDemo(t *testing.T) {
	t.Parallel()
	p, err := Parse(profiles.DemoName, profiles.Demo)
	if err != nil {
		t.Fatal(err)
	}
	pl := p.Plan(false)
	if err := pl.Load.Validate(); err != nil {
		t.Fatalf("demo load config: %v", err)
	}
	var names []string
	for _, v := range pl.Variants {
		names = append(names, v.Name)
	}
	if got := strings.Join(names, ","); got != "none,lru,tinylfu,redis-aside,write-through,write-behind,http-etag" {
		t.Errorf("variants = %s", got)
	}
	if len(pl.Operations) != 2 || pl.Operations[0].Weight != 90 || pl.Operations[1].Weight != 10 || !pl.Operations[1].Auth {
		t.Errorf("operations = %+v", pl.Operations)
	}
	wb := pl.Variants[5]
	if *wb.Server.Cache != "redis" || *wb.Server.Strategy != "write-behind" || wb.Server.StoreLatency.D() != 2*time.Millisecond || *wb.Server.StorePool != 4 {
		t.Errorf("write-behind variant server = %+v", wb.Server)
	}
	if !pl.Variants[6].Revalidate || pl.Variants[0].Revalidate {
		t.Error("revalidate flags wrong")
	}
	q := p.Plan(true)
	if q.Load.Duration >= pl.Load.Duration || q.Load.Rate >= pl.Load.Rate {
		t.Errorf("quick plan %v at %v/s is not shorter than %v at %v/s", q.Load.Duration, q.Load.Rate, pl.Load.Duration, pl.Load.Rate)
	}
	// A quick run of every variant fits the ~30 s promise (measured + warm-up).
	if total := time.Duration(len(q.Variants)) * (q.Load.Duration + q.Load.Warmup); total > 30*time.Second {
		t.Errorf("quick demo runs %v of load", total)
	}
	if len(pl.Keys) != 20000 {
		t.Fatalf("%d keys", len(pl.Keys))
	}
	counts := map[int64]int{}
	for _, id := range pl.Keys {
		if id < 1 || id > 1000 {
			t.Fatalf("key %d outside 1..1000", id)
		}
		counts[id]++
	}
	if counts[1] < counts[2] || counts[2] < counts[10] || counts[1] < len(pl.Keys)/20 {
		t.Errorf("keys are not Zipf-skewed: id1=%d id2=%d id10=%d", counts[1], counts[2], counts[10])
	}
	again := p.Plan(false).Keys
	for i := range again {
		if again[i] != pl.Keys[i] {
			t.Fatal("key sequence is not deterministic")
		}
	}
}

const valid = `version: 1
name: t
server:
  cache: lru
workload:
  rate: 10
  duration: 1s
  keys: {n: 10}
  operations:
    - name: read
      weight: 1
      path: /api/products/{{.id}}
variants:
  - name: a
  - name: b
    cache: redis
    ttl: 5s
`

func TestParseValid(t *testing.T) {
	t.Parallel()
	p, err := Parse("t.yaml", []byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	pl := p.Plan(true) // no quick section: unchanged
	if *pl.Variants[0].Server.Cache != "lru" || *pl.Variants[1].Server.Cache != "redis" || pl.Variants[1].Server.TTL.D() != 5*time.Second {
		t.Errorf("merged servers = %+v / %+v", pl.Variants[0].Server, pl.Variants[1].Server)
	}
	if pl.Variants[0].Server.TTL != nil {
		t.Error("unset ttl inherited a value")
	}
	if pl.Load.Rate != 10 || pl.Load.Duration != time.Second || pl.Load.CacheSource != "X-Cache" {
		t.Errorf("load = %+v", pl.Load)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, old, new, want string
	}{
		{"unknown key", "  rate: 10\n", "  rate: 10\n  colour: red\n", "t.yaml:7: unknown key colour"},
		{"unknown variant key", "    ttl: 5s\n", "    ttl: 5s\n    speed: 3\n", "t.yaml:18: unknown key speed in Variant"},
		{"bad duration", "duration: 1s", "duration: soon", `t.yaml:7: "soon" is not a duration`},
		{"bad type", "rate: 10", "rate: fast", "t.yaml:6: cannot unmarshal"},
		{"bad cache", "  cache: lru\n", "  cache: memcached\n", `t.yaml:4: server.cache: "memcached" is not one of none, lru, tinylfu, redis`},
		{"bad variant strategy", "    cache: redis\n", "    cache: redis\n    strategy: sideways\n", "t.yaml:17: variants.1.strategy"},
		{"both models", "  rate: 10\n", "  rate: 10\n  concurrency: 4\n", "t.yaml:7: workload.concurrency: both rate and concurrency"},
		{"no model", "  rate: 10\n", "", "workload: set a rate"},
		{"zero weight", "weight: 1", "weight: 0", "t.yaml:11: workload.operations.0.weight: must be > 0"},
		{"bad path", "path: /api", "path: api", "workload.operations.0.path: must start with /"},
		{"duplicate variant", "  - name: b\n", "  - name: a\n", `t.yaml:15: variants.1.name: duplicate variant name "a"`},
		{"bad variant name", "  - name: b\n", "  - name: b/c\n", "variants.1.name"},
		{"version", "version: 1", "version: 2", "t.yaml:1: version: must be 1"},
		{"keys n", "keys: {n: 10}", "keys: {n: 0}", "t.yaml:8: workload.keys: n (the largest id)"},
		{"zipf s", "keys: {n: 10}", "keys: {n: 10, s: 0.5}", "workload.keys.s: the Zipf exponent must be > 1"},
		{"syntax", "name: t\n", "name: [t\n", "t.yaml:"},
		{"method", "weight: 1\n", "weight: 1\n      method: FETCH\n", `t.yaml:12: workload.operations.0.method: "FETCH" is not one of`},
		{"zero store pool", "    ttl: 5s\n", "    ttl: 5s\n    store_pool: 0\n", "t.yaml:18: variants.1.store_pool: must be >= 1 (or -1 for unbounded), got 0"},
		{"negative store pool", "    ttl: 5s\n", "    ttl: 5s\n    store_pool: -2\n", "variants.1.store_pool: must be >= 1"},
		{"revalidate write", "weight: 1\n", "weight: 1\n      method: POST\n      revalidate: true\n", "t.yaml:13: workload.operations.0.revalidate: applies to GET and HEAD, not POST"},
	} {
		src := strings.Replace(valid, c.old, c.new, 1)
		if src == valid {
			t.Fatalf("%s: replacement did not apply", c.name)
		}
		_, err := Parse("t.yaml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error spans lines: %q", c.name, err)
		}
	}
	if _, err := Parse("e.yaml", nil); err == nil || !strings.Contains(err.Error(), "e.yaml") {
		t.Errorf("empty profile: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(valid))
	f.Add(profiles.Demo)
	f.Add([]byte(withProtocols))
	f.Add([]byte(withSections))
	f.Add([]byte("version: 1\nvariants: [{name: x}]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse("f.yaml", b)
		if err == nil {
			_ = p.Plan(true) // a valid profile always plans
		}
	})
}

// fakeDriver is a hand-written load.Driver whose workers count operations.
type fakeDriver struct {
	name  string
	seqs  chan uint64
	conns metrics.Connections
}

func (d *fakeDriver) Protocol() string { return "fake" }
func (d *fakeDriver) Target() string   { return d.name }
func (d *fakeDriver) Close() error     { return nil }
func (d *fakeDriver) NewWorker(context.Context, int) (load.Worker, error) {
	return fakeWorker{d}, nil
}
func (d *fakeDriver) Connections() metrics.Connections { return d.conns }

type fakeWorker struct{ d *fakeDriver }

func (w fakeWorker) Do(_ context.Context, op *load.Op) load.Outcome {
	w.d.seqs <- op.Seq()
	return load.Outcome{}
}
func (w fakeWorker) Close() error { return nil }

func TestMix(t *testing.T) {
	t.Parallel()
	const n = 10000
	reads := &fakeDriver{name: "reads", seqs: make(chan uint64, n), conns: metrics.Connections{Opened: 2, PeakOpen: 2}}
	writes := &fakeDriver{name: "writes", seqs: make(chan uint64, n), conns: metrics.Connections{Opened: 1, PeakOpen: 1}}
	d, err := Mix([]load.Driver{reads, writes}, []int{90, 10})
	if err != nil {
		t.Fatal(err)
	}
	if d.Target() != "reads" || d.Protocol() != "fake" {
		t.Errorf("target %s protocol %s", d.Target(), d.Protocol())
	}
	w, err := d.NewWorker(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for seq := range uint64(n) {
		w.Do(t.Context(), load.NewOp(seq, nil))
	}
	nw := len(writes.seqs)
	if len(reads.seqs)+nw != n || nw < n/10-300 || nw > n/10+300 {
		t.Errorf("writes got %d of %d operations, want about 10%%", nw, n)
	}
	// Deterministic: the same sequence number always goes to the same driver.
	m := d.(*mix)
	for seq := range uint64(100) {
		if m.Pick(seq) != m.Pick(seq) {
			t.Fatal("Pick is not deterministic")
		}
	}
	if c := d.(load.ConnCounter).Connections(); c.Opened != 3 || c.PeakOpen != 3 {
		t.Errorf("connections = %+v, want the sum", c)
	}
	if _, err := Mix([]load.Driver{reads}, []int{0}); err == nil {
		t.Error("weight 0 accepted")
	}
	if _, err := Mix(nil, nil); err == nil {
		t.Error("no drivers accepted")
	}
}
