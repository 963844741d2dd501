package httpdrv

import (
	"fmt"
	"net/http"
	"strings"
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
// does not revalidate.
func (d *Driver) newRevalCache() *revalCache {
	if !d.opts.Revalidate {
		return nil
	}
	return &revalCache{max: d.opts.RevalidateEntries, m: make(map[string]*validators)}
}

// validators are what a worker remembers of a URL's last 200 response.
type validators struct {
	etag    []byte // ETag value as received (W/ prefix included); empty: none
	lastMod []byte // Last-Modified value as received; empty: none
}

// revalCache is one worker's browser-like validator cache (Options.Revalidate):
// rendered request target -> validators of its last 200 response. It is
// used by one worker goroutine only, so it takes no lock.
//
// Allocations: looking a URL up (m[string(b)] does not allocate), sending
// the conditional headers (copied into the reused req buffer) and updating
// a known URL's validators (copied into the entry's own buffers) allocate
// nothing once the buffers have grown; a URL seen for the first time costs
// its key string and an entry. When max entries exist, one is evicted at
// random (the first one a map iteration yields, O(1)) and its entry reused.
type revalCache struct {
	max int
	m   map[string]*validators
	req []byte      // the request with conditional headers inserted
	key []byte      // target of the request in flight; aliases the rendered request
	cur *validators // key's entry when the request was sent; nil: none
	// Validators of the response being read, copied out of the read buffer
	// (the fast path) or the response header (net/http).
	etag, lastMod []byte
}

// begin starts a request to key: it resets the response validators and
// returns what to send, req itself when nothing is known about key, else
// req with If-None-Match / If-Modified-Since inserted at head (where the
// blank line ending the header block starts).
func (c *revalCache) begin(req []byte, head int, key []byte) []byte {
	v := c.lookup(key)
	if v == nil {
		return req
	}
	b := append(c.req[:0], req[:head]...)
	b = v.appendHeaders(b)
	c.req = append(b, req[head:]...)
	return c.req
}

// lookup returns the validators known for key (nil: none) and makes key
// the request in flight.
func (c *revalCache) lookup(key []byte) *validators {
	c.key = key
	c.resetResponse()
	c.cur = c.m[string(key)]
	return c.cur
}

// resetResponse forgets the validators of a previous (or interim) response.
func (c *revalCache) resetResponse() {
	c.etag, c.lastMod = c.etag[:0], c.lastMod[:0]
}

// remember records the validators read from a 200 response to the request
// in flight; a 200 without any forgets the URL.
func (c *revalCache) remember() {
	if len(c.etag) == 0 && len(c.lastMod) == 0 {
		if c.cur != nil {
			delete(c.m, string(c.key))
			c.cur = nil
		}
		return
	}
	v := c.cur
	if v == nil {
		if len(c.m) >= c.max {
			for k, old := range c.m {
				delete(c.m, k)
				v = old
				break
			}
		}
		if v == nil {
			v = new(validators)
		}
		c.m[string(c.key)] = v
		c.cur = v
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
