package gql_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"

	"github.com/loadrig/loadrig/internal/pipenet"
	"github.com/loadrig/loadrig/internal/server/gql"
	"github.com/loadrig/loadrig/internal/server/stack"
)

// bubbleWS serves a GraphQL handler over a pipeListener inside the
// current synctest bubble and dials /graphql over it; everything it starts
// is stopped by t.Cleanup before the bubble ends.
func bubbleWS(t *testing.T, opts gql.Options, proto string) *websocket.Conn {
	t.Helper()
	st, err := stack.New(context.Background(), stack.Config{Dataset: "users=2,products=2,reviews=1,orders=1"})
	if err != nil {
		t.Fatal(err)
	}
	h := gql.NewHandler(gql.Deps{Catalog: st.Catalog, Auth: st.Auth, Feed: st.Feed, Options: opts})
	ln := pipenet.Listen()
	hs := &http.Server{Handler: h}
	go func() { _ = hs.Serve(ln) }()
	client := &http.Client{Transport: &http.Transport{DialContext: ln.Dial}}
	c, _, err := websocket.Dial(t.Context(), "ws://pipe/graphql", &websocket.DialOptions{
		HTTPClient: client, Subprotocols: []string{proto},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.CloseNow()
		_ = hs.Close()
		client.CloseIdleConnections()
		_ = st.Close(context.Background())
		synctest.Wait()
	})
	return c
}

// TestWSInitTimeout: a client that never sends connection_init is closed
// (gqlgen: 1002 "connection initialisation timeout") exactly when
// InitTimeout (default 10 s) has passed, not before, instead of holding
// the connection forever; one that sends it in time is acknowledged and
// kept past the timeout. On synctest's clock, so exact and instant.
func TestWSInitTimeout(t *testing.T) {
	for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
		t.Run(proto, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := bubbleWS(t, gql.Options{}, proto)
				start := time.Now()
				var readErr error
				done := make(chan struct{})
				go func() {
					defer close(done)
					_, _, readErr = c.Read(context.Background())
				}()
				time.Sleep(gql.DefaultInitTimeout - time.Nanosecond)
				synctest.Wait()
				select {
				case <-done:
					t.Fatalf("closed %v after the dial, before the %v init timeout: %v", time.Since(start), gql.DefaultInitTimeout, readErr)
				default:
				}
				<-done
				if got := time.Since(start); got != gql.DefaultInitTimeout {
					t.Fatalf("closed %v after the dial, want exactly %v", got, gql.DefaultInitTimeout)
				}
				var ce websocket.CloseError
				if !errors.As(readErr, &ce) || !strings.Contains(ce.Reason, "initialisation timeout") {
					t.Fatalf("no connection_init: read error %v, want a close for the init timeout", readErr)
				}
			})
		})
	}

	t.Run("init in time", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c := bubbleWS(t, gql.Options{InitTimeout: time.Second, PingInterval: time.Hour}, "graphql-transport-ws")
			time.Sleep(time.Second - time.Millisecond)
			init, _ := json.Marshal(wsMsg{Type: "connection_init"})
			if err := c.Write(context.Background(), websocket.MessageText, init); err != nil {
				t.Fatal(err)
			}
			_, b, err := c.Read(context.Background())
			if err != nil || !strings.Contains(string(b), "connection_ack") {
				t.Fatalf("after connection_init: %s %v", b, err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if _, b, err := c.Read(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("an initialised connection got %s %v within a minute, want nothing (no close)", b, err)
			}
		})
	})
}
