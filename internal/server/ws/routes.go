package ws

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/loadrig/loadrig/internal/domain"
)

// routes lists the whole surface of the WebSocket server, registered
// through handle (its own mux, or a shared spine).
func (s *Server) routes(handle func(pattern string, h http.Handler)) {
	// WebSocket handlers return to net/http once upgraded (detach.go).
	handle("GET /ws/chat", s.detached(s.serveChat))
	handle("GET /ws/notifications", s.detached(s.serveNotifications))
	handle("GET /ws/ticker", s.detached(s.serveTicker))
	handle("GET /ws/docs/{id}", s.detached(s.serveDoc))
	handle("GET /ws/echo", s.detached(s.serveEcho))

	handle("GET /api/events", http.HandlerFunc(s.pollEvents))
	handle("GET /api/events/stream", http.HandlerFunc(s.streamEvents))
	handle("POST /api/notifications", http.HandlerFunc(s.postNotification))
	handle("POST /api/rooms/{room}/messages", http.HandlerFunc(s.postRoomMessage))

	if s.d.Login != nil {
		handle("POST /api/login", http.HandlerFunc(s.login))
	}
	if s.d.Ops {
		handle("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		}))
		handle("GET /stats", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			writeJSON(w, http.StatusOK, s.Stats())
		}))
		handle("GET /metrics", promhttp.HandlerFor(s.d.Registry, promhttp.HandlerOpts{Registry: s.d.Registry}))
	}
}

// pushBodyLimit bounds the JSON bodies of the REST pushes and login.
const pushBodyLimit = 16 << 10

func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, pushBodyLimit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("one JSON object expected")
	}
	_, _ = io.Copy(io.Discard, r.Body)
	return nil
}

// pushUser authenticates a REST push: a bearer token is required.
func (s *Server) pushUser(w http.ResponseWriter, r *http.Request) (int64, bool) {
	user, err := s.authenticate(r)
	if err != nil || user == 0 {
		httpError(w, http.StatusUnauthorized, "this request needs Authorization: Bearer <token>; get one from POST /api/login")
		return 0, false
	}
	return user, true
}

// postNotification is POST /api/notifications {"user_id": 7, "text": "…"}
// → 202: a notification to every /ws/notifications connection of that
// user on any node, stored for resume and polling.
func (s *Server) postNotification(w http.ResponseWriter, r *http.Request) {
	from, ok := s.pushUser(w, r)
	if !ok {
		return
	}
	var in struct {
		UserID int64  `json:"user_id"`
		Text   string `json:"text"`
	}
	if err := decodeBody(w, r, &in); err != nil || in.UserID <= 0 || in.Text == "" || len(in.Text) > maxTextLen {
		httpError(w, http.StatusBadRequest, `send {"user_id": 7, "text": "..."} (text up to 4096 bytes)`)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]int64{"seq": s.notify(r.Context(), in.UserID, from, in.Text)})
}

// notify stores and pushes a notification to every connection of user on
// any node; it returns its seq (0 when the log failed).
func (s *Server) notify(ctx context.Context, user, from int64, text string) int64 {
	env := Envelope{Type: TypeNotification, To: user, Data: mustJSON(msgData{Text: text, From: from})}
	s.broadcast(ctx, notifTopic(user), TopicNotifications, user, TypeNotification, &env)
	return env.Seq
}

// postRoomMessage is POST /api/rooms/{room}/messages {"text": "…"} → 202:
// a chat message from the caller to everyone in the room.
func (s *Server) postRoomMessage(w http.ResponseWriter, r *http.Request) {
	from, ok := s.pushUser(w, r)
	if !ok {
		return
	}
	room := r.PathValue("room")
	if !ValidRoom(room) {
		httpError(w, http.StatusBadRequest, "room: 1-64 characters of A-Z a-z 0-9 _ . : -")
		return
	}
	var in struct {
		Text string `json:"text"`
	}
	if err := decodeBody(w, r, &in); err != nil || in.Text == "" || len(in.Text) > maxTextLen {
		httpError(w, http.StatusBadRequest, `send {"text": "..."} (up to 4096 bytes)`)
		return
	}
	topic := topicRoomPrefix + room
	env := Envelope{Type: TypeMsg, Room: room, Data: mustJSON(msgData{Text: in.Text, From: from})}
	s.broadcast(r.Context(), topic, topic, 0, TypeMsg, &env)
	writeJSON(w, http.StatusAccepted, map[string]int64{"seq": env.Seq})
}

// login is POST /api/login on serve ws, as the REST server answers it:
// every node verifying with the same secret accepts the token.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := decodeBody(w, r, &in); err != nil || in.Email == "" || in.Password == "" {
		httpError(w, http.StatusBadRequest, `send {"email": "user1@example.com", "password": "..."}`)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	u, err := s.d.Login.Authenticate(ctx, in.Email, in.Password)
	if err != nil {
		if domain.ErrorCode(err) == domain.CodeUnauthorized {
			httpError(w, http.StatusUnauthorized, "wrong email or password")
		} else {
			httpError(w, http.StatusServiceUnavailable, "login unavailable")
		}
		return
	}
	tok, err := s.d.Auth.Issue(ctx, u.ID)
	if err != nil {
		httpError(w, http.StatusServiceUnavailable, "cannot issue a token")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"token": tok.Value, "token_type": "Bearer", "scheme": s.d.Auth.Kind(), "expires_at": tok.ExpiresAt, "user_id": u.ID})
}
