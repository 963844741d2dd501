package profile

import (
	"strings"
	"testing"
	"time"

	"github.com/loadrig/loadrig/profiles"
)

const withSections = valid + `graphql:
  server: {store_latency: 1ms, store_pool: 4}
  store_per_row: 10us
  warmup: 100ms
  page: {rate: 50, duration: 2s}
  n_plus_one: {rate: 3, duration: 2s, saturation_workers: 4, saturation_duration: 1s, unbounded_duration: 1s}
  quick:
    page: {duration: 500ms}
realtime:
  clients: 100
  connect: 100ms
  duration: 1s
  poll_duration: 2s
  drain: 1s
  rates: [2, 20]
  chat: {members: 10, rate: 5, drain: 300ms}
  quick:
    clients: 20
    rates: [20]
`

func TestParseSections(t *testing.T) {
	t.Parallel()
	p, err := Parse("t.yaml", []byte(withSections))
	if err != nil {
		t.Fatal(err)
	}
	full, quick := p.Plan(false), p.Plan(true)
	g := full.GraphQL
	if g == nil || g.PageRate != 50 || g.PageDuration != 2*time.Second || g.GzipSamples != 20 || g.StorePerRow != 10*time.Microsecond ||
		*g.Server.StorePool != 4 || g.Server.StoreLatency.D() != time.Millisecond || *g.Server.Cache != "lru" ||
		g.SaturationWorkers != 4 || g.UnboundedDuration != time.Second {
		t.Fatalf("graphql plan %+v", g)
	}
	if q := quick.GraphQL; q.PageDuration != 500*time.Millisecond || q.NPlusOneDuration != 2*time.Second || q.Warmup != 100*time.Millisecond {
		t.Fatalf("quick graphql plan %+v", q)
	}
	r := full.Realtime
	if r == nil || r.Clients != 100 || len(r.Rates) != 2 || r.ChatMembers != 10 || r.ChatDrain != 300*time.Millisecond || r.PollDuration != 2*time.Second {
		t.Fatalf("realtime plan %+v", r)
	}
	if q := quick.Realtime; q.Clients != 20 || len(q.Rates) != 1 || q.Rates[0] != 20 || q.Duration != time.Second || q.ChatMembers != 10 {
		t.Fatalf("quick realtime plan %+v", q)
	}
	if p, _ := Parse("t.yaml", []byte(valid)); p.Plan(false).GraphQL != nil || p.Plan(false).Realtime != nil {
		t.Error("a profile without the sections has their plans")
	}
	demo, err := Parse(profiles.DemoName, profiles.Demo)
	if err != nil || demo.Plan(false).GraphQL == nil || demo.Plan(false).Realtime == nil {
		t.Fatalf("the embedded demo lacks a section: %v", err)
	}
}

func TestParseSectionsErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, old, new, want string
	}{
		{"cache", "server: {store_latency: 1ms, store_pool: 4}", "server: {cache: lru}", "graphql.server.cache: the graphql section runs without a cache"},
		{"pool", "store_pool: 4}", "store_pool: 0}", "graphql.server.store_pool: must be >= 1"},
		{"page rate", "page: {rate: 50,", "page: {rate: 0,", "t.yaml:22: graphql.page.rate: must be pages per second"},
		{"huge rate", "page: {rate: 50,", "page: {rate: 1e9,", "graphql.page.rate: must be pages per second, > 0 and <= 100000"},
		{"page duration", "page: {rate: 50, duration: 2s}", "page: {rate: 50}", "graphql.page.duration: must be > 0"},
		{"samples", "page: {rate: 50, duration: 2s}", "page: {rate: 50, duration: 2s, gzip_samples: -1}", "graphql.page.gzip_samples: must be 1..1000"},
		{"workers", "saturation_workers: 4", "saturation_workers: 0", "graphql.n_plus_one.saturation_workers: must be 1..1000"},
		{"unbounded", ", unbounded_duration: 1s}", "}", "graphql.n_plus_one.unbounded_duration: must be > 0"},
		{"quick", "    page: {duration: 500ms}", "    page: {duration: 0}", "graphql.quick.page.duration: must be > 0"},
		{"unknown key", "  warmup: 100ms\n", "  warmup: 100ms\n  wramup: 1s\n", "t.yaml:22: unknown key wramup in GraphQL"},
		{"clients", "  clients: 100\n", "  clients: 100000\n", "t.yaml:27: realtime.clients: must be 1..50000, got 100000"},
		{"no rates", "  rates: [2, 20]\n", "", "realtime: needs at least one ticker rate under rates"},
		{"rate", "rates: [2, 20]", "rates: [2, -1]", "realtime.rates.1: a ticker rate must be events per second"},
		{"members", "members: 10,", "members: 0,", "realtime.chat.members: must be 1..50000"},
		{"chat rate", "rate: 5, drain", "rate: 0, drain", "realtime.chat.rate: must be posts per second"},
		{"connect", "  connect: 100ms\n", "", "realtime.connect: must be > 0, like 500ms"},
		{"quick clients", "    clients: 20\n", "    clients: 0\n", "realtime.quick.clients: must be 1..50000"},
		{"quick rates", "    rates: [20]\n", "    rates: [2000]\n", "realtime.quick.rates.0: a ticker rate must be events per second, > 0 and <= 1000"},
	} {
		src := strings.Replace(withSections, c.old, c.new, 1)
		if src == withSections {
			t.Fatalf("%s: replacement did not apply", c.name)
		}
		_, err := Parse("t.yaml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.name, err, c.want)
		}
	}
}
