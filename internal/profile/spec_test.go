package profile

import (
	"strings"
	"testing"

	"github.com/loadrig/loadrig/profiles"
)

const specOK = `version: 1
name: shop
description: two workloads
vars:
  n: "1000"
  path: /api/products
servers:
  api:
    kind: rest
    cache: lru
variants:
  - name: base
  - name: fast
    vars: {n: "10"}
    servers:
      api: {cache: tinylfu}
    workloads:
      reads: {rate: 400}
workloads:
  - name: reads
    protocol: http
    target: ${servers.api}${vars.path}/{{zipf 1.1 1 ${vars.n}}}
    rate: 200
    header: ["A: 1", "B: ${env.B:-two}"]
  - name: grpc
    protocol: grpc
    target: ${servers.api.grpc}
    concurrency: 4
warmup: 2s
repeat: 3
thresholds: [p99<50ms]
`

func TestSpecPlan(t *testing.T) {
	s, err := ParseSpec("shop.yaml", []byte(specOK), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "shop" || s.Repeat != 3 || len(s.Variants) != 2 || len(s.Thresholds) != 1 {
		t.Fatalf("spec %+v", s)
	}
	p, err := s.Plan("fast", func(k string) string { return map[string]string{"B": "bee"}[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := p.Workloads[0]
	if w.Target != "${servers.api}/api/products/{{zipf 1.1 1 10}}" {
		t.Fatalf("target %q", w.Target)
	}
	if got := strings.Join(w.Args, " "); got != "--rate=400 --header=A: 1 --header=B: bee --warmup=2s" {
		t.Fatalf("args %q", got)
	}
	if got := strings.Join(p.Servers[0].Args, " "); got != "--cache=tinylfu" {
		t.Fatalf("server args %q", got)
	}
	base, _ := s.Plan("", nil, nil)
	if base.Variant != "base" || base.Hash() == p.Hash() {
		t.Fatalf("default variant %q, hashes %s %s", base.Variant, base.Hash(), p.Hash())
	}
	if h2, _ := s.Plan("fast", func(k string) string { return map[string]string{"B": "bee"}[k] }, nil); h2.Hash() != p.Hash() {
		t.Fatal("hash not stable")
	}
	r, err := p.Resolve(map[string]map[string]string{"api": {"": "http://127.0.0.1:5", "grpc": "127.0.0.1:6"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Workloads[0].Target != "http://127.0.0.1:5/api/products/{{zipf 1.1 1 10}}" || r.Workloads[1].Target != "127.0.0.1:6" {
		t.Fatalf("resolved %q %q", r.Workloads[0].Target, r.Workloads[1].Target)
	}
	if _, err := p.Resolve(map[string]map[string]string{"api": {"": "x"}}); err == nil {
		t.Fatal("a missing listener resolved")
	}
	if _, err := s.Plan("nope", nil, nil); err == nil || !strings.Contains(err.Error(), "choose from base, fast") {
		t.Fatalf("unknown variant: %v", err)
	}
	if _, err := s.Plan("", func(string) string { return "" }, nil); err != nil {
		t.Fatalf("env default: %v", err)
	}
}

func TestSpecErrors(t *testing.T) {
	wl := "workloads:\n  - {name: r, protocol: http, target: 'http://x/'}\n"
	cases := []struct{ yaml, want string }{
		{"", "e.yaml: the profile is empty"},
		{"version: 2\n" + wl, "e.yaml:1:10: version must be 1"},
		{wl, "e.yaml:1:1: missing version"},
		{"version: 1\nworklods: []\n", `e.yaml:2:1: unknown key "worklods" in profile (did you mean "workloads"?)`},
		{"version: 1\n", "no workloads"},
		{"version: 1\nrepeat: 0\n" + wl, "e.yaml:2:9: repeat must be a whole number from 1 to 1000"},
		{"version: 1\nwarmup: soon\n" + wl, `e.yaml:2:9: warmup "soon" is not a duration`},
		{"version: 1\nworkloads:\n  - {protocol: http, target: x}\n", "e.yaml:3:5: a workload needs a name"},
		{"version: 1\nworkloads:\n  - {name: a b, protocol: http, target: x}\n", `workload name "a b" must be`},
		{"version: 1\nworkloads:\n  - {name: r, protocol: http, target: x}\n  - {name: r, protocol: http, target: x}\n", "e.yaml:4:5: duplicate workload name"},
		{"version: 1\nvariants: []\n" + wl, "e.yaml:2:11: variants is empty"},
		{"version: 1\nvariants: [{name: a}, {name: a}]\n" + wl, "e.yaml:2:23: duplicate variant name"},
		{"version: 1\nvariants: [{name: a, servers: {x: {cache: lru}}}]\n" + wl, `e.yaml:2:32: servers: no server named "x"`},
		{"version: 1\nvariants: [{name: a, only: [q]}]\n" + wl, `e.yaml:2:29: only: no workload named "q"`},
		{"version: 1\nvariants: [{name: a}]\nmatrix: {x: [1]}\n" + wl, "a profile has variants or a matrix, not both"},
		{"version: 1\nmatrix: {x: [1, 2]}\n" + wl, "matrix axis x is neither an option of a server here nor used as ${vars.x}"},
		{"version: 1\nworkloads:\n  - {name: r, protocol: http, target: 'http://x/${vars.y}'}\n", "e.yaml:3:39: ${vars.y}: no such variable"},
		{"version: 1\nworkloads:\n  - {name: r, protocol: http, target: 'http://x/${foo.y}'}\n", "unknown reference"},
		{"version: 1\nworkloads:\n  - {name: r, protocol: http, target: x, rate: {a: 1}}\n", "option rate must be a value or a list"},
		{"version: 1\nservers:\n  a.b: {kind: rest}\n" + wl, "no '.'"},
		{"version: 1\nservers:\n  a: {cache: lru}\n" + wl, "e.yaml:3:3: server a needs a kind"},
		{"version: 1\nthresholds: ['']\n" + wl, "e.yaml:2:14: an empty threshold"},
		{"version: 1\n  bad: [indent\n", "e.yaml:"},
	}
	for _, tc := range cases {
		_, err := ParseSpec("e.yaml", []byte(tc.yaml), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %q", tc.yaml, err, tc.want)
		}
	}
}

func TestSpecBuiltinsParse(t *testing.T) {
	for _, name := range profiles.Names() {
		data, file, _ := profiles.Get(name)
		if _, err := ParseSpec(file, data, nil); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// FuzzParseSpec: the parser never panics, and every error it returns
// carries the file name.
func FuzzParseSpec(f *testing.F) {
	f.Add([]byte(specOK))
	for _, name := range profiles.Names() {
		data, _, _ := profiles.Get(name)
		f.Add(data)
	}
	f.Add([]byte("version: 1\nmatrix: {a: [1,2,3], b: [x, y]}\nworkloads: [{name: r, protocol: http, target: '${vars.a}${vars.b}'}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSpec("f.yaml", data, nil)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.yaml") {
				t.Fatalf("error without the file: %v", err)
			}
			return
		}
		for _, v := range s.Variants {
			p, err := s.Plan(v.Name, func(string) string { return "x" }, nil)
			if err != nil {
				continue
			}
			_ = p.Hash()
		}
	})
}
