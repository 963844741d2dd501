package load

import (
	"context"
	"sync"
	"time"
)

// Pacer gives a session's messages their intended send times: message i is
// due at first + i×interval, whatever happened to the messages before it.
// A sender that falls behind (a slow write, a full socket buffer, a busy
// generator) sends the overdue messages at once, without skipping, and
// their latency still counts from when they were due; so a stall inside the
// sender shows up in message latency instead of thinning the load
// (coordinated omission, corrected for messages as the engine corrects it
// for operations).
//
// With interval 0 there is no schedule: Next returns the current time, and
// messages go back to back with latency from their actual send.
//
// A Pacer is used by one goroutine (the session's sender).
type Pacer struct {
	first    time.Time
	interval time.Duration
	n        int64
	timer    *time.Timer
	late     int64
}

// NewPacer returns a Pacer whose first message is due at first.
func NewPacer(first time.Time, interval time.Duration) *Pacer {
	return &Pacer{first: first, interval: max(interval, 0)}
}

// Next waits until the next message is due and returns its intended send
// time. It returns ok false, without waiting further, when ctx is done or
// stop is closed (a nil stop never closes); a due message is not handed out
// once stop has closed.
func (p *Pacer) Next(ctx context.Context, stop <-chan struct{}) (intended time.Time, ok bool) {
	select {
	case <-stop:
		return time.Time{}, false
	case <-ctx.Done():
		return time.Time{}, false
	default:
	}
	if p.interval == 0 {
		p.n++
		return time.Now(), true
	}
	due := p.first.Add(time.Duration(p.n) * p.interval)
	if wait := time.Until(due); wait > 0 {
		if p.timer == nil {
			p.timer = time.NewTimer(wait)
		} else {
			p.timer.Reset(wait)
		}
		select {
		case <-p.timer.C:
		case <-stop:
			p.timer.Stop()
			return time.Time{}, false
		case <-ctx.Done():
			p.timer.Stop()
			return time.Time{}, false
		}
	} else if -wait > lateMessage {
		p.late++
	}
	p.n++
	return due, true
}

// lateMessage is how far behind its intended time a message may go out
// before Pacer.Late counts it (the engine's late threshold).
const lateMessage = time.Millisecond

// Sent is the number of intended send times handed out.
func (p *Pacer) Sent() int64 { return p.n }

// Late is how many messages were handed out more than 1 ms after they were
// due: the sender had fallen behind (their latency includes that wait).
func (p *Pacer) Late() int64 { return p.late }

// Stop releases the Pacer's timer.
func (p *Pacer) Stop() {
	if p.timer != nil {
		p.timer.Stop()
	}
}

// DefaultInflightWindow is the default Inflight window: a message is given
// up when this many were sent after it and it is still unanswered.
const DefaultInflightWindow = 4096

// Inflight matches replies to the messages they answer and returns each
// message's reference time (its intended send time, from a Pacer): by the
// id it was given (a correlation field echoed back), or first in, first out
// (a stream whose replies come in request order and carry nothing to match
// on). It remembers replies for a window of ids: a message still
// unanswered when window more messages have been sent after it is given up
// and reported lost, so memory is bounded however many replies never come.
//
// The sender adds, a reader takes: an Inflight is safe for concurrent use.
type Inflight struct {
	mu   sync.Mutex
	at   []time.Time // by id mod window
	set  []bool
	head uint64 // every id below head is answered or given up
	next uint64 // the id Add hands out next
	n    int    // messages awaiting a reply
}

// NewInflight returns an Inflight remembering up to window messages
// (DefaultInflightWindow when window <= 0).
func NewInflight(window int) *Inflight {
	if window <= 0 {
		window = DefaultInflightWindow
	}
	return &Inflight{at: make([]time.Time, window), set: make([]bool, window)}
}

// Add registers a message sent with reference time t and returns its id:
// 0, 1, 2, ... in order of Add. lost is true when the message window ids
// before this one was still unanswered and was given up; the caller counts
// it (Op.MessageError(ErrNoReply)).
func (f *Inflight) Add(t time.Time) (id uint64, lost bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := uint64(len(f.at))
	if f.next-f.head == w {
		s := f.head % w
		if f.set[s] {
			f.set[s] = false
			f.n--
			lost = true
		}
		f.head++
		f.advance()
	}
	id = f.next
	s := id % w
	f.at[s], f.set[s] = t, true
	f.next++
	f.n++
	return id, lost
}

// advance moves head past answered slots. f.mu is held.
func (f *Inflight) advance() {
	w := uint64(len(f.at))
	for f.head < f.next && !f.set[f.head%w] {
		f.head++
	}
}

// Take removes the message with id and returns its reference time; ok is
// false when no such message awaits a reply (never sent, given up, or
// already answered: a duplicate reply).
func (f *Inflight) Take(id uint64) (t time.Time, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id < f.head || id >= f.next {
		return time.Time{}, false
	}
	s := id % uint64(len(f.at))
	if !f.set[s] {
		return time.Time{}, false
	}
	f.set[s] = false
	f.n--
	f.advance()
	return f.at[s], true
}

// TakeOldest removes the oldest message awaiting a reply (first in, first
// out matching) and returns its reference time; ok is false when none
// awaits one.
func (f *Inflight) TakeOldest() (t time.Time, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.advance()
	if f.head == f.next {
		return time.Time{}, false
	}
	s := f.head % uint64(len(f.at))
	f.set[s] = false
	f.n--
	f.head++
	f.advance()
	return f.at[s], true
}

// Pending is the number of messages awaiting a reply.
func (f *Inflight) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// Reset gives up every message awaiting a reply and returns how many there
// were (the caller counts them as ErrNoReply); ids go on from where they
// were.
func (f *Inflight) Reset() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.n
	clear(f.set)
	f.n = 0
	f.head = f.next
	return n
}
