package cache

import (
	"hash/maphash"
	"slices"
	"sync"
)

// fillStripes is the number of fillGuard stripes: enough that unrelated
// keys rarely share one (a shared stripe only costs a dropped fill).
const fillStripes = 256

// fillGuard drops cache fills that raced a write. A miss reads the store,
// then caches what it read; a write that lands in between (store updated,
// cached entry deleted or replaced) would otherwise be overwritten by the
// older state, which the cache then serves, and answers conditional GETs
// for, until its TTL ends. Every write to a key bumps its stripe's
// generation under the stripe lock while it updates or deletes the cached
// entry; a fill takes the generation before its store read and caches its
// result only if the generation is unchanged, checked and set under the same
// lock. Within one process that orders every fill before or after every
// write. Reads (hits) never touch it.
type fillGuard struct {
	seed    maphash.Seed
	stripes [fillStripes]fillStripe
}

type fillStripe struct {
	mu  sync.Mutex
	gen uint64
}

func (g *fillGuard) index(key string) int {
	return int(maphash.String(g.seed, key) % fillStripes)
}

// gen returns key's generation; take it before reading the store.
func (g *fillGuard) gen(key string) uint64 {
	s := &g.stripes[g.index(key)]
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}

// fill runs set if no write touched key since gen was taken.
func (g *fillGuard) fill(key string, gen uint64, set func()) {
	s := &g.stripes[g.index(key)]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen == gen {
		set()
	}
}

// fillMany runs set with the indexes of the keys no write touched since
// their gens were taken (gens[i] is keys[i]'s), holding their stripes'
// locks (taken in ascending order, so it cannot deadlock with another
// fillMany; writers hold one stripe at a time).
func (g *fillGuard) fillMany(keys []string, gens []uint64, set func(ok []int)) {
	idx := make([]int, len(keys))
	for i, k := range keys {
		idx[i] = g.index(k)
	}
	order := slices.Clone(idx)
	slices.Sort(order)
	order = slices.Compact(order)
	for _, i := range order {
		g.stripes[i].mu.Lock()
	}
	defer func() {
		for _, i := range order {
			g.stripes[i].mu.Unlock()
		}
	}()
	var ok []int
	for i := range keys {
		if g.stripes[idx[i]].gen == gens[i] {
			ok = append(ok, i)
		}
	}
	if len(ok) > 0 {
		set(ok)
	}
}

// write bumps key's generation and runs update (the cache write or delete
// of the new state; may be nil) under the stripe lock, so no fill that read
// the store before the write can land after it.
func (g *fillGuard) write(key string, update func()) {
	s := &g.stripes[g.index(key)]
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	if update != nil {
		update()
	}
}
