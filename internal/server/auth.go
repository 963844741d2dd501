package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/loadrig/loadrig/internal/domain"
)

// Token is an issued bearer credential.
type Token struct {
	Value     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Authenticator issues and verifies bearer credentials. The two
// implementations are the two sides of the "stateless JWT vs server-side
// session" tradeoff the experiment measures: JWTAuth verifies with CPU only,
// SessionAuth with a round trip to a shared store.
type Authenticator interface {
	// Kind names the scheme for logs and /stats: "jwt" or "session".
	Kind() string
	// Issue returns a fresh credential for userID.
	Issue(ctx context.Context, userID int64) (Token, error)
	// Verify returns the user a credential belongs to, or a domain error
	// with CodeUnauthorized (CodeUnavailable when the session store fails).
	Verify(ctx context.Context, token string) (userID int64, err error)
}

// DefaultTokenTTL is how long issued credentials stay valid by default.
const DefaultTokenTTL = time.Hour

// JWTOptions configures NewJWT.
type JWTOptions struct {
	// Key is the HMAC-SHA256 secret. Default: 32 random bytes, so tokens are
	// valid only for the life of the process.
	Key []byte
	// TTL is a token's lifetime. Default DefaultTokenTTL.
	TTL time.Duration
	// Issuer is the iss claim, checked on verify. Default "loadrig".
	Issuer string
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// JWTAuth issues and verifies HS256 JSON Web Tokens. Verification accepts
// only HS256 (no "alg: none", no algorithm confusion), requires exp and
// checks the issuer.
type JWTAuth struct {
	key    []byte
	ttl    time.Duration
	issuer string
	now    func() time.Time
	parser *jwt.Parser
}

// NewJWT returns a JWT authenticator.
func NewJWT(o JWTOptions) *JWTAuth {
	if len(o.Key) == 0 {
		o.Key = make([]byte, 32)
		_, _ = rand.Read(o.Key)
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTokenTTL
	}
	if o.Issuer == "" {
		o.Issuer = "loadrig"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &JWTAuth{
		key: o.Key, ttl: o.TTL, issuer: o.Issuer, now: o.Now,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithExpirationRequired(),
			jwt.WithIssuer(o.Issuer),
			jwt.WithTimeFunc(o.Now),
		),
	}
}

// Kind returns "jwt".
func (a *JWTAuth) Kind() string { return "jwt" }

// Issue signs a token for userID.
func (a *JWTAuth) Issue(_ context.Context, userID int64) (Token, error) {
	now := a.now()
	exp := now.Add(a.ttl)
	claims := jwt.RegisteredClaims{
		Issuer:    a.issuer,
		Subject:   strconv.FormatInt(userID, 10),
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(exp),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(a.key)
	if err != nil {
		return Token{}, fmt.Errorf("sign token: %w", err)
	}
	return Token{Value: s, ExpiresAt: exp.Truncate(time.Second)}, nil
}

// Verify checks signature, algorithm, issuer and expiry.
func (a *JWTAuth) Verify(_ context.Context, token string) (int64, error) {
	var claims jwt.RegisteredClaims
	_, err := a.parser.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return a.key, nil })
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return 0, domain.Errorf(domain.CodeUnauthorized, "token expired; log in again with POST /api/login")
		}
		return 0, domain.Errorf(domain.CodeUnauthorized, "invalid token")
	}
	id, err := strconv.ParseInt(claims.Subject, 10, 64)
	if err != nil || id <= 0 {
		return 0, domain.Errorf(domain.CodeUnauthorized, "invalid token subject")
	}
	return id, nil
}

// SessionStore keeps opaque session ids. The Redis implementation lives in
// cache/rediscache (the only home of the Redis client).
type SessionStore interface {
	// PutSession stores id → userID for ttl.
	PutSession(ctx context.Context, id string, userID int64, ttl time.Duration) error
	// GetSession returns the user of id; ok is false when the session does
	// not exist or has expired.
	GetSession(ctx context.Context, id string) (userID int64, ok bool, err error)
}

// SessionAuth issues opaque random session ids and verifies them with a
// lookup in a SessionStore: revocable and small, at the cost of one store
// round trip per authenticated request.
type SessionAuth struct {
	store SessionStore
	ttl   time.Duration
	now   func() time.Time
}

// NewSessionAuth returns a session authenticator over store. ttl <= 0 means
// DefaultTokenTTL; now nil means time.Now.
func NewSessionAuth(store SessionStore, ttl time.Duration, now func() time.Time) *SessionAuth {
	if ttl <= 0 {
		ttl = DefaultTokenTTL
	}
	if now == nil {
		now = time.Now
	}
	return &SessionAuth{store: store, ttl: ttl, now: now}
}

// Kind returns "session".
func (a *SessionAuth) Kind() string { return "session" }

// Issue creates a session for userID.
func (a *SessionAuth) Issue(ctx context.Context, userID int64) (Token, error) {
	var b [24]byte
	_, _ = rand.Read(b[:])
	id := base64.RawURLEncoding.EncodeToString(b[:])
	if err := a.store.PutSession(ctx, id, userID, a.ttl); err != nil {
		return Token{}, domain.Errorf(domain.CodeUnavailable, "session store unavailable")
	}
	return Token{Value: id, ExpiresAt: a.now().Add(a.ttl).Truncate(time.Second)}, nil
}

// Verify looks the session up.
func (a *SessionAuth) Verify(ctx context.Context, token string) (int64, error) {
	if len(token) != 32 { // 24 random bytes, base64url
		return 0, domain.Errorf(domain.CodeUnauthorized, "invalid session")
	}
	id, ok, err := a.store.GetSession(ctx, token)
	if err != nil {
		return 0, domain.Errorf(domain.CodeUnavailable, "session store unavailable")
	}
	if !ok {
		return 0, domain.Errorf(domain.CodeUnauthorized, "session expired or unknown; log in again with POST /api/login")
	}
	return id, nil
}
