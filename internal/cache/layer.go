package cache

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/loadrig/loadrig/internal/domain"
)

// ---- keys ----

func (l *Layer) key(kind string, id int64) string {
	var buf [64]byte // on the stack: the string conversion is the one allocation
	b := append(buf[:0], l.prefix...)
	b = append(b, kind...)
	b = strconv.AppendInt(b, id, 10)
	return string(b)
}

// ProductSlotTag is the Redis Cluster hash tag of every product entity key and
// of the write-behind stream: a cluster hashes only the text between the
// first braces, so "<prefix>{p}:7", "<prefix>{p}:9" and "<prefix>{p}:wb" share
// one slot, and the scripts that change several products and append to the
// stream in one atomic step (write-behind's stock reservation and patch,
// SetAndAppend's MULTI) are legal there. The prefix stays a plain leading
// prefix (several stacks still share one Redis; SCAN MATCH prefix* finds
// everything); a prefix holding its own {tag} wins, which co-locates the
// same keys. The cost: under write-behind every product lives on one node
// of a cluster (orders touch any set of products, so no finer split keeps
// them atomic); users, orders, lists and responses spread over all slots.
const ProductSlotTag = "{p}"

// productKey is the cache key of product id. The hot read (a cached GET
// /api/products/{id}) would format and allocate it on every request; the
// key of each recently read id is kept instead in a fixed array of slots
// (id modulo keySlots, the id checked), so a repeated id costs no
// allocation and a client asking for many ids cannot grow it.
func (l *Layer) productKey(id int64) string {
	slot := &l.pkeys[uint64(id)%keySlots]
	if k := slot.Load(); k != nil && k.id == id {
		return k.key
	}
	k := &keySlot{id: id, key: l.key(ProductSlotTag+":", id)}
	slot.Store(k)
	return k.key
}

// keySlots is the number of product key slots (about 40 bytes each when
// filled).
const keySlots = 1024

type keySlot struct {
	id  int64
	key string
}

func (l *Layer) userKey(id int64) string  { return l.key("u:", id) }
func (l *Layer) orderKey(id int64) string { return l.key("o:", id) }
func (l *Layer) userOrdersKey(id int64) string {
	return l.key("uo:", id)
}

// listKey names one product list page. It carries the list generation, which
// every product change bumps, so a change invalidates every cached page in
// O(1); old pages expire by ListTTL. Generations live in this process (the
// nonce keeps a restarted process from reading an older run's pages).
func (l *Layer) listKey(f domain.ProductFilter) string {
	var sb strings.Builder
	sb.WriteString(l.prefix)
	sb.WriteString("l:")
	sb.WriteString(l.nonce)
	sb.WriteByte(':')
	sb.WriteString(strconv.FormatInt(l.listGen.Load(), 10))
	sb.WriteByte(':')
	sb.WriteString(strconv.FormatInt(f.After, 10))
	sb.WriteByte(':')
	sb.WriteString(strconv.Itoa(f.Offset))
	sb.WriteByte(':')
	sb.WriteString(strconv.Itoa(f.Limit))
	sb.WriteByte(':')
	sb.WriteString(f.Category)
	return sb.String()
}

func (l *Layer) reviewGen(productID int64) *atomic.Int64 {
	return &l.gens[uint64(productID)%genStripes]
}

func (l *Layer) reviewsKey(productID int64, offset, limit int) string {
	return l.prefix + "r:" + l.nonce + ":" + strconv.FormatInt(l.reviewGen(productID).Load(), 10) + ":" +
		strconv.FormatInt(productID, 10) + ":" + strconv.Itoa(offset) + ":" + strconv.Itoa(limit)
}

// ---- backend access: errors are counted and swallowed ----

// getObj reads key into dst: from the decoded value an in-process backend
// keeps (no decode), else by decoding the bytes. Any backend or decoding
// error counts in Stats.Errors and reads as a miss: the caller falls through
// to the store.
func getObj[T any](l *Layer, ctx context.Context, key string, dst *T) bool {
	if vb := l.vb; vb != nil {
		raw, obj, ok, err := vb.GetValue(ctx, key)
		if err != nil {
			l.errs.Add(1)
			return false
		}
		if !ok {
			return false
		}
		if v, ok := obj.(*T); ok {
			*dst = *v
			return true
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			l.errs.Add(1)
			return false
		}
		return true
	}
	return l.getJSON(ctx, key, dst)
}

// getJSON reads key into dst by decoding the stored bytes.
func (l *Layer) getJSON(ctx context.Context, key string, dst any) bool {
	v, ok, err := l.b.Get(ctx, key)
	if err != nil {
		l.errs.Add(1)
		return false
	}
	if !ok {
		return false
	}
	if err := json.Unmarshal(v, dst); err != nil {
		l.errs.Add(1)
		return false
	}
	return true
}

// setJSON stores v encoded and, in an in-process backend, decoded: as a
// pointer to its own copy, so a reader that only needs a few of its fields
// or the bytes beside it (GetProductJSON) shares it instead of copying it
// out of the interface. Readers treat it as read-only.
func setJSON[T any](l *Layer, ctx context.Context, key string, v T, ttl time.Duration) {
	b, err := json.Marshal(v)
	if err != nil {
		l.errs.Add(1)
		return
	}
	if vb := l.vb; vb != nil {
		err = vb.SetValue(ctx, key, b, &v, l.entryTTL(ttl))
	} else {
		err = l.b.Set(ctx, key, b, l.entryTTL(ttl))
	}
	if err != nil {
		l.errs.Add(1)
		return
	}
	l.sets.Add(1)
}

func (l *Layer) del(ctx context.Context, keys ...string) {
	if err := l.b.Delete(ctx, keys...); err != nil {
		l.errs.Add(1)
	}
}

// passThrough reports whether a read skips the cache, marking the trace
// when the request asked for it.
func (l *Layer) passThrough(ctx context.Context) bool {
	if domain.Bypass(ctx) {
		if l.b != nil {
			l.bypassed.Add(1)
		}
		domain.CacheTraceFrom(ctx).Mark(domain.CacheBypass)
		return true
	}
	return l.through
}

// read is the cache-aside read of one key: a hit is decoded and returned; a
// miss loads through singleflight, so N concurrent misses of one key cost
// one store call, and the loaded value is cached. The shared load runs
// without the first caller's cancellation; each caller still returns as soon
// as its own ctx ends. Errors are not cached.
func read[T any](l *Layer, ctx context.Context, key string, ttl time.Duration, load func(context.Context) (T, error)) (T, error) {
	var v T
	if getObj(l, ctx, key, &v) {
		l.hits.Add(1)
		l.saved.Add(1)
		domain.CacheTraceFrom(ctx).Mark(domain.CacheHit)
		return v, nil
	}
	l.misses.Add(1)
	domain.CacheTraceFrom(ctx).Mark(domain.CacheMiss)
	return loadShared(l, ctx, key, func(lctx context.Context) (T, error) {
		gen := l.fill.gen(key) // before the store read: see fillGuard
		v, err := load(lctx)
		if err == nil {
			l.fill.fill(key, gen, func() { setJSON(l, lctx, key, v, ttl) })
		}
		return v, err
	})
}

// loadShared runs load once per key among concurrent callers.
func loadShared[T any](l *Layer, ctx context.Context, key string, load func(context.Context) (T, error)) (T, error) {
	ran := false
	ch := l.sf.DoChan(key, func() (any, error) {
		ran = true
		l.loads.Add(1)
		return load(context.WithoutCancel(ctx))
	})
	select {
	case r := <-ch:
		if !ran {
			l.saved.Add(1) // a follower: its store call was saved
		}
		v, _ := r.Val.(T)
		return v, r.Err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// ---- reads ----

// GetProduct reads a product, cache-aside.
func (l *Layer) GetProduct(ctx context.Context, id int64) (domain.Product, error) {
	if l.passThrough(ctx) {
		return l.store.GetProduct(ctx, id)
	}
	return read(l, ctx, l.productKey(id), l.ttl, func(c context.Context) (domain.Product, error) {
		return l.store.GetProduct(c, id)
	})
}

// GetProductJSON is GetProduct for a server that answers with the product
// as JSON: on a hit in an in-process backend (ValueBackend) it returns the
// product the backend keeps and the bytes stored beside it — json.Marshal
// of that very product, written by setJSON — so the server writes them
// instead of encoding the entity again on every hit, and reads no more of
// the product than it needs (nothing, once it has seen those bytes). Both
// are shared and read-only. raw is nil on a miss, a bypass, a Redis
// backend or no cache (the caller encodes p, then its own copy). Hits,
// misses and the trace count exactly as in GetProduct.
func (l *Layer) GetProductJSON(ctx context.Context, id int64) (p *domain.Product, raw []byte, err error) {
	if l.passThrough(ctx) {
		return storedProduct(l.store.GetProduct(ctx, id))
	}
	key := l.productKey(id)
	if vb := l.vb; vb != nil {
		raw, obj, ok, err := vb.GetValue(ctx, key)
		if p, isP := obj.(*domain.Product); ok && err == nil && isP {
			l.hits.Add(1)
			l.saved.Add(1)
			domain.CacheTraceFrom(ctx).Mark(domain.CacheHit)
			return p, raw, nil
		}
	}
	// Not a ready in-process hit: the ordinary read (which looks once more,
	// and counts the hit or the miss).
	return storedProduct(read(l, ctx, key, l.ttl, func(c context.Context) (domain.Product, error) {
		return l.store.GetProduct(c, id)
	}))
}

// storedProduct is GetProductJSON's answer for a product read without its
// JSON: a copy of its own on the heap. (A variable in GetProductJSON whose
// address it returned would be on the heap for every call, hits included.)
func storedProduct(v domain.Product, err error) (*domain.Product, []byte, error) {
	return &v, nil, err
}

// GetProducts reads a batch: one multi-get from the cache, then the misses
// with one store GetProducts call (shared among concurrent identical
// batches), whose results are cached.
func (l *Layer) GetProducts(ctx context.Context, ids []int64) ([]domain.Product, error) {
	if l.passThrough(ctx) || len(ids) == 0 {
		return l.store.GetProducts(ctx, ids)
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = l.productKey(id)
	}
	out := make([]domain.Product, len(ids))
	var missIDs []int64
	var missAt []int
	if l.vb != nil {
		for i, k := range keys {
			if !getObj(l, ctx, k, &out[i]) {
				missIDs = append(missIDs, ids[i])
				missAt = append(missAt, i)
			}
		}
	} else {
		vals, err := mget(ctx, l.b, keys)
		if err != nil {
			l.errs.Add(1)
			vals = make([][]byte, len(ids))
		}
		for i, v := range vals {
			if v != nil {
				if err := json.Unmarshal(v, &out[i]); err == nil {
					continue
				}
				l.errs.Add(1)
			}
			missIDs = append(missIDs, ids[i])
			missAt = append(missAt, i)
		}
	}
	l.hits.Add(int64(len(ids) - len(missIDs)))
	if len(missIDs) == 0 {
		l.saved.Add(1)
		domain.CacheTraceFrom(ctx).Mark(domain.CacheHit)
		return out, nil
	}
	l.misses.Add(int64(len(missIDs)))
	domain.CacheTraceFrom(ctx).Mark(domain.CacheMiss)
	var sk strings.Builder
	sk.WriteString("batch:")
	for _, id := range missIDs {
		sk.WriteString(strconv.FormatInt(id, 10))
		sk.WriteByte(',')
	}
	loaded, err := loadShared(l, ctx, sk.String(), func(c context.Context) ([]domain.Product, error) {
		// Generations before the store read: see fillGuard.
		gens := make([]uint64, len(missIDs))
		for i, id := range missIDs {
			gens[i] = l.fill.gen(l.productKey(id))
		}
		ps, err := l.store.GetProducts(c, missIDs)
		if err != nil {
			return nil, err
		}
		var fps []domain.Product // found, with their keys and generations
		var fkeys []string
		var fgens []uint64
		for i, p := range ps {
			if p.ID != 0 && i < len(gens) {
				fps, fkeys, fgens = append(fps, p), append(fkeys, l.productKey(p.ID)), append(fgens, gens[i])
			}
		}
		if len(fps) == 0 {
			return ps, nil
		}
		l.fill.fillMany(fkeys, fgens, func(ok []int) {
			if l.vb != nil {
				for _, i := range ok {
					setJSON(l, c, fkeys[i], fps[i], l.ttl)
				}
				return
			}
			var ks []string
			var vs [][]byte
			var ttls []time.Duration
			for _, i := range ok {
				b, err := json.Marshal(fps[i])
				if err != nil {
					l.errs.Add(1)
					continue
				}
				ks, vs, ttls = append(ks, fkeys[i]), append(vs, b), append(ttls, l.entryTTL(l.ttl))
			}
			if err := mset(c, l.b, ks, vs, ttls); err != nil {
				l.errs.Add(1)
			} else {
				l.sets.Add(int64(len(ks)))
			}
		})
		return ps, nil
	})
	if err != nil {
		return nil, err
	}
	for k, i := range missAt {
		out[i] = loaded[k]
	}
	return out, nil
}

// ListProducts reads a page of products. Pages are cached for ListTTL under
// the list generation, which every product change bumps (see listKey); with
// a negative ListTTL they always come from the store (marked MISS).
func (l *Layer) ListProducts(ctx context.Context, f domain.ProductFilter) (domain.ProductPage, error) {
	if l.passThrough(ctx) {
		return l.store.ListProducts(ctx, f)
	}
	var err error
	if f.Offset, f.Limit, err = domain.NormalizePage(f.Offset, f.Limit); err != nil {
		return domain.ProductPage{}, err
	}
	if l.listTTL < 0 {
		l.misses.Add(1)
		domain.CacheTraceFrom(ctx).Mark(domain.CacheMiss)
		return l.store.ListProducts(ctx, f)
	}
	return read(l, ctx, l.listKey(f), l.listTTL, func(c context.Context) (domain.ProductPage, error) {
		return l.store.ListProducts(c, f)
	})
}

// ProductReviews reads a page of reviews, cached under the product's review
// generation (bumped by CreateReviews and DeleteProduct) for ListTTL.
func (l *Layer) ProductReviews(ctx context.Context, productID int64, offset, limit int) ([]domain.Review, error) {
	if l.passThrough(ctx) {
		return l.store.ProductReviews(ctx, productID, offset, limit)
	}
	var err error
	if offset, limit, err = domain.NormalizePage(offset, limit); err != nil {
		return nil, err
	}
	ttl := l.listTTL
	if ttl < 0 {
		l.misses.Add(1)
		domain.CacheTraceFrom(ctx).Mark(domain.CacheMiss)
		return l.store.ProductReviews(ctx, productID, offset, limit)
	}
	return read(l, ctx, l.reviewsKey(productID, offset, limit), ttl, func(c context.Context) ([]domain.Review, error) {
		return l.store.ProductReviews(c, productID, offset, limit)
	})
}

// ProductVersion answers from the cached product without a store call
// (marking HIT), so a conditional GET can be a 304 that never touches the
// store. When the product is not cached (or on bypass, no backend, response
// mode) ok is false and the caller reads the product instead.
func (l *Layer) ProductVersion(ctx context.Context, id int64) (domain.Version, bool) {
	if l.passThrough(ctx) {
		return l.store.ProductVersion(ctx, id)
	}
	var v domain.Product
	if !getObj(l, ctx, l.productKey(id), &v) {
		return domain.Version{}, false
	}
	l.hits.Add(1)
	l.saved.Add(1)
	domain.CacheTraceFrom(ctx).Mark(domain.CacheHit)
	return domain.Version{Version: v.Version, UpdatedAt: v.UpdatedAt}, true
}

// GetUser reads a user, cache-aside.
func (l *Layer) GetUser(ctx context.Context, id int64) (domain.User, error) {
	if l.passThrough(ctx) {
		return l.store.GetUser(ctx, id)
	}
	return read(l, ctx, l.userKey(id), l.ttl, func(c context.Context) (domain.User, error) {
		return l.store.GetUser(c, id)
	})
}

// UserByEmail always reads the store (login path; never cached).
func (l *Layer) UserByEmail(ctx context.Context, email string) (domain.User, error) {
	return l.store.UserByEmail(ctx, email)
}

// Authenticate passes through to the store's Authenticator (credentials are
// never cached).
func (l *Layer) Authenticate(ctx context.Context, email, password string) (domain.User, error) {
	a, ok := l.store.(domain.Authenticator)
	if !ok {
		return domain.User{}, domain.Errorf(domain.CodeUnavailable, "login is not supported by this store")
	}
	return a.Authenticate(ctx, email, password)
}

// UserOrders reads a user's orders, cache-aside; CreateOrder invalidates.
func (l *Layer) UserOrders(ctx context.Context, userID int64) ([]domain.Order, error) {
	if l.passThrough(ctx) {
		return l.store.UserOrders(ctx, userID)
	}
	return read(l, ctx, l.userOrdersKey(userID), l.ttl, func(c context.Context) ([]domain.Order, error) {
		return l.store.UserOrders(c, userID)
	})
}

// GetOrder reads an order, cache-aside (orders do not change once placed).
func (l *Layer) GetOrder(ctx context.Context, id int64) (domain.Order, error) {
	if l.passThrough(ctx) {
		return l.store.GetOrder(ctx, id)
	}
	return read(l, ctx, l.orderKey(id), l.ttl, func(c context.Context) (domain.Order, error) {
		return l.store.GetOrder(c, id)
	})
}

var (
	_ domain.Catalog       = (*Layer)(nil)
	_ domain.Authenticator = (*Layer)(nil)
)
