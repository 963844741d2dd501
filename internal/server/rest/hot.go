package rest

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/loadrig/loadrig/internal/domain"
)

// The hot path: a cached GET /api/products/{id}. What it avoids, each
// measured (BenchmarkHotPath, testdata/bench/resthot.sh):
//
//   - encoding the product again on every hit: an in-process cache keeps
//     the JSON it stored beside the decoded product (productJSONReader), and
//     the handler writes those bytes;
//   - formatting the validators on every hit: the ETag, Last-Modified and
//     Content-Length header values of a product version are kept in a
//     fixed array of slots (validatorMemo), so a hit sets three headers
//     from ready []string values, with no allocation and no time
//     formatting.

// productJSONReader is the optional capability of a Catalog (the cache
// layer, cache.Layer.GetProductJSON) to return, with a product, the JSON
// encoding it holds of it (nil when it holds none): json.Marshal of the
// product, shared and read-only.
type productJSONReader interface {
	GetProductJSON(ctx context.Context, id int64) (domain.Product, []byte, error)
}

// memoSlots is the number of validator slots; products share slots by id
// modulo memoSlots (a collision costs a re-format, never a wrong header:
// a slot is used only when id, version, modification time and body length
// all match). The array is fixed, so a client asking for many ids cannot
// grow it: at most memoSlots entries of about 200 bytes.
const memoSlots = 1024

// validators are the ready header values of one product version.
type validators struct {
	id, version int64
	modified    int64 // UpdatedAt, Unix nanoseconds
	bodyLen     int   // Content-Length the clen value is for
	etag        []string
	lastMod     []string // nil when the product has no modification time
	clen        []string
}

type validatorMemo [memoSlots]atomic.Pointer[validators]

// get returns the validators of product p with a body of n bytes,
// formatting and keeping them when its slot holds another version.
func (m *validatorMemo) get(p *domain.Product, n int) *validators {
	slot := &m[uint64(p.ID)%memoSlots]
	mod := p.UpdatedAt.UnixNano()
	if v := slot.Load(); v != nil && v.id == p.ID && v.version == p.Version && v.modified == mod && v.bodyLen == n {
		return v
	}
	v := &validators{id: p.ID, version: p.Version, modified: mod, bodyLen: n,
		etag: []string{etag('p', p.ID, p.Version)}, clen: []string{strconv.Itoa(n)}}
	if !p.UpdatedAt.IsZero() {
		v.lastMod = []string{p.UpdatedAt.UTC().Format(http.TimeFormat)}
	}
	slot.Store(v)
	return v
}

// nl ends a JSON body as json.Encoder does.
var nl = []byte{'\n'}

// writeProductJSON answers a GET of product p whose JSON encoding (without
// the newline json.Encoder adds) is raw: 304 when the client's validator
// matches, else raw and a newline — the bytes writeJSON would have written.
func (h *Handler) writeProductJSON(w http.ResponseWriter, r *http.Request, p *domain.Product, raw []byte) {
	v := h.memo.get(p, len(raw)+1)
	hd := w.Header()
	hd["Etag"] = v.etag
	if v.lastMod != nil {
		hd["Last-Modified"] = v.lastMod
	}
	hd["Cache-Control"] = h.cacheControl
	hd["Vary"] = varyVals
	if conditional(r) && notModified(r, v.etag[0], p.UpdatedAt) {
		h.notModified.Add(1)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd["Content-Type"] = jsonCT
	hd["Content-Length"] = v.clen
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(raw)
	_, _ = w.Write(nl)
}
