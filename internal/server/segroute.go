package server

import (
	"fmt"
	"net/http"
	"strings"
)

// SegmentHandler serves a route whose last path segment is its one
// wildcard ("GET /api/products/{id}"): seg is that segment's value, what
// r.PathValue would return.
type SegmentHandler func(w http.ResponseWriter, r *http.Request, seg string)

// segRoute is a route HandleSegment mounted: requests whose path is
// prefix+seg (seg one plain segment) reach h without the mux.
type segRoute struct {
	method, prefix, pattern string
	stat                    *routeStat
	h                       SegmentHandler
	// shadowed is set when another pattern could win some of these paths
	// on the mux (a literal segment, a host): the route then always goes
	// through the mux, which decides.
	shadowed bool
}

// HandleSegment mounts h on pattern, "METHOD /literal/path/{name}": the
// wildcard is the last segment and the only one. It is Handle with a
// shortcut: a request for the method (not HEAD, which the mux also sends
// here) whose path is the literal prefix and one plain segment (clean, not
// escaped) reaches h straight from the spine, without the mux's cleaning,
// tree walk and path-value allocation — the REST hot path's product read
// (README design notes, "REST hot path"). Every other request for the
// pattern goes through the mux to the same h, so both answer alike
// (TestHandleSegmentMatchesMux). When another pattern could take some of
// these paths on the mux (a literal in the wildcard's place, a host
// pattern), the shortcut is off.
func (s *Spine) HandleSegment(pattern string, h SegmentHandler) {
	method, path, ok := strings.Cut(pattern, " ")
	cut := strings.LastIndexByte(path, '/') + 1
	prefix := path[:cut]
	name, wild := strings.CutPrefix(path[cut:], "{")
	if !ok || method == "" || !wild || !strings.HasPrefix(path, "/") || !strings.HasSuffix(name, "}") ||
		strings.ContainsAny(prefix, "{}") || strings.Contains(prefix, "//") || strings.Contains(prefix, "/.") {
		panic(fmt.Sprintf("server: HandleSegment(%q): want \"METHOD /literal/path/{name}\"", pattern))
	}
	name = strings.TrimSuffix(name, "}")
	if name == "" || strings.ContainsAny(name, ".${}") {
		panic(fmt.Sprintf("server: HandleSegment(%q): the wildcard must be a plain {name}", pattern))
	}
	s.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(w, r, r.PathValue(name))
	}))
	rt := &segRoute{method: method, prefix: prefix, pattern: pattern, stat: s.metrics.registered(pattern), h: h}
	for _, p := range s.patterns {
		rt.shadow(p)
	}
	s.segs = append(s.segs, rt)
}

// shadow turns rt's shortcut off when pattern (another route) could win one
// of rt's paths on the mux.
func (rt *segRoute) shadow(pattern string) {
	if pattern == rt.pattern {
		return
	}
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = "", pattern
	}
	if method != "" && method != rt.method && !(method == http.MethodGet && rt.method == http.MethodHead) {
		return
	}
	if !strings.HasPrefix(path, "/") {
		rt.shadowed = true // a host pattern: the mux weighs the Host header
		return
	}
	rest, ok := strings.CutPrefix(path, rt.prefix)
	if !ok {
		return
	}
	rest = strings.TrimSuffix(rest, "{$}")
	if rest != "" && !strings.Contains(rest, "/") && !strings.HasPrefix(rest, "{") {
		rt.shadowed = true // a literal segment beats the wildcard
	}
}

// segment returns the wildcard's value when r may take rt's shortcut: the
// method matches, the path is rt's prefix and one segment that the mux
// would neither clean nor unescape.
func (rt *segRoute) segment(r *http.Request) (string, bool) {
	if rt.shadowed || r.Method != rt.method || r.URL.RawPath != "" {
		return "", false
	}
	seg, ok := strings.CutPrefix(r.URL.Path, rt.prefix)
	if !ok || seg == "" || seg == "." || seg == ".." || strings.IndexByte(seg, '/') >= 0 {
		return "", false
	}
	return seg, true
}

// route serves r through a segment route's shortcut; false when none takes
// it (the mux's business).
func (s *Spine) route(e *Exchange, r *http.Request) bool {
	for _, rt := range s.segs {
		if seg, ok := rt.segment(r); ok {
			r.Pattern = rt.pattern
			e.stat = rt.stat
			rt.h(e, r, seg)
			return true
		}
	}
	return false
}
