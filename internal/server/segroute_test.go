package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// segEcho answers with what a segment handler saw: the segment, the
// pattern the request is counted under, and whether the shortcut served it
// (r.PathValue is set only by the mux).
func segEcho(w http.ResponseWriter, r *http.Request, seg string) {
	via := "mux"
	if r.PathValue("id") == "" {
		via = "spine"
	}
	fmt.Fprintf(w, "seg=%q pattern=%q via=%s", seg, r.Pattern, via)
}

// TestHandleSegmentMatchesMux: a route mounted with HandleSegment answers
// every request as the same route mounted with Handle (the mux alone) does,
// whichever path serves it; the shortcut serves exactly the plain paths.
func TestHandleSegmentMatchesMux(t *testing.T) {
	t.Parallel()
	build := func(seg bool, extra ...string) *Spine {
		sp := NewSpine(SpineOptions{})
		for _, p := range extra {
			sp.Handle(p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, "other pattern=%q", r.Pattern)
			}))
		}
		if seg {
			sp.HandleSegment("GET /api/products/{id}", segEcho)
		} else {
			sp.Handle("GET /api/products/{id}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				segEcho(w, r, r.PathValue("id"))
			}))
		}
		sp.Handle("GET /api/products/{id}/reviews", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "reviews of %q", r.PathValue("id"))
		}))
		return sp
	}
	serve := func(h http.Handler, method, target string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(method, target, nil)
		r = r.WithContext(ConnScope(r.Context(), nil))
		h.ServeHTTP(w, r)
		return w
	}
	cases := []struct {
		method, target string
		shortcut       bool
	}{
		{"GET", "/api/products/1", true},
		{"GET", "/api/products/abc", true},
		{"GET", "/api/products/1?pad=10", true},
		{"HEAD", "/api/products/1", false},
		{"POST", "/api/products/1", false},
		{"GET", "/api/products/", false},
		{"GET", "/api/products", false},
		{"GET", "/api/products/1/", false},
		{"GET", "/api/products//1", false},
		{"GET", "/api/products/./1", false},
		{"GET", "/api/products/x/../2", false},
		{"GET", "/api/products/..", false},
		{"GET", "/api/products/.", false},
		{"GET", "/api/products/%31", false},
		{"GET", "/api/products/a%2Fb", false},
		{"GET", "/api/products/7/reviews", false},
		{"GET", "/api/productsX/1", false},
	}
	for _, ex := range []struct {
		extra    []string
		shadowed bool
	}{{nil, false}, {[]string{"GET /api/products/special"}, true}, {[]string{"/api/products/special/{$}"}, false}} {
		extra := ex.extra
		viaSeg, viaMux := build(true, extra...), build(false, extra...)
		for _, c := range cases {
			a, b := serve(viaSeg, c.method, c.target), serve(viaMux, c.method, c.target)
			body := strings.Replace(a.Body.String(), "via=spine", "via=mux", 1)
			if a.Code != b.Code || body != b.Body.String() || a.Header().Get("Location") != b.Header().Get("Location") {
				t.Errorf("%v %s %s: segment route %d %q (Location %q), mux %d %q (Location %q)", extra, c.method, c.target,
					a.Code, a.Body, a.Header().Get("Location"), b.Code, b.Body, b.Header().Get("Location"))
			}
			if got, want := strings.Contains(a.Body.String(), "via=spine"), c.shortcut && !ex.shadowed; got != want {
				t.Errorf("%v %s %s: served by the shortcut %v, want %v (%q)", extra, c.method, c.target, got, want, a.Body)
			}
		}
		// The shadowing literal wins on the mux, and so with the segment
		// route too.
		if ex.shadowed {
			if a := serve(viaSeg, "GET", "/api/products/special"); !strings.HasPrefix(a.Body.String(), "other") {
				t.Errorf("%v: GET /api/products/special reached %q", extra, a.Body)
			}
		}
	}
}

// TestHandleSegmentShadowing: a pattern that could beat the wildcard on the
// mux turns the shortcut off, whether it was mounted before or after; one
// that cannot leaves it on.
func TestHandleSegmentShadowing(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		other    string
		shadowed bool
	}{
		{"GET /api/products/special", true},
		{"/api/products/special/{$}", false}, // only "/special/" itself
		{"POST /api/products/special", false},
		{"GET /api/products/{id}/reviews", false},
		{"GET /api/products/", false},
		{"GET /api/{kind}/{id}", false},
		{"example.com/api/products/1", true},
		{"GET /other/1", false},
	} {
		for _, before := range []bool{true, false} {
			sp := NewSpine(SpineOptions{})
			if before {
				sp.Handle(c.other, http.NotFoundHandler())
			}
			sp.HandleSegment("GET /api/products/{id}", segEcho)
			if !before {
				sp.Handle(c.other, http.NotFoundHandler())
			}
			if got := sp.segs[0].shadowed; got != c.shadowed {
				t.Errorf("%q (mounted first: %v): shadowed %v, want %v", c.other, before, got, c.shadowed)
			}
		}
	}
}

func TestHandleSegmentRejectsOtherPatterns(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"/api/products/{id}", "GET /api/{kind}/{id}", "GET /api/products/{id}/reviews",
		"GET /api/products/1", "GET api/{id}", "GET /api//{id}", "GET /api/{id...}x", "GET /api/{id...}", "GET /api/{$}"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("HandleSegment(%q) did not panic", p)
				}
			}()
			NewSpine(SpineOptions{}).HandleSegment(p, segEcho)
		}()
	}
}

// TestHandleSegmentCounts: a request the shortcut serves is counted under
// its pattern, as one through the mux is.
func TestHandleSegmentCounts(t *testing.T) {
	t.Parallel()
	sp := NewSpine(SpineOptions{})
	sp.HandleSegment("GET /api/products/{id}", segEcho)
	for _, target := range []string{"/api/products/1", "/api/products/%32"} {
		r := httptest.NewRequest("GET", target, nil)
		sp.ServeHTTP(httptest.NewRecorder(), r.WithContext(ConnScope(r.Context(), nil)))
	}
	st := sp.Stats()
	if n := st["requests"].(map[string]any)["GET /api/products/{id}"]; n != int64(2) {
		t.Fatalf("requests under the pattern: %v (%v)", n, st["requests"])
	}
}
