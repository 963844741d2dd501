package rediscache

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// SessionPrefix namespaces session keys.
const SessionPrefix = "loadrig:session:"

// Sessions keeps opaque login sessions in Redis: one string key per
// session id holding the user id, expiring with the session. It satisfies
// server.SessionStore (the servers' --session redis), sharing the Backend's
// client so sessions, limits and cache use one pool.
type Sessions struct{ c redis.UniversalClient }

// NewSessions returns a session store on b's client.
func NewSessions(b *Backend) *Sessions { return &Sessions{c: b.c} }

// PutSession stores id → userID for ttl (SET key value EX).
func (s *Sessions) PutSession(ctx context.Context, id string, userID int64, ttl time.Duration) error {
	return s.c.Set(ctx, SessionPrefix+id, strconv.FormatInt(userID, 10), ttl).Err()
}

// GetSession returns the user of session id; ok is false when it does not
// exist or has expired.
func (s *Sessions) GetSession(ctx context.Context, id string) (int64, bool, error) {
	v, err := s.c.Get(ctx, SessionPrefix+id).Result()
	if errors.Is(err, redis.Nil) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	u, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("session %s holds %q, not a user id", id, v)
	}
	return u, true, nil
}
