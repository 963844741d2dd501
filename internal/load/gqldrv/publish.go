package gqldrv

import (
	"context"
	"crypto/tls"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loadrig/loadrig/internal/load"
	"github.com/loadrig/loadrig/internal/metrics"
)

// publisher sends the publish mutation at a fixed rate during the
// subscription window, over the HTTP driver, and counts what each
// successful publish should deliver: one event to every subscriber
// subscribed at that moment. That assumes every published event matches
// every subscription (a filter argument equal to what the mutation
// changes); the result says expected, received and their ratio.
type publisher struct {
	s     *subscriber
	d     *Driver
	rate  float64
	ok    atomic.Int64
	errs  atomic.Int64
	mu    sync.Mutex
	kinds map[string]int64 // failed publishes by kind (graphql_error:CODE for GraphQL errors)
	once  sync.Once
	done  chan struct{}
	begun atomic.Bool
	// late counts mutations sent more than one interval after their
	// intended time (every worker was busy).
	late atomic.Int64
}

func newPublisher(s *subscriber, o Options) (*publisher, error) {
	u := s.wsURL
	u = "http" + u[len("ws"):] // ws:// → http://, wss:// → https://
	pd, err := New(Options{URL: u, Query: o.Publish, Variables: o.PublishVariables, HTTP: o.HTTP})
	if err != nil {
		return nil, fmt.Errorf("--publish: %w", err)
	}
	if k := pd.ops[0].Kind; k != "mutation" || len(pd.ops) != 1 {
		pd.Close()
		return nil, fmt.Errorf("--publish must be a document with one mutation, not a %s", k)
	}
	rate := o.PublishRate
	if rate == 0 {
		rate = 10
	}
	return &publisher{s: s, d: pd, rate: rate, done: make(chan struct{}), kinds: map[string]int64{}}, nil
}

// settle is how long the publisher waits after the last subscriber
// subscribed, so that the server has registered every subscription.
const settle = 100 * time.Millisecond

// drain is how long before the window's end publishing stops by default.
func (p *publisher) drain() time.Duration {
	if d := p.s.d.opts.Drain; d > 0 {
		return d
	}
	return min(500*time.Millisecond, p.s.d.opts.Hold/4)
}

// run publishes from when every subscriber has subscribed (or failed) until
// the window's end minus the drain, or ctx's end.
func (p *publisher) run(ctx context.Context) {
	p.begun.Store(true)
	defer close(p.done)
	s := p.s
	var stopAt time.Time
	if !s.windowEnd.IsZero() {
		stopAt = s.windowEnd.Add(-p.drain())
	}
	want := int64(max(s.d.opts.Subscribers, 1))
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for s.subscribed.Load()+s.failed.Load() < want {
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
		}
		if !stopAt.IsZero() && time.Now().After(stopAt) {
			return
		}
	}
	select {
	case <-ctx.Done():
		return
	case <-time.After(settle):
	}
	p.paced(ctx, time.Now(), stopAt)
}

// publishInflight bounds the publish mutations in flight: the publisher is
// an open model (each mutation goes at its intended time, seq/rate after
// the first, however slowly the server answers the ones before), and this
// many outstanding mutations are what a slow server can make it hold.
const publishInflight = 16

// paced sends mutation seq at start + seq/rate until stopAt (or ctx's end),
// each on a free worker (up to publishInflight, made as needed). When every
// worker is busy the send waits for one and is late; later sends keep their
// intended times, so the schedule catches up rather than shifting.
func (p *publisher) paced(ctx context.Context, start, stopAt time.Time) {
	free := make(chan load.Worker, publishInflight)
	var (
		wg      sync.WaitGroup
		workers []load.Worker
	)
	defer func() {
		wg.Wait()
		for _, w := range workers {
			_ = w.Close()
		}
	}()
	interval := time.Duration(float64(time.Second) / p.rate)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for seq := uint64(0); ; seq++ {
		at := start.Add(time.Duration(seq) * interval)
		if !stopAt.IsZero() && !at.Before(stopAt) {
			return
		}
		if d := time.Until(at); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		}
		var w load.Worker
		select {
		case w = <-free:
		default:
			if len(workers) < publishInflight {
				nw, err := p.d.NewWorker(ctx, len(workers))
				if err != nil {
					return
				}
				workers = append(workers, nw)
				w = nw
				break
			}
			select {
			case w = <-free:
			case <-ctx.Done():
				return
			}
		}
		if time.Since(at) > interval {
			p.late.Add(1)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.send(ctx, w, seq)
			free <- w
		}()
	}
}

// send sends one publish mutation and counts what it should deliver.
func (p *publisher) send(ctx context.Context, w load.Worker, seq uint64) {
	s := p.s
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	out := w.Do(pctx, load.NewOp(seq, nopSink{})) // recorded: its error codes are counted
	cancel()
	if out.Err == metrics.OK {
		p.ok.Add(1)
		s.expected.Add(s.active.Load())
	} else if ctx.Err() == nil {
		p.errs.Add(1)
		p.fail(out.Err)
	}
}

// fail counts a failed publish by kind; a GraphQL error by its codes.
func (p *publisher) fail(kind metrics.ErrKind) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if kind != ErrGraphQL {
		p.kinds[string(kind)]++
		return
	}
	p.d.codesMu.Lock()
	for c, n := range p.d.codes {
		p.kinds[string(ErrGraphQL)+":"+c] += n
	}
	clear(p.d.codes)
	p.d.codesMu.Unlock()
}

// errorKinds is a copy of the failed publishes by kind.
func (p *publisher) errorKinds() map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.kinds) == 0 {
		return nil
	}
	m := make(map[string]int64, len(p.kinds))
	for k, n := range p.kinds {
		m[k] = n
	}
	return m
}

// nopSink records nothing: it makes the publisher's operations count as
// measured, so its driver counts their error codes.
type nopSink struct{}

func (nopSink) MessageSent(int)                 {}
func (nopSink) MessageReceived(time.Duration)   {}
func (nopSink) Phase(load.Phase, time.Duration) {}

// wait waits for a started publisher to finish.
func (p *publisher) wait() {
	if p.begun.Load() {
		<-p.done
	}
}

func tlsConfig(insecure bool) *tls.Config {
	return &tls.Config{InsecureSkipVerify: insecure}
}
