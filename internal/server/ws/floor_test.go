package ws

import (
	"net/http"
	"testing"
	"time"

	"github.com/loadrig/loadrig/internal/domain"
)

// TestNotificationLateCopyBelowFloorSkipped: a /ws/notifications
// connection joins with the user's last seq as its floor, so a live copy
// of a notification at or below it — one relayed late from another node,
// already in the log when the client connected — is not sent; a newer one
// is. The hub once checked the hub topic's floor ("notifications") instead
// of the user's log topic's ("notifications/7"), so the copy went out, and
// after a resume it came twice.
func TestNotificationLateCopyBelowFloorSkipped(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	tok := ts.token(t, 1)
	for _, body := range []string{`{"user_id":7,"text":"n1"}`, `{"user_id":7,"text":"n2"}`} {
		if r := post(t, ts.URL+"/api/notifications", tok, body); r.StatusCode != http.StatusAccepted {
			t.Fatalf("push: %d", r.StatusCode)
		}
	}
	n := ts.dial(t, "/ws/notifications", 7)
	// Its read loop answers after the subscription and the floor are in place.
	n.send(map[string]any{"type": "join", "room": "x"})
	n.expect(TypeError)
	late := AppendEnvelope(nil, &Envelope{Type: TypeNotification, To: 7, Seq: 2, Data: mustJSON(msgData{Text: "n2"})})
	ts.d.Feed.Receive(domain.Event{Topic: TopicNotifications, Key: 7, Origin: "another-node", Data: late})
	n.quiet(200 * time.Millisecond)
	if r := post(t, ts.URL+"/api/notifications", tok, `{"user_id":7,"text":"n3"}`); r.StatusCode != http.StatusAccepted {
		t.Fatalf("push: %d", r.StatusCode)
	}
	if e := n.expect(TypeNotification); e.Seq != 3 || text(e) != "n3" {
		t.Fatalf("live notification %+v, want seq 3", e)
	}
}
