package httpdrv

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/metrics"
)

// entityServer serves versioned entities at any path: strong ETag
// "<path>-v<version>", a Last-Modified, 304 when If-None-Match matches.
// It records the conditional headers of every request.
type entityServer struct {
	mu      sync.Mutex
	version map[string]int
	seen    []string // "path inm=... ims=..." per request
	url     string
}

func newEntityServer(t *testing.T) *entityServer {
	es := &entityServer{version: map[string]int{}}
	s := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		es.mu.Lock()
		v := es.version[r.URL.Path] + 1
		inm, ims := r.Header.Get("If-None-Match"), r.Header.Get("If-Modified-Since")
		es.seen = append(es.seen, fmt.Sprintf("%s inm=%s ims=%s", r.URL.Path, inm, ims))
		es.mu.Unlock()
		tag := fmt.Sprintf(`"%s-v%d"`, r.URL.Path, v)
		w.Header().Set("ETag", tag)
		w.Header().Set("Last-Modified", fmt.Sprintf("Sat, 28 Nov 2026 18:00:%02d GMT", v))
		if inm == tag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Length", "6")
		w.Write([]byte("entity"))
	}))
	es.url = s.URL
	return es
}

// bump writes the entity at path: its ETag changes.
func (es *entityServer) bump(path string) {
	es.mu.Lock()
	es.version[path]++
	es.mu.Unlock()
}

func (es *entityServer) last() string {
	es.mu.Lock()
	defer es.mu.Unlock()
	return es.seen[len(es.seen)-1]
}

// TestRevalidate: the first request to a URL is unconditional and its 200's
// validators are remembered; the next request to that URL sends them and
// gets a 304 (revalidated); after the entity changes the 200 with the new
// ETag is remembered. Same requests, bytes and outcomes on both paths, with
// a constant URL and a templated one (one cache entry per rendered URL).
func TestRevalidate(t *testing.T) {
	type step struct {
		seq   uint64
		bump  string // entity to change before the request
		saw   string // what the server saw
		code  metrics.CacheStatus
		extra bool // the request carried conditional headers
	}
	lm := func(v int) string { return fmt.Sprintf("Sat, 28 Nov 2026 18:00:%02d GMT", v) }
	cases := map[string]struct {
		url   string
		steps []step
	}{
		"constant": {"/item", []step{
			{0, "", "/item inm= ims=", metrics.CacheUnknown, false},
			{1, "", `/item inm="/item-v1" ims=` + lm(1), metrics.CacheRevalidated, true},
			{2, "/item", `/item inm="/item-v1" ims=` + lm(1), metrics.CacheUnknown, true},
			{3, "", `/item inm="/item-v2" ims=` + lm(2), metrics.CacheRevalidated, true},
		}},
		"templated": {"/items/{{.Seq}}", []step{
			{1, "", "/items/1 inm= ims=", metrics.CacheUnknown, false},
			{1, "", `/items/1 inm="/items/1-v1" ims=` + lm(1), metrics.CacheRevalidated, true},
			{2, "", "/items/2 inm= ims=", metrics.CacheUnknown, false},
			{1, "/items/1", `/items/1 inm="/items/1-v1" ims=` + lm(1), metrics.CacheUnknown, true},
			{1, "", `/items/1 inm="/items/1-v2" ims=` + lm(2), metrics.CacheRevalidated, true},
			{2, "", `/items/2 inm="/items/2-v1" ims=` + lm(1), metrics.CacheRevalidated, true},
		}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var outs [2][]load.Outcome
			for i, force := range []bool{false, true} {
				es := newEntityServer(t)
				d := newDriver(t, Options{URL: es.url + tc.url, Revalidate: true, ForceNetHTTP: force, Headers: []string{"X-A: b"}})
				w := newWorker(t, d, 0)
				var plain int64
				for k, st := range tc.steps {
					if st.bump != "" {
						es.bump(st.bump)
					}
					out := do(t, w, st.seq, nil)
					if out.Err != metrics.OK || out.Cache != st.code {
						t.Errorf("force=%v step %d: outcome %+v, want ok with cache %v", force, k, out, st.code)
					}
					if got := es.last(); got != st.saw {
						t.Errorf("force=%v step %d: server saw %q, want %q", force, k, got, st.saw)
					}
					if !st.extra {
						plain = out.BytesSent
					} else if out.BytesSent <= plain {
						t.Errorf("force=%v step %d: %d bytes sent, want more than the plain request's %d", force, k, out.BytesSent, plain)
					}
					outs[i] = append(outs[i], out)
				}
			}
			for k := range outs[0] {
				if outs[0][k] != outs[1][k] {
					t.Errorf("step %d: fast %+v, net/http %+v", k, outs[0][k], outs[1][k])
				}
			}
		})
	}
}

// TestRevalidateOff: without Revalidate nothing conditional is sent.
func TestRevalidateOff(t *testing.T) {
	paths(t, func(t *testing.T, force bool) {
		es := newEntityServer(t)
		w := newWorker(t, newDriver(t, Options{URL: es.url + "/item", ForceNetHTTP: force}), 0)
		for range 3 {
			if out := do(t, w, 0, nil); out.Err != metrics.OK || out.Cache == metrics.CacheRevalidated {
				t.Fatalf("outcome %+v", out)
			}
			if got := es.last(); got != "/item inm= ims=" {
				t.Fatalf("server saw %q", got)
			}
		}
	})
}

// TestRevalidateForgets: a 200 without validators forgets the URL, and a
// worker's cache is its own (another worker starts cold).
func TestRevalidateForgets(t *testing.T) {
	paths(t, func(t *testing.T, force bool) {
		var mu sync.Mutex
		var inms []string
		withTag := true
		s := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			inms = append(inms, r.Header.Get("If-None-Match"))
			if withTag {
				w.Header().Set("ETag", `"a"`)
			}
			w.Write([]byte("x"))
		}))
		d := newDriver(t, Options{URL: s.URL + "/", Revalidate: true, ForceNetHTTP: force})
		w0, w1 := newWorker(t, d, 0), newWorker(t, d, 1)
		do(t, w0, 0, nil) // remembers "a"
		do(t, w1, 0, nil) // its own cache: unconditional
		mu.Lock()
		withTag = false
		mu.Unlock()
		do(t, w0, 0, nil) // sends "a", 200 without a tag: forgotten
		do(t, w0, 0, nil) // unconditional
		mu.Lock()
		defer mu.Unlock()
		if got := strings.Join(inms, ","); got != `,,"a",` {
			t.Errorf("If-None-Match per request: %q, want %q", got, `,,"a",`)
		}
	})
}

// TestRevalCacheBounded: at most max entries; a full cache evicts one to
// admit a new URL; known URLs update in place without allocating.
func TestRevalCacheBounded(t *testing.T) {
	for _, shared := range []bool{false, true} {
		t.Run(fmt.Sprint("shared=", shared), func(t *testing.T) { testRevalCacheBounded(t, shared) })
	}
}

func testRevalCacheBounded(t *testing.T, shared bool) {
	c := &revalCache{s: newRevalStore(3, shared)}
	req := []byte("GET /k HTTP/1.1\r\nHost: h\r\n\r\n")
	head := len(req) - 2
	put := func(key, tag string) {
		c.begin(req, head, []byte(key))
		c.etag = append(c.etag, tag...)
		c.remember()
	}
	for i := range 10 {
		put(fmt.Sprint("/k", i), fmt.Sprint(`"t`, i, `"`))
		if want := min(i+1, 3); len(c.s.m) != want {
			t.Fatalf("after %d keys: %d entries, want %d", i+1, len(c.s.m), want)
		}
	}
	if v := c.s.m["/k9"]; v == nil || string(v.etag) != `"t9"` {
		t.Fatalf("newest entry missing: %v", c.s.m)
	}
	got := string(c.begin(req, head, []byte("/k9")))
	if want := "GET /k HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"t9\"\r\n\r\n"; got != want {
		t.Errorf("conditional request %q, want %q", got, want)
	}
	key := []byte("/k9")
	allocs := testing.AllocsPerRun(100, func() {
		c.begin(req, head, key)
		c.etag = append(c.etag, `"t10"`...)
		c.lastMod = append(c.lastMod, "Sat, 28 Nov 2026 18:00:00 GMT"...)
		c.remember()
	})
	if allocs != 0 {
		t.Errorf("%.1f allocs per request to a known URL, want 0", allocs)
	}
}

// TestFastPathRevalidateZeroAllocs: with Revalidate on, requests to URLs
// already seen allocate nothing on the fast path.
func TestFastPathRevalidateZeroAllocs(t *testing.T) {
	u := fixedServer(t, "HTTP/1.1 200 OK\r\nETag: \"v1\"\r\nLast-Modified: Sat, 28 Nov 2026 18:00:00 GMT\r\nContent-Length: 12\r\n\r\nhello, world")
	for name, o := range map[string]Options{
		"constant":  {URL: u + "/hello", Revalidate: true},
		"templated": {URL: u + "/p/{{randInt 1 2}}", Revalidate: true, Headers: []string{"X-R: {{randInt 1 9}}"}},
		"shared":    {URL: u + "/p/{{randInt 1 2}}", Revalidate: true, RevalidateShared: true},
	} {
		d := newDriver(t, o)
		w := newWorker(t, d, 0)
		op := load.NewOp(0, newSink())
		ctx := t.Context()
		for range 100 { // connect, and see every URL
			do(t, w, 0, nil)
		}
		if n := len(w.(*fastWorker).rv.s.m); n != strings.Count(o.URL, "randInt")+1 {
			t.Fatalf("%s: %d URLs remembered", name, n)
		}
		allocs := testing.AllocsPerRun(200, func() {
			if out := w.Do(ctx, op); out.Err != metrics.OK {
				t.Fatal(out)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %.1f allocs per request with Revalidate, want 0", name, allocs)
		}
	}
}

func TestRevalidateNewErrors(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{URL: "http://h/", Method: "POST", Revalidate: true}, "revalidation applies to GET and HEAD, not POST"},
		{Options{URL: "http://h/", Revalidate: true, Headers: []string{"if-none-match: x"}}, "revalidation sends If-None-Match"},
		{Options{URL: "http://h/", RevalidateEntries: -1}, "bad revalidate entry count -1"},
	} {
		if _, err := New(tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err %v, want %q", tc.o, err, tc.want)
		}
	}
	if _, err := New(Options{URL: "http://h/", Method: "HEAD", Revalidate: true, Headers: []string{"If-Match: x"}}); err != nil {
		t.Errorf("HEAD with revalidation: %v", err)
	}
}

// TestRevalidateShared: with RevalidateShared a URL one worker read is
// revalidated by another; without it each worker starts cold. Workers
// running at once on the shared cache are race-free (go test -race).
func TestRevalidateShared(t *testing.T) {
	paths(t, func(t *testing.T, force bool) {
		for _, shared := range []bool{false, true} {
			es := newEntityServer(t)
			d := newDriver(t, Options{URL: es.url + "/items/{{.Seq}}", Revalidate: true, RevalidateShared: shared, ForceNetHTTP: force})
			w0, w1 := newWorker(t, d, 0), newWorker(t, d, 1)
			do(t, w0, 1, nil)
			out := do(t, w1, 1, nil)
			if want := shared; (out.Cache == metrics.CacheRevalidated) != want {
				t.Errorf("shared=%v: second worker's request: %+v (server saw %q)", shared, out, es.last())
			}
			var wg sync.WaitGroup
			for _, w := range []load.Worker{w0, w1} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for seq := range uint64(20) {
						if out := do(t, w, seq%4, nil); out.Err != metrics.OK {
							t.Errorf("concurrent: %+v", out)
						}
					}
				}()
			}
			wg.Wait()
		}
	})
}
