package wsdrv

import (
	"math/rand/v2"
	"time"
)

// Backoff is the reconnect policy: the wait before attempt n (0-based) is
// Initial×2^n, spread by ±Randomization of itself, capped at Max; the
// defaults are socket.io-client's (reconnectionDelay 1 s,
// reconnectionDelayMax 5 s, randomizationFactor 0.5, unlimited attempts).
type Backoff struct {
	// Initial is the base wait before the first reconnect. Default 1s.
	Initial time.Duration
	// Max caps every wait. Default 5s.
	Max time.Duration
	// Randomization spreads each wait uniformly over ±Randomization×wait,
	// so clients dropped together do not return together. Default 0.5;
	// negative means none.
	Randomization float64
	// Attempts bounds consecutive failed reconnect attempts. Default 0:
	// unlimited.
	Attempts int
}

// Default reconnect policy (socket.io-client's).
const (
	DefaultBackoffInitial       = time.Second
	DefaultBackoffMax           = 5 * time.Second
	DefaultBackoffRandomization = 0.5
)

func (b Backoff) withDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = DefaultBackoffInitial
	}
	if b.Max <= 0 {
		b.Max = DefaultBackoffMax
	}
	if b.Max < b.Initial {
		b.Max = b.Initial
	}
	if b.Randomization == 0 {
		b.Randomization = DefaultBackoffRandomization
	}
	if b.Randomization < 0 {
		b.Randomization = 0
	}
	if b.Randomization > 1 {
		b.Randomization = 1
	}
	return b
}

// Delay is the wait before reconnect attempt n (0-based); r supplies the
// jitter.
func (b Backoff) Delay(n int, r *rand.Rand) time.Duration {
	d := b.Initial
	for i := 0; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	if b.Randomization > 0 {
		dev := (r.Float64()*2 - 1) * b.Randomization * float64(d)
		d += time.Duration(dev)
	}
	return min(max(d, 0), b.Max)
}
