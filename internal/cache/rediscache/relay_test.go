package rediscache_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/cache/rediscache"
	"github.com/loadrig/loadrig/internal/cache/rediscache/redistest"
	"github.com/loadrig/loadrig/internal/domain"
)

// TestEventLogPublishesInSeqOrder: two nodes number events of one topic
// at once through EventLog.AppendEvent; every node's relay — both
// appenders' and a third's — receives every event once, Ordered, in
// strictly increasing seq order, because numbering and publishing are one
// script. (An append followed by a publish from each node's queue let a
// node receive seq 6 before seq 5.)
func TestEventLogPublishesInSeqOrder(t *testing.T) {
	redistest.RequireSpawned(t, inst)
	for _, sharded := range []bool{false, true} {
		t.Run(fmt.Sprintf("sharded=%v", sharded), func(t *testing.T) {
			prefix := fmt.Sprintf("order-%d:", time.Now().UnixNano())
			type node struct {
				log *rediscache.EventLog
				got chan domain.Event
			}
			mk := func() node {
				b, err := rediscache.Open(rediscache.Options{URL: inst.URL()})
				if err != nil {
					t.Fatal(err)
				}
				got := make(chan domain.Event, 4096)
				r := rediscache.NewRelay(b, rediscache.RelayOptions{Prefix: prefix, Sharded: sharded, Deliver: func(e domain.Event) { got <- e }})
				t.Cleanup(func() { r.Close(); b.Close() })
				r.Watch("probe")
				r.Watch("room")
				return node{log: rediscache.NewEventLog(b, prefix, 1000).WithRelay(r), got: got}
			}
			nodes := []node{mk(), mk(), mk()}
			// Every relay subscribed: a probe reaches all three.
			deadline := time.Now().Add(20 * time.Second) // hang guard
			for {
				_, _, n, err := nodes[0].log.AppendEvent(t.Context(), "probe", domain.Event{Topic: "probe"}, []byte(`{"seq":`), []byte(`}`))
				if err != nil {
					t.Fatal(err)
				}
				if n == 3 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("a probe reached %d of 3 relays", n)
				}
				time.Sleep(20 * time.Millisecond)
			}
			const per = 200
			var wg sync.WaitGroup
			for i, n := range nodes[:2] {
				wg.Add(1)
				go func() {
					defer wg.Done()
					origin := fmt.Sprint("n", i)
					for range per {
						seq, data, recv, err := n.log.AppendEvent(t.Context(), "room", domain.Event{Topic: "room", Kind: "msg", Key: 7, Origin: origin},
							[]byte(`{"from":"`+origin+`","seq":`), []byte(`}`))
						if err != nil || recv != 3 || seq <= 0 || string(data) != fmt.Sprintf(`{"from":"%s","seq":%d}`, origin, seq) {
							t.Errorf("AppendEvent: seq %d data %s received %d, %v", seq, data, recv, err)
							return
						}
					}
				}()
			}
			wg.Wait()
			for i, n := range nodes {
				prev := int64(0)
				for k := 0; k < 2*per; {
					var e domain.Event
					select {
					case e = <-n.got:
					case <-time.After(20 * time.Second): // hang guard
						t.Fatalf("node %d: %d of %d events", i, k, 2*per)
					}
					if e.Topic != "room" {
						continue
					}
					var d struct {
						From string `json:"from"`
						Seq  int64  `json:"seq"`
					}
					if err := json.Unmarshal(e.Data, &d); err != nil || !e.Ordered || e.Kind != "msg" || e.Key != 7 || e.Origin != d.From {
						t.Fatalf("node %d: event %+v (%s), %v", i, e, e.Data, err)
					}
					if d.Seq <= prev {
						t.Fatalf("node %d: seq %d after %d", i, d.Seq, prev)
					}
					prev = d.Seq
					k++
				}
			}
		})
	}
}
