package rest

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

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
//     formatting;
//   - a second Write for the newline json.Encoder ends a body with: the
//     slot also keeps the body (the cached JSON and the newline), copied
//     once per cached copy of the JSON.

// productJSONReader is the optional capability of a Catalog (the cache
// layer, cache.Layer.GetProductJSON) to return, with a product, the JSON
// encoding it holds of it (nil when it holds none): json.Marshal of the
// product. Both are shared and read-only.
type productJSONReader interface {
	GetProductJSON(ctx context.Context, id int64) (*domain.Product, []byte, error)
}

// memoSlots is the number of validator slots; products share slots by id
// modulo memoSlots (a collision costs a re-format, never a wrong header or
// body: a slot is used only for the id and the very cached JSON it was
// made from). The cached JSON's identity stands for the product version:
// the cache encodes each version it stores into fresh bytes, and the slot
// keeps the bytes it was made from alive, so no other version's bytes can
// sit at that address while the slot holds them. A hit therefore reads
// neither the product nor its bytes, only the slot. The array is fixed, so a
// client asking for many ids cannot grow it: at most memoSlots entries of
// about 200 bytes plus a body each (and the cached JSON a slot was made
// from stays reachable until the slot is reused).
const memoSlots = 1024

// validators are the ready header values of one product version.
type validators struct {
	// What every hit reads, on the struct's first two cache lines.
	id      int64
	src     []byte // the cached JSON body is made from (compared by identity)
	body    []byte // src and a newline
	etag    []string
	lastMod []string // nil when the product has no modification time
	clen    []string
	// Only a conditional request reads this.
	modified time.Time // the product's UpdatedAt, for If-Modified-Since
}

type validatorMemo [memoSlots]atomic.Pointer[validators]

// get returns the validators and body of product p (id) whose cached JSON
// is raw (non-empty), formatting and keeping them when its slot holds
// another product or was made from other bytes.
func (m *validatorMemo) get(id int64, p *domain.Product, raw []byte) *validators {
	slot := &m[uint64(id)%memoSlots]
	if v := slot.Load(); v != nil && v.id == id && len(v.src) == len(raw) && &v.src[0] == &raw[0] {
		return v
	}
	body := append(append(make([]byte, 0, len(raw)+1), raw...), '\n')
	v := &validators{id: id, modified: p.UpdatedAt, src: raw, body: body,
		etag: []string{etag('p', p.ID, p.Version)}, clen: []string{strconv.Itoa(len(body))}}
	if !p.UpdatedAt.IsZero() {
		v.lastMod = []string{p.UpdatedAt.UTC().Format(http.TimeFormat)}
	}
	slot.Store(v)
	return v
}

// writeProductJSON answers a GET of product p whose JSON encoding (without
// the newline json.Encoder adds) is raw: 304 when the client's validator
// matches, else raw and a newline — the bytes writeJSON would have written —
// in one Write.
func (h *Handler) writeProductJSON(w http.ResponseWriter, r *http.Request, id int64, p *domain.Product, raw []byte) {
	if len(raw) == 0 {
		h.writeEntity(w, r, etag('p', p.ID, p.Version), p.UpdatedAt, *p)
		return
	}
	v := h.memo.get(id, p, raw)
	hd := w.Header()
	hd["Etag"] = v.etag
	if v.lastMod != nil {
		hd["Last-Modified"] = v.lastMod
	}
	hd["Cache-Control"] = h.cacheControl
	hd["Vary"] = varyVals
	if conditional(r) && notModified(r, v.etag[0], v.modified) {
		h.notModified.Add(1)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd["Content-Type"] = jsonCT
	hd["Content-Length"] = v.clen
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(v.body)
}
