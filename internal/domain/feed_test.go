package domain

import (
	"errors"
	"sync"
	"testing"
	"time"
)

func recvN(t *testing.T, s *Subscription, n int) []Event {
	t.Helper()
	var out []Event
	for range n {
		select {
		case e := <-s.C():
			out = append(out, e)
		default:
			t.Fatalf("got %d events, want %d", len(out), n)
		}
	}
	select {
	case e := <-s.C():
		t.Fatalf("unexpected extra event %+v", e)
	default:
	}
	return out
}

func TestFeedRoutesByTopicAndKey(t *testing.T) {
	f := NewFeed()
	all := f.Subscribe(TopicProducts, 8)
	keyed := f.Subscribe(TopicProducts, 8, 3)
	reviews := f.Subscribe(TopicReviews, 8)
	defer all.Close()
	defer keyed.Close()
	defer reviews.Close()

	f.PublishProduct(Product{ID: 3, Price: 1})
	f.PublishProduct(Product{ID: 4, Price: 2})
	f.Publish(Event{Topic: TopicProducts, Kind: "note"}) // key 0 reaches keyed subscribers too

	if got := recvN(t, all, 3); got[0].Product.ID != 3 || got[1].Product.ID != 4 || got[0].Kind != KindProductUpdated || got[0].At.IsZero() {
		t.Fatalf("all = %+v", got)
	}
	if got := recvN(t, keyed, 2); got[0].Key != 3 || got[1].Kind != "note" {
		t.Fatalf("keyed = %+v", got)
	}
	recvN(t, reviews, 0)

	keyed.Add(4)
	f.PublishProduct(Product{ID: 4})
	recvN(t, keyed, 1)
	all.Add(99) // no-op on a subscription to every key
	f.PublishProduct(Product{ID: 5})
	recvN(t, all, 2)

	if s := f.Stats(); s.Published != 5 || s.Subscribers != 3 || s.Kicked != 0 || s.Delivered != 8 {
		t.Fatalf("stats = %+v", s)
	}
}

func TestFeedKicksSlowSubscriberWithoutBlocking(t *testing.T) {
	f := NewFeed()
	slow := f.Subscribe("ticker", 2)
	fast := f.Subscribe("ticker", 16)
	defer fast.Close()
	for i := range 5 {
		f.Publish(Event{Topic: "ticker", Key: int64(i + 1)})
	}
	select {
	case <-slow.Done():
	default:
		t.Fatal("a subscriber with a full buffer was not dropped")
	}
	if !errors.Is(slow.Err(), ErrSlowSubscriber) {
		t.Fatalf("Err = %v", slow.Err())
	}
	if len(fast.C()) != 5 {
		t.Fatalf("fast subscriber got %d of 5", len(fast.C()))
	}
	if s := f.Stats(); s.Kicked != 1 || s.Subscribers != 1 {
		t.Fatalf("stats = %+v", s)
	}
	slow.Close() // after a kick: harmless
	if s := f.Stats(); s.Subscribers != 1 {
		t.Fatalf("subscribers after second end = %d", s.Subscribers)
	}
}

type captureRelay struct {
	mu  sync.Mutex
	out []Event
}

func (r *captureRelay) Send(e Event) { r.mu.Lock(); r.out = append(r.out, e); r.mu.Unlock() }

func TestFeedRelayDeliversOnceAcrossNodes(t *testing.T) {
	a, b := NewFeed(), NewFeed()
	ra, rb := &captureRelay{}, &captureRelay{}
	a.SetRelay("a", ra)
	b.SetRelay("b", rb)
	sa := a.Subscribe("chat/lobby", 8)
	sb := b.Subscribe("chat/lobby", 8)
	defer sa.Close()
	defer sb.Close()

	at := time.Unix(1700000000, 5)
	a.Publish(Event{Topic: "chat/lobby", Data: []byte(`{"text":"hi"}`), At: at})
	if len(ra.out) != 1 || ra.out[0].Origin != "a" || !ra.out[0].At.Equal(at) {
		t.Fatalf("relay a sent %+v", ra.out)
	}
	// The relay fans the event out to every node, its origin included.
	a.Receive(ra.out[0])
	b.Receive(ra.out[0])
	if got := recvN(t, sa, 1); string(got[0].Data) != `{"text":"hi"}` {
		t.Fatalf("origin node got %+v", got)
	}
	recvN(t, sb, 1)
	if len(rb.out) != 0 {
		t.Fatalf("a received event was relayed again: %+v", rb.out)
	}
}

func TestFeedConcurrentPublishSubscribe(t *testing.T) {
	f := NewFeed()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 200 {
				s := f.Subscribe(TopicProducts, 4, int64(i%7))
				f.PublishProduct(Product{ID: int64(i % 7)})
				s.Close()
			}
		})
	}
	wg.Wait()
	if s := f.Stats(); s.Subscribers != 0 || s.Published != 800 {
		t.Fatalf("stats = %+v", s)
	}
}
