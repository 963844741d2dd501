package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loadrig/loadrig/internal/cache/rediscache"
	"github.com/loadrig/loadrig/internal/domain"
)

// DrainError is returned by Layer.Close when the write-behind backlog could
// not be flushed to the store before the deadline. The writes are not lost
// while Redis keeps them: the next flusher on the same stream flushes them.
type DrainError struct {
	Remaining int64  // entries still in the stream; -1 when Redis could not be read
	Stream    string // where they wait
	Err       error  // why draining stopped (usually the deadline)
}

func (e *DrainError) Error() string {
	if e.Remaining < 0 {
		return fmt.Sprintf("write-behind: shutdown could not confirm the backlog was flushed (Redis stream %s unreadable): %v", e.Stream, e.Err)
	}
	return fmt.Sprintf("write-behind: %d acknowledged writes not yet in the store (kept in Redis stream %s for the next flusher): %v",
		e.Remaining, e.Stream, e.Err)
}

func (e *DrainError) Unwrap() error { return e.Err }

// writeBehind is the write-behind strategy: product updates are written to
// Redis (the entity, without expiry) and appended to a stream in one
// MULTI/EXEC, then acknowledged; a flusher in a consumer group reads the
// stream, coalesces entries per product (the latest state wins), writes
// them with one store UpsertProducts call, and XACKs+XDELs them, so XLEN is
// the backlog. Entries a crashed flusher read but never acknowledged are
// taken over with XAUTOCLAIM after ClaimIdle. Delivery is at least once;
// UpsertProducts is idempotent for duplicates and skips stale states.
//
// Durability is Redis's: a Redis without persistence (the spawned one)
// loses unflushed writes if it dies. If Redis fails during a write, the
// write falls through to a synchronous store update (counted in errors).
type writeBehind struct {
	l     *Layer
	rb    *rediscache.Backend
	store Upserter
	cfg   WriteBehindConfig

	stripes [64]sync.Mutex // serialise read-modify-write of one product

	ctx    context.Context // the flusher's; cancelled by close
	cancel context.CancelFunc
	stop   chan struct{}
	done   chan struct{}
	// Flusher state, touched only by the flusher goroutine (and by close
	// after it has stopped).
	retry      []rediscache.Message // a batch whose upsert failed, retried next
	cursor     string               // XAUTOCLAIM scan position
	lastClaim  time.Time            // last XAUTOCLAIM scan
	lastBeat   time.Time            // last heartbeat and dead-consumer scan
	groupReady bool                 // the consumer group is known to exist
	// legacy is the stream name before the {p} hash tag (KeyPrefix + "wb"):
	// a backlog left there by an older build is moved to cfg.Stream before
	// the first read, so an upgrade loses no acknowledged write. Empty when
	// the stream was named in the config.
	legacy string

	acked, flushed, upserted, stale, batches, claimed, flushErrs, fallbacks atomic.Int64
	lastBacklog, lastPending                                                atomic.Int64
}

func newWriteBehind(l *Layer, up Upserter, cfg WriteBehindConfig) *writeBehind {
	legacy := ""
	if cfg.Stream == "" {
		cfg.Stream = l.prefix + ProductSlotTag + ":wb" // the products' slot (see ProductSlotTag)
		legacy = l.prefix + "wb"
	}
	if cfg.Group == "" {
		cfg.Group = "flushers"
	}
	if cfg.Consumer == "" {
		cfg.Consumer = consumerName()
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 256
	}
	if cfg.Block <= 0 {
		cfg.Block = 100 * time.Millisecond
	}
	if cfg.ClaimIdle <= 0 {
		cfg.ClaimIdle = 30 * time.Second
	}
	w := &writeBehind{l: l, rb: l.redis, store: up, cfg: cfg, legacy: legacy, cursor: "0-0",
		stop: make(chan struct{}), done: make(chan struct{})}
	// The flusher is a background worker owned by the Layer, not part of
	// any request: its context is cancelled by Close.
	w.ctx, w.cancel = context.WithCancel(context.Background())
	if cfg.NoFlusher {
		close(w.done)
	} else {
		go w.run()
	}
	return w
}

// update is UpdateProduct under write-behind: one Lua script applies the
// patch to the entity in Redis and appends the new state to the stream
// atomically (loading the entity from the store first when Redis lacks
// it), so a concurrent order's stock reservation is never overwritten.
func (w *writeBehind) update(ctx context.Context, id int64, patch domain.ProductPatch) (domain.Product, error) {
	if err := patch.Validate(); err != nil {
		return domain.Product{}, err
	}
	l := w.l
	key := l.productKey(id)
	var b []byte
	var werr error
	for attempt := 0; ; attempt++ {
		l.fill.write(key, func() { // no miss that read the store earlier may overwrite it
			b, werr = w.rb.PatchProduct(ctx, key, w.cfg.Stream, patch.Price, patch.Stock, l.now())
		})
		if !errors.Is(werr, rediscache.ErrMissing) || attempt == 3 {
			break
		}
		if _, err := w.load(ctx, []int64{id}); err != nil {
			return domain.Product{}, err
		}
	}
	if werr != nil {
		return w.fallback(ctx, id, patch)
	}
	var next domain.Product
	if err := json.Unmarshal(b, &next); err != nil {
		l.errs.Add(1)
		return domain.Product{}, err
	}
	w.acked.Add(1)
	w.changed(ctx, next)
	return next, nil
}

// changed updates what derives from product p after an acknowledged write.
func (w *writeBehind) changed(ctx context.Context, p domain.Product) {
	l := w.l
	l.sets.Add(1)
	l.sf.Forget(l.productKey(p.ID))
	l.listGen.Add(1)
	l.resp.Invalidate(ProductTag(p.ID), ListTag)
	if l.feed != nil {
		l.feed.PublishProduct(p)
	}
}

// load puts the store's state of products ids into Redis where Redis has
// none (SET NX, with the entity TTL: nothing is pending for them). An id
// the store does not know is CodeInvalid.
func (w *writeBehind) load(ctx context.Context, ids []int64) ([]domain.Product, error) {
	ps, err := w.l.store.GetProducts(ctx, ids)
	if err != nil {
		return nil, err
	}
	for i, p := range ps {
		if p.ID == 0 {
			return nil, domain.Errorf(domain.CodeNotFound, "product %d not found", ids[i])
		}
		b, err := json.Marshal(p)
		if err != nil {
			return nil, err
		}
		if err := w.rb.SetNX(ctx, w.l.productKey(p.ID), b, w.l.entryTTL(w.l.ttl)); err != nil {
			return nil, err
		}
	}
	return ps, nil
}

// OrderRecorder is what write-behind needs from the store to place an
// order whose stock it reserved in Redis (*store.Store implements it).
type OrderRecorder interface {
	RecordOrder(ctx context.Context, o domain.Order) (domain.Order, error)
}

// createOrder is CreateOrder under write-behind: the stock is reserved in
// Redis by one Lua script (all items or none; an order past the
// acknowledged stock is a conflict at once, before any flush, and stock
// never goes negative), the new product states queue on the stream like
// any product write, and the order row is written to the store
// synchronously. If the store refuses the order, the reservation is given
// back. When Redis fails, the order goes to the store directly.
func (w *writeBehind) createOrder(ctx context.Context, in domain.NewOrder) (domain.Order, error) {
	rec, ok := w.l.store.(OrderRecorder)
	if !ok {
		return w.l.store.CreateOrder(ctx, in)
	}
	if len(in.Items) == 0 {
		return domain.Order{}, domain.Errorf(domain.CodeInvalid, "an order needs at least one item")
	}
	want := map[int64]int64{}
	var ids []int64
	for _, it := range in.Items {
		if it.Quantity < 1 {
			return domain.Order{}, domain.Errorf(domain.CodeInvalid, "quantity of product %d must be >= 1, got %d", it.ProductID, it.Quantity)
		}
		if _, seen := want[it.ProductID]; !seen {
			ids = append(ids, it.ProductID)
		}
		want[it.ProductID] += it.Quantity
		if want[it.ProductID] < 0 {
			return domain.Order{}, domain.Errorf(domain.CodeInvalid, "quantity of product %d overflows", it.ProductID)
		}
	}
	slices.Sort(ids)
	keys := make([]string, len(ids))
	qty := make([]int64, len(ids))
	for i, id := range ids {
		keys[i], qty[i] = w.l.productKey(id), want[id]
	}
	states, err := w.reserve(ctx, keys, qty, ids)
	var sc *rediscache.StockConflict
	switch {
	case errors.As(err, &sc):
		return domain.Order{}, domain.Errorf(domain.CodeConflict, "insufficient stock for product %d: %d left, %d wanted", ids[sc.Index], sc.Stock, sc.Want)
	case domain.ErrorCode(err) == domain.CodeNotFound:
		return domain.Order{}, domain.Errorf(domain.CodeInvalid, "unknown product: %s", domain.ErrorMessage(err))
	case err != nil && domain.ErrorCode(err) != domain.CodeInternal:
		return domain.Order{}, err // the store failed while loading
	case err != nil:
		w.l.errs.Add(1)
		w.fallbacks.Add(1)
		return w.l.store.CreateOrder(ctx, in) // Redis failed: the store decides
	}
	w.acked.Add(int64(len(states)))
	price := map[int64]domain.Product{}
	for _, b := range states {
		var p domain.Product
		if err := json.Unmarshal(b, &p); err == nil {
			price[p.ID] = p
			w.changed(ctx, p)
		}
	}
	now := w.l.now().UTC().Round(0)
	o := domain.Order{UserID: in.UserID, Status: domain.OrderPending, Version: 1, UpdatedAt: now, Items: make([]domain.OrderItem, len(in.Items))}
	total := 0.0
	for i, it := range in.Items {
		p := price[it.ProductID]
		o.Items[i] = domain.OrderItem{ProductID: it.ProductID, Quantity: it.Quantity, UnitPrice: p.Price}
		total += float64(it.Quantity) * p.Price
	}
	o.Total = domain.RoundCents(total)
	out, err := rec.RecordOrder(ctx, o)
	if err != nil {
		// Give the stock back (a new state, queued like the reservation).
		neg := make([]int64, len(qty))
		for i, q := range qty {
			neg[i] = -q
		}
		if back, rerr := w.reserve(context.WithoutCancel(ctx), keys, neg, ids); rerr == nil {
			for _, b := range back {
				var p domain.Product
				if json.Unmarshal(b, &p) == nil {
					w.changed(ctx, p)
				}
			}
			w.acked.Add(int64(len(back)))
		} else {
			w.l.errs.Add(1)
		}
		return domain.Order{}, err
	}
	return out, nil
}

// reserve runs the reservation script, loading entities Redis lacks.
func (w *writeBehind) reserve(ctx context.Context, keys []string, qty, ids []int64) ([][]byte, error) {
	for attempt := 0; ; attempt++ {
		states, err := w.rb.ReserveStock(ctx, keys, qty, w.cfg.Stream, w.l.now())
		if !errors.Is(err, rediscache.ErrMissing) || attempt == 3 {
			return states, err
		}
		if _, err := w.load(ctx, ids); err != nil {
			return nil, err
		}
	}
}

// fallback writes synchronously to the store when Redis fails, so a Redis
// outage never fails a write.
func (w *writeBehind) fallback(ctx context.Context, id int64, patch domain.ProductPatch) (domain.Product, error) {
	w.l.errs.Add(1)
	w.fallbacks.Add(1)
	p, err := w.l.store.UpdateProduct(ctx, id, patch)
	if err != nil {
		return p, err
	}
	w.l.productChanged(ctx, p, false) // best effort: drop the stale copy if Redis answers
	return p, nil
}

func (w *writeBehind) run() {
	defer close(w.done)
	backoff := 50 * time.Millisecond
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		_, err := w.step(w.ctx, w.cfg.Block, w.cfg.ClaimIdle)
		if err == errCrashed {
			return
		}
		if err != nil {
			if w.ctx.Err() != nil {
				return
			}
			w.flushErrs.Add(1)
			w.l.errs.Add(1)
			select {
			case <-w.stop:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
	}
}

// Flusher liveness: each flusher refreshes its alive key every
// HeartbeatEvery with a lifetime of HeartbeatTTL; a flusher whose key has
// expired is dead, and its pending entries are claimed by the next flusher
// that looks (within about HeartbeatTTL + HeartbeatEvery of the death).
const (
	HeartbeatEvery = time.Second
	HeartbeatTTL   = 3 * time.Second
)

func (w *writeBehind) aliveKey(consumer string) string {
	return w.cfg.Stream + ":alive:" + consumer
}

var errCrashed = fmt.Errorf("write-behind flusher crashed (test hook)")

// step flushes at most one batch: a failed batch again, else entries
// abandoned by dead consumers (XAUTOCLAIM), else new entries (waiting up to
// block). It returns how many entries it flushed.
func (w *writeBehind) step(ctx context.Context, block, claimIdle time.Duration) (int, error) {
	msgs := w.retry
	if len(msgs) == 0 {
		if !w.groupReady {
			if w.legacy != "" {
				if _, err := w.rb.MoveStream(ctx, w.legacy, w.cfg.Stream); err != nil {
					return 0, err
				}
				w.legacy = "" // moved, absent, or both exist (then the newer one is ours)
			}
			if err := w.rb.EnsureGroup(ctx, w.cfg.Stream, w.cfg.Group); err != nil {
				return 0, err
			}
			w.groupReady = true
		}
		// Say this flusher is alive, and take over at once what dead
		// flushers (alive key expired: a crashed or killed process) had
		// read but not flushed.
		var err error
		if now := time.Now(); now.Sub(w.lastBeat) >= HeartbeatEvery {
			w.lastBeat = now
			if err := w.rb.Heartbeat(ctx, w.aliveKey(w.cfg.Consumer), HeartbeatTTL); err != nil {
				return 0, err
			}
			if msgs, err = w.rb.ClaimDead(ctx, w.cfg.Stream, w.cfg.Group, w.cfg.Consumer, w.aliveKey(""), int64(w.cfg.BatchSize)); err != nil {
				w.noteErr(err)
				return 0, err
			}
			w.claimed.Add(int64(len(msgs)))
		}
		// Scan for abandoned entries a few times per ClaimIdle, not on
		// every read (each scan is a round trip); always when draining.
		if now := time.Now(); len(msgs) == 0 && (claimIdle == 0 || now.Sub(w.lastClaim) >= claimIdle/4 || w.cursor != "0-0") {
			w.lastClaim = now
			var next string
			msgs, next, err = w.rb.AutoClaim(ctx, w.cfg.Stream, w.cfg.Group, w.cfg.Consumer, claimIdle, w.cursor, int64(w.cfg.BatchSize))
			if err != nil {
				w.noteErr(err)
				return 0, err
			}
			w.cursor = next
			w.claimed.Add(int64(len(msgs)))
		}
		if len(msgs) == 0 {
			if msgs, err = w.rb.ReadGroup(ctx, w.cfg.Stream, w.cfg.Group, w.cfg.Consumer, int64(w.cfg.BatchSize), block); err != nil {
				w.noteErr(err)
				return 0, err
			}
		}
	}
	if len(msgs) == 0 {
		return 0, nil
	}
	if w.cfg.crashAfterRead {
		return 0, errCrashed
	}
	// Coalesce: the latest state of each product wins (stream order).
	latest := map[int64]int{}
	var ps []domain.Product
	var keys []string
	for _, m := range msgs {
		var p domain.Product
		if err := json.Unmarshal(m.Value, &p); err != nil || p.ID == 0 {
			w.l.errs.Add(1) // a malformed entry is acknowledged below and dropped
			continue
		}
		if i, ok := latest[p.ID]; ok {
			ps[i] = p
			continue
		}
		latest[p.ID] = len(ps)
		ps = append(ps, p)
		keys = append(keys, m.Key)
	}
	if len(ps) > 0 {
		res, err := w.store.UpsertProducts(ctx, ps)
		if err != nil {
			w.retry = msgs
			return 0, err
		}
		w.upserted.Add(int64(res.Applied))
		w.stale.Add(int64(res.Stale))
	}
	w.retry = nil
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	if err := w.rb.AckDelete(ctx, w.cfg.Stream, w.cfg.Group, ids...); err != nil {
		// Still pending: redelivered later; the upsert is idempotent.
		return 0, err
	}
	w.flushed.Add(int64(len(msgs)))
	w.batches.Add(1)
	// Flushed entities may now expire like any cached entity.
	if err := w.rb.Expire(ctx, w.l.entryTTL(w.l.ttl), keys...); err != nil {
		w.l.errs.Add(1)
	}
	return len(msgs), nil
}

// noteErr re-creates the group on the next step when Redis lost it (a
// restarted Redis without persistence).
func (w *writeBehind) noteErr(err error) {
	if strings.Contains(err.Error(), "NOGROUP") {
		w.groupReady = false
	}
}

// close stops the flusher and drains the backlog until ctx ends.
func (w *writeBehind) close(ctx context.Context) error {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	select {
	case <-w.done:
	case <-ctx.Done():
		w.cancel()
		<-w.done
	}
	defer w.cancel()
	if w.cfg.NoFlusher || w.cfg.crashAfterRead {
		return nil // another process flushes (or the test simulates a crash)
	}
	var last error
	for ctx.Err() == nil {
		// Claim everything, however fresh: on shutdown nobody else is
		// expected to finish these entries.
		n, err := w.step(ctx, 0, 0)
		if err != nil {
			last = err
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		if n > 0 {
			continue
		}
		bl, err := w.rb.StreamBacklog(ctx, w.cfg.Stream, w.cfg.Group)
		if err == nil && bl.Length == 0 {
			return nil
		}
		if err != nil {
			last = err
		}
	}
	if last == nil {
		last = ctx.Err()
	}
	// Report what remains with a short grace period past the deadline.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 250*time.Millisecond)
	defer cancel()
	bl, err := w.rb.StreamBacklog(rctx, w.cfg.Stream, w.cfg.Group)
	if err != nil {
		return &DrainError{Remaining: -1, Stream: w.cfg.Stream, Err: fmt.Errorf("%v (and the backlog could not be read: %v)", last, err)}
	}
	if bl.Length == 0 {
		return nil
	}
	return &DrainError{Remaining: bl.Length, Stream: w.cfg.Stream, Err: last}
}

// WriteBehindStats describes the write-behind queue; all zero unless the
// strategy is write-behind.
type WriteBehindStats struct {
	Enabled      bool    `json:"enabled"`
	Backlog      int64   `json:"backlog"`       // acknowledged writes not yet in the store (XLEN)
	Pending      int64   `json:"pending"`       // of which delivered to a flusher, not yet acknowledged
	LagMS        float64 `json:"lag_ms"`        // age of the oldest unflushed write; 0 when none
	Acknowledged int64   `json:"acknowledged"`  // writes accepted into Redis + stream
	Flushed      int64   `json:"flushed"`       // stream entries written to the store and acknowledged
	Upserted     int64   `json:"upserted"`      // product rows the store applied (after coalescing)
	Stale        int64   `json:"stale"`         // entries the store skipped as older than its state
	Batches      int64   `json:"batches"`       // UpsertProducts calls
	Claimed      int64   `json:"claimed"`       // entries taken over from dead flushers (XAUTOCLAIM)
	FlushErrors  int64   `json:"flush_errors"`  // failed flush attempts (retried)
	Fallbacks    int64   `json:"fallbacks"`     // writes sent straight to the store because Redis failed
	Stream       string  `json:"stream"`        // the Redis Stream
	Consumer     string  `json:"consumer"`      // this process's flusher name
	FlusherAlive bool    `json:"flusher_alive"` // the flusher goroutine runs
}

func (w *writeBehind) stats(ctx context.Context) WriteBehindStats {
	s := WriteBehindStats{
		Enabled:      true,
		Acknowledged: w.acked.Load(),
		Flushed:      w.flushed.Load(),
		Upserted:     w.upserted.Load(),
		Stale:        w.stale.Load(),
		Batches:      w.batches.Load(),
		Claimed:      w.claimed.Load(),
		FlushErrors:  w.flushErrs.Load(),
		Fallbacks:    w.fallbacks.Load(),
		Stream:       w.cfg.Stream,
		Consumer:     w.cfg.Consumer,
	}
	select {
	case <-w.done:
	default:
		s.FlusherAlive = true
	}
	ctx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
	defer cancel()
	bl, err := w.rb.StreamBacklog(ctx, w.cfg.Stream, w.cfg.Group)
	if err != nil {
		w.l.errs.Add(1)
		s.Backlog, s.Pending = w.lastBacklog.Load(), w.lastPending.Load()
		return s
	}
	w.lastBacklog.Store(bl.Length)
	w.lastPending.Store(bl.Pending)
	s.Backlog, s.Pending = bl.Length, bl.Pending
	if !bl.Oldest.IsZero() {
		s.LagMS = max(0, float64(w.l.now().Sub(bl.Oldest).Microseconds())/1000)
	}
	return s
}
