package rediscache

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// ---- flusher liveness: prompt takeover of a dead flusher's entries ----

// Heartbeat marks consumer alive for ttl (SET key PX ttl). A flusher
// refreshes it well within ttl; when the process dies the key expires, and
// ClaimDead lets another flusher take its pending entries at once, without
// waiting for them to sit idle.
func (b *Backend) Heartbeat(ctx context.Context, aliveKey string, ttl time.Duration) error {
	return b.c.Set(ctx, aliveKey, "1", ttl).Err()
}

// ClaimDead finds the consumers of group with pending entries whose alive
// key (alivePrefix + name) is gone, takes up to count of their pending
// entries for self (XCLAIM, any idle time) and removes a dead consumer once
// it holds nothing. It returns the claimed entries.
func (b *Backend) ClaimDead(ctx context.Context, stream, group, self, alivePrefix string, count int64) ([]Message, error) {
	cs, err := b.c.XInfoConsumers(ctx, stream, group).Result()
	if err != nil {
		return nil, err
	}
	var out []Message
	for _, c := range cs {
		if c.Name == self {
			continue
		}
		n, err := b.c.Exists(ctx, alivePrefix+c.Name).Result()
		if err != nil {
			return out, err
		}
		if n > 0 {
			continue // alive
		}
		if c.Pending == 0 {
			_ = b.c.XGroupDelConsumer(ctx, stream, group, c.Name).Err()
			continue
		}
		pend, err := b.c.XPendingExt(ctx, &redis.XPendingExtArgs{
			Stream: stream, Group: group, Start: "-", End: "+", Count: count - int64(len(out)), Consumer: c.Name,
		}).Result()
		if err != nil {
			return out, err
		}
		if len(pend) == 0 {
			continue
		}
		ids := make([]string, len(pend))
		for i, p := range pend {
			ids[i] = p.ID
		}
		msgs, err := b.c.XClaim(ctx, &redis.XClaimArgs{Stream: stream, Group: group, Consumer: self, MinIdle: 0, Messages: ids}).Result()
		if err != nil {
			return out, err
		}
		out = append(out, messages(msgs)...)
		if int64(len(out)) >= count {
			break
		}
	}
	return out, nil
}

// MoveStream renames the stream from to to, with its entries, consumer
// groups and pending lists (RENAMENX), when from exists and to does not;
// it reports whether it moved. Write-behind uses it once at start to carry
// the backlog of an older key layout over.
func (b *Backend) MoveStream(ctx context.Context, from, to string) (bool, error) {
	n, err := b.c.Exists(ctx, from).Result()
	if err != nil || n == 0 {
		return false, err
	}
	return b.c.RenameNX(ctx, from, to).Result()
}

// ---- atomic product changes in Redis (write-behind) ----

// ErrMissing says an entity the script needed is not in Redis; the caller
// loads it from the store (SetNX) and tries again.
var ErrMissing = errors.New("rediscache: entity not in redis")

// StockConflict is ReserveStock's refusal: Index is the key whose stock
// was short.
type StockConflict struct {
	Index int
	Stock int64
	Want  int64
}

func (e *StockConflict) Error() string {
	return "insufficient stock: " + strconv.FormatInt(e.Stock, 10) + " left, " + strconv.FormatInt(e.Want, 10) + " wanted"
}

// reserveScript takes quantities out of the stock of JSON entities
// KEYS[1..n] all or nothing (a negative quantity gives stock back), bumps
// each version, stamps updated_at (ARGV[n+1]), stores them without expiry
// and appends each new state to the stream KEYS[n+1], in one atomic step.
// It returns {"ok", json...}, {"missing", i} or {"conflict", i, stock}.
var reserveScript = redis.NewScript(`
local n = #KEYS - 1
local states = {}
for i = 1, n do
  local raw = redis.call('GET', KEYS[i])
  if not raw then return {'missing', i} end
  local p = cjson.decode(raw)
  local want = tonumber(ARGV[i])
  if want > 0 and p.stock < want then return {'conflict', i, p.stock} end
  states[i] = p
end
local out = {'ok'}
for i = 1, n do
  local p = states[i]
  p.stock = p.stock - tonumber(ARGV[i])
  p.version = p.version + 1
  p.updated_at = ARGV[n + 1]
  local js = cjson.encode(p)
  redis.call('SET', KEYS[i], js)
  redis.call('XADD', KEYS[n + 1], '*', 'k', KEYS[i], 'v', js)
  out[i + 1] = js
end
return out
`)

// ReserveStock atomically takes qty[i] out of the stock of the product
// JSON under keys[i] (all or nothing), bumps versions and queues the new
// states on stream. It returns the new states, ErrMissing when a key is not
// in Redis, or a *StockConflict. Negative quantities return stock.
func (b *Backend) ReserveStock(ctx context.Context, keys []string, qty []int64, stream string, at time.Time) ([][]byte, error) {
	args := make([]any, 0, len(qty)+1)
	for _, q := range qty {
		args = append(args, q)
	}
	args = append(args, at.UTC().Format(time.RFC3339Nano))
	res, err := reserveScript.Run(ctx, b.c, append(append([]string{}, keys...), stream), args...).Slice()
	if err != nil {
		return nil, err
	}
	return scriptResult(res, qty)
}

func scriptResult(res []any, qty []int64) ([][]byte, error) {
	if len(res) == 0 {
		return nil, errors.New("rediscache: empty script reply")
	}
	switch res[0] {
	case "missing":
		return nil, ErrMissing
	case "conflict":
		i, _ := res[1].(int64)
		stock, _ := res[2].(int64)
		c := &StockConflict{Index: int(i) - 1, Stock: stock}
		if c.Index >= 0 && c.Index < len(qty) {
			c.Want = qty[c.Index]
		}
		return nil, c
	}
	out := make([][]byte, 0, len(res)-1)
	for _, v := range res[1:] {
		s, _ := v.(string)
		out = append(out, []byte(s))
	}
	return out, nil
}

// patchScript sets price (ARGV[1], "" to keep) and stock (ARGV[2]) of the
// JSON entity KEYS[1], bumps its version, stamps updated_at (ARGV[3]),
// stores it without expiry and appends it to stream KEYS[2] atomically.
var patchScript = redis.NewScript(`
local raw = redis.call('GET', KEYS[1])
if not raw then return {'missing', 1} end
local p = cjson.decode(raw)
if ARGV[1] ~= '' then p.price = tonumber(ARGV[1]) end
if ARGV[2] ~= '' then p.stock = tonumber(ARGV[2]) end
p.version = p.version + 1
p.updated_at = ARGV[3]
local js = cjson.encode(p)
redis.call('SET', KEYS[1], js)
redis.call('XADD', KEYS[2], '*', 'k', KEYS[1], 'v', js)
return {'ok', js}
`)

// PatchProduct applies a price and/or stock change to the product JSON
// under key in Redis and queues the new state on stream, atomically (so a
// concurrent ReserveStock is never overwritten with a stale stock). It
// returns ErrMissing when the entity is not in Redis.
func (b *Backend) PatchProduct(ctx context.Context, key, stream string, price *float64, stock *int64, at time.Time) ([]byte, error) {
	ps, ss := "", ""
	if price != nil {
		ps = strconv.FormatFloat(*price, 'g', -1, 64)
	}
	if stock != nil {
		ss = strconv.FormatInt(*stock, 10)
	}
	res, err := patchScript.Run(ctx, b.c, []string{key, stream}, ps, ss, at.UTC().Format(time.RFC3339Nano)).Slice()
	if err != nil {
		return nil, err
	}
	out, err := scriptResult(res, nil)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// SetNX stores val under key with ttl only if the key is absent.
func (b *Backend) SetNX(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	return b.c.SetNX(ctx, key, val, max(ttl, 0)).Err()
}
