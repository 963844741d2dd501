package cmdflags

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/loadrig/loadrig/internal/profile"
	"github.com/loadrig/loadrig/profiles"
)

// missingKinds lists the serve kinds and load protocols a profile names
// that this build does not have (they land from other branches).
func missingKinds(c *Commands, spec []byte) []string {
	var out []string
	for _, line := range strings.Split(string(spec), "\n") {
		line = strings.TrimSpace(line)
		for _, pre := range []struct{ key, section string }{{"kind: ", Serve}, {"protocol: ", Load}} {
			if k, ok := strings.CutPrefix(line, pre.key); ok && !slices.Contains(c.Kinds(pre.section), k) {
				out = append(out, "loadrig "+pre.section+" "+k)
			}
		}
	}
	return out
}

// TestBuiltinsValidate checks every built-in profile against the real
// commands' flags. A profile that needs a command this build lacks is
// reported, not skipped silently; once the command lands it must validate.
func TestBuiltinsValidate(t *testing.T) {
	c := New(nil)
	names := profiles.Names()
	if len(names) < 8 {
		t.Fatalf("built-ins %v: want smoke, cache-compare, rest-vs-grpc, rest-vs-graphql, dataloader, realtime, soak, ci", names)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			data, file, ok := profiles.Get(name)
			if !ok {
				t.Fatal("Get failed")
			}
			if miss := missingKinds(c, data); len(miss) > 0 {
				_, err := profile.ParseSpec(file, data, c)
				if err == nil {
					t.Fatalf("validated although %v are missing", miss)
				}
				t.Skipf("needs %s (not in this build): %v", strings.Join(miss, ", "), err)
			}
			s, err := profile.ParseSpec(file, data, c)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range s.Variants {
				if _, err := s.Plan(v.Name, func(string) string { return "" }, c); err != nil {
					t.Fatalf("variant %s: %v", v.Name, err)
				}
			}
		})
	}
}

func TestCheckPinsErrors(t *testing.T) {
	c := New(nil)
	cases := []struct {
		yaml, want string
	}{
		{"version: 1\nservers:\n  api: {kind: rest, cache: lru}\nworkloads:\n  - name: r\n    protocol: http\n    target: ${servers.api}/x\n    rate: fast\n",
			"p.yaml:8:11: rate: invalid argument \"fast\""},
		{"version: 1\nservers:\n  api: {kind: rest, cahce: lru}\nworkloads:\n  - {name: r, protocol: http, target: '${servers.api}/x'}\n",
			`p.yaml:3:21: unknown option "cahce" for loadrig serve rest (did you mean "cache"?)`},
		{"version: 1\nservers:\n  api: {kind: rest, cache: lfu}\nworkloads:\n  - {name: r, protocol: http, target: '${servers.api}/x'}\n",
			`p.yaml:3:28: `},
		{"version: 1\nworkloads:\n  - name: r\n    protocol: http\n    target: http://127.0.0.1:1/\n    rate: 10\n    concurrency: 5\n",
			`p.yaml:7:18: `},
		{"version: 1\nworkloads:\n  - {name: r, protocol: htp, target: 'http://x/'}\n",
			`p.yaml:3:25: unknown protocol "htp" (did you mean "http"?); this build has grpc, http`},
		{"version: 1\nworkloads:\n  - {name: r, protocol: http, target: 'http://x/', output: a.json}\n",
			`option output is set by loadrig run/compare`},
		{"version: 1\nservers:\n  api: {kind: rest, addr: ':80'}\nworkloads:\n  - {name: r, protocol: http, target: 'http://x/'}\n",
			`option addr is set by loadrig run/compare`},
		{"version: 1\nworkloads:\n  - {name: r, protocol: http, target: '${servers.api}/'}\n",
			`p.yaml:3:39: ${servers.api}: no server "api"`},
		{"version: 1\nworkloads:\n  - {name: r, protocol: http, target: 'nohost'}\n",
			`p.yaml:3:5: target "nohost" is not a URL`},
		{"version: 1\nservers:\n  s: {kind: rest}\nmatrix:\n  cache: [none, lru, bogus]\nworkloads:\n  - {name: r, protocol: http, target: '${servers.s}/'}\n",
			`(variant cache=bogus)`},
	}
	for _, tc := range cases {
		_, err := profile.ParseSpec("p.yaml", []byte(tc.yaml), c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s\n got %v\nwant %q", tc.yaml, err, tc.want)
		}
		var pe *profile.Error
		if err != nil && !errors.As(err, &pe) {
			t.Errorf("%v is not a *profile.Error", err)
		}
	}
}

func TestMatrixSetsServerOption(t *testing.T) {
	c := New(nil)
	y := "version: 1\nservers:\n  s: {kind: rest, store-latency: 1ms}\nmatrix:\n  cache: [none, lru]\n  pprof: [on, off]\nworkloads:\n  - {name: r, protocol: http, target: '${servers.s}/', rate: 5}\n"
	s, err := profile.ParseSpec("m.yaml", []byte(y), c)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.VariantNames(), " "); got != "cache=none,pprof=on cache=none,pprof=off cache=lru,pprof=on cache=lru,pprof=off" {
		t.Fatalf("variants %s", got)
	}
	p, err := s.Plan("cache=lru,pprof=off", nil, c)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.Servers[0].Args, " "); got != "--store-latency=1ms --cache=lru --pprof=false" {
		t.Fatalf("args %s", got)
	}
}
