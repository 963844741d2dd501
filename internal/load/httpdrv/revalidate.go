package httpdrv

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// DefaultRevalidateEntries is how many URLs a worker remembers under
// Options.Revalidate when RevalidateEntries is 0.
const DefaultRevalidateEntries = 100_000

func (d *Driver) initRevalidate() error {
	o := &d.opts
	if o.RevalidateEntries < 0 {
		return fmt.Errorf("bad revalidate entry count %d: expected 0 (default %d) or more", o.RevalidateEntries, DefaultRevalidateEntries)
	}
	if o.RevalidateEntries == 0 {
		o.RevalidateEntries = DefaultRevalidateEntries
	}
	if !o.Revalidate {
		return nil
	}
	if d.method != http.MethodGet && d.method != http.MethodHead {
		return fmt.Errorf("revalidation applies to GET and HEAD, not %s: drop --revalidate or use -X GET", d.method)
	}
	for _, h := range d.headers {
		if strings.EqualFold(h.name, "If-None-Match") || strings.EqualFold(h.name, "If-Modified-Since") {
			return fmt.Errorf("header %s: revalidation sends If-None-Match and If-Modified-Since itself; drop the header or --revalidate", h.name)
		}
	}
	return nil
}

// newRevalCache returns a worker's validator cache, or nil when the driver
// does not revalidate. With RevalidateShared every worker's cache uses the
// driver's one store.
func (d *Driver) newRevalCache() *revalCache {
	if !d.opts.Revalidate {
		return nil
	}
	if d.opts.RevalidateShared {
		d.revalOnce.Do(func() { d.revalShared = newRevalStore(d.opts.RevalidateEntries, true) })
		return &revalCache{s: d.revalShared}
	}
	return &revalCache{s: newRevalStore(d.opts.RevalidateEntries, false)}
}

// validators are what is remembered of a URL's last 200 response.
type validators struct {
	etag    []byte // ETag value as received (W/ prefix included); empty: none
	lastMod []byte // Last-Modified value as received; empty: none
}

// revalStore maps rendered request targets to the validators of their last
// 200 response, at most max of them. A worker's own store takes no lock; a
// shared one (RevalidateShared) is guarded by mu. When max entries exist,
// one is evicted at random (the first one a map iteration yields, O(1))
// and its entry reused for the new URL.
type revalStore struct {
	shared bool
	mu     sync.Mutex // guards m and its entries when shared
	max    int
	m      map[string]*validators
}

func newRevalStore(max int, shared bool) *revalStore {
	return &revalStore{shared: shared, max: max, m: make(map[string]*validators)}
}

// revalCache is one worker's side of revalidation (Options.Revalidate): the
// request in flight, the validators it sends and those its response brings,
// over the worker's own store or the driver's shared one.
//
// Allocations: looking a URL up (m[string(b)] does not allocate), sending
// the conditional headers (copied into reused buffers) and updating a known
// URL's validators (copied into the entry's own buffers) allocate nothing
// once the buffers have grown; a URL seen for the first time costs its key
// string and an entry.
type revalCache struct {
	s   *revalStore
	req []byte      // the request with conditional headers inserted
	key []byte      // target of the request in flight; aliases the rendered request
	cur *validators // key's entry when the request was sent (own store only); nil: none
	// send holds the validators sent with the request in flight, copied
	// out of the store (a shared entry may change once the lock is released).
	send validators
	// Validators of the response being read, copied out of the read buffer
	// (the fast path) or the response header (net/http).
	etag, lastMod []byte
}

// begin starts a request to key: it returns what to send, req itself when
// nothing is known about key, else req with If-None-Match /
// If-Modified-Since inserted at head (where the blank line ending the
// header block starts).
func (c *revalCache) begin(req []byte, head int, key []byte) []byte {
	if !c.lookup(key) {
		return req
	}
	b := append(c.req[:0], req[:head]...)
	b = c.send.appendHeaders(b)
	c.req = append(b, req[head:]...)
	return c.req
}

// lookup makes key the request in flight and copies its validators, if
// any, into c.send; it reports whether there were any.
func (c *revalCache) lookup(key []byte) bool {
	c.key = key
	c.resetResponse()
	s := c.s
	if s.shared {
		s.mu.Lock()
		defer s.mu.Unlock()
	}
	v := s.m[string(key)]
	if !s.shared {
		c.cur = v
	}
	if v == nil {
		return false
	}
	c.send.etag = append(c.send.etag[:0], v.etag...)
	c.send.lastMod = append(c.send.lastMod[:0], v.lastMod...)
	return true
}

// resetResponse forgets the validators of a previous (or interim) response.
func (c *revalCache) resetResponse() {
	c.etag, c.lastMod = c.etag[:0], c.lastMod[:0]
}

// remember records the validators read from a 200 response to the request
// in flight; a 200 without any forgets the URL.
func (c *revalCache) remember() {
	s := c.s
	var v *validators
	if s.shared {
		s.mu.Lock()
		defer s.mu.Unlock()
		v = s.m[string(c.key)]
	} else {
		v = c.cur
	}
	if len(c.etag) == 0 && len(c.lastMod) == 0 {
		if v != nil {
			delete(s.m, string(c.key))
			c.cur = nil
		}
		return
	}
	if v == nil {
		if len(s.m) >= s.max {
			for k, old := range s.m {
				delete(s.m, k)
				v = old
				break
			}
		}
		if v == nil {
			v = new(validators)
		}
		s.m[string(c.key)] = v
		if !s.shared {
			c.cur = v
		}
	}
	v.etag = append(v.etag[:0], c.etag...)
	v.lastMod = append(v.lastMod[:0], c.lastMod...)
}

// appendHeaders appends the conditional request header lines.
func (v *validators) appendHeaders(b []byte) []byte {
	if len(v.etag) > 0 {
		b = append(b, "If-None-Match: "...)
		b = append(b, v.etag...)
		b = append(b, "\r\n"...)
	}
	if len(v.lastMod) > 0 {
		b = append(b, "If-Modified-Since: "...)
		b = append(b, v.lastMod...)
		b = append(b, "\r\n"...)
	}
	return b
}

// headerLen is the size of the lines appendHeaders appends.
func (v *validators) headerLen() int64 {
	var n int
	if len(v.etag) > 0 {
		n += len("If-None-Match: \r\n") + len(v.etag)
	}
	if len(v.lastMod) > 0 {
		n += len("If-Modified-Since: \r\n") + len(v.lastMod)
	}
	return int64(n)
}
