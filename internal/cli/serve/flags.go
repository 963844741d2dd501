package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/server"
	"github.com/loadrig/loadrig/internal/server/stack"
	"github.com/loadrig/loadrig/internal/store"
)

// ServerFlags are the flags every `serve <protocol>` command shares. Embed
// it in the command's options and call AddFlags on its flag set.
type ServerFlags struct {
	// Stack holds the flags that configure the server stack directly
	// (--cache, --strategy, --cache-mode, --ttl, --ttl-jitter,
	// --invalidation, --cache-max-bytes, --redis-url, --store, --store-latency,
	// --store-per-row, --store-jitter, --store-pool, --dataset, --seed,
	// --session, --token-ttl); AddFlags has their defaults. StackConfig
	// completes it with what needs parsing (--rate-limit, the JWT secret).
	Stack stack.Config
	// MaxAge is --max-age: Cache-Control max-age of GET responses; 0 sends
	// no-cache. Default 0.
	MaxAge time.Duration
	// JWTSecretFile is --jwt-secret-file: a file holding the HMAC key of
	// JWTs (one line, at least 32 bytes). The key never goes in argv: it
	// comes from this file or from the LOADRIG_JWT_SECRET environment
	// variable. Default "": LOADRIG_JWT_SECRET, else random per process.
	JWTSecretFile string
	// Getenv reads the environment (LOADRIG_JWT_SECRET); the command sets it
	// from the factory. Default: nothing set.
	Getenv func(string) string
	// MaxResponse is --max-response: the largest response a request may
	// ask for (limit × pad); more is 400 before any work. Default 16 MiB.
	MaxResponse int64
	// MaxConns is --max-conns: open connections per HTTP listener; past it
	// a new connection gets 503 and is closed. A WebSocket connection (or an
	// SSE stream, a held long poll) is a listener connection too: after its
	// upgrade it keeps counting against the cap until it closes, so this is
	// also the WebSocket cap of serve ws and serve all. Default 10,000.
	MaxConns int
	// RateLimit is --rate-limit: per-client limit like 100/s or 100/s:20
	// (burst). Default "": none.
	RateLimit string
	// BodyLimit is --body-limit: largest request body in bytes. Default 1 MiB.
	BodyLimit int64
	// Pprof is --pprof: mount /debug/pprof. Default false.
	Pprof bool
	// GCHeadroom is --gc-headroom: the heap growth, in bytes, the garbage
	// collector allows at least between cycles (server.PaceGC); 0 keeps
	// Go's own pacing, and so does GOGC or GOMEMLIMIT in the environment.
	// Default server.DefaultGCHeadroom (64 MiB).
	GCHeadroom int64
	// LogLevel is --log-level: debug, info, warn or error. Default info.
	LogLevel string
	// LogFormat is --log-format: text or json. Default text.
	LogFormat string
	// fs is the flag set AddFlags registered on: StackConfig asks it which
	// store-model flags were given (their defaults depend on --store).
	fs *pflag.FlagSet
	// ShutdownTimeout is --shutdown-timeout: the one deadline of a stop,
	// from the signal: listeners, in-flight requests and streams, admin
	// listeners and then the write-behind backlog all share it. Default
	// 10s.
	ShutdownTimeout time.Duration
}

// AddFlags registers the shared server flags on fs with their defaults.
func (f *ServerFlags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.Stack.Cache, "cache", "none", "cache backend: none, lru, tinylfu or redis")
	fs.StringVar(&f.Stack.Strategy, "strategy", "aside", "cache write strategy: aside, write-through or write-behind (redis)")
	fs.StringVar(&f.Stack.CacheMode, "cache-mode", "object", "what is cached: object (entities; responses rendered per request) or response (rendered responses)")
	fs.DurationVar(&f.Stack.TTL, "ttl", time.Minute, "cache entry lifetime")
	fs.DurationVar(&f.Stack.TTLJitter, "ttl-jitter", 0, "random extra TTL per cache entry, uniform in [0, D), so entries cached together expire apart")
	fs.StringVar(&f.Stack.Invalidation, "invalidation", "", "on writes, delete or update the cached entity (default: delete for aside, update otherwise)")
	fs.Int64Var(&f.Stack.CacheMaxBytes, "cache-max-bytes", 64<<20, "bound of the in-process caches (lru, tinylfu) in bytes: keys, values and 128 bytes per entry; entries and rendered responses alike")
	fs.StringVar(&f.Stack.RedisURL, "redis-url", "", "Redis to use (redis://host:port); default: spawn redis-server from PATH, else embedded miniredis")
	f.fs = fs
	fs.StringVar(&f.Stack.Store, "store", "memory", "where the data lives: memory, sqlite:PATH or postgres://user@host:5432/db (a database gets the dataset only when empty)")
	fs.DurationVar(&f.Stack.StoreLatency, "store-latency", 2*time.Millisecond, "simulated round trip added to every store call (0: none; default 0 on sqlite/postgres)")
	fs.DurationVar(&f.Stack.StorePerRow, "store-per-row", 20*time.Microsecond, "simulated cost per row read or written (0: none; default 0 on sqlite/postgres)")
	fs.DurationVar(&f.Stack.StoreJitter, "store-jitter", 0, "random extra cost per store call, uniform in [0, D)")
	fs.IntVar(&f.Stack.StorePool, "store-pool", 8, "connection pool: modelled on memory (0: unbounded), the real pool on sqlite/postgres (0: 8); calls queue when all are busy")
	fs.DurationVar(&f.MaxAge, "max-age", 0, "Cache-Control max-age of GET responses (0: no-cache, clients revalidate)")
	fs.Int64Var(&f.Stack.Seed, "seed", 1, "seed of the generated dataset")
	fs.StringVar(&f.Stack.Dataset, "dataset", "small", "dataset: small, medium, large, or counts like products=5000,users=200,orders=1000,reviews=3")
	fs.StringVar(&f.Stack.Session, "session", "jwt", "auth for writes: jwt (stateless tokens) or redis (sessions in Redis)")
	fs.StringVar(&f.JWTSecretFile, "jwt-secret-file", "", "file holding the HMAC secret of JWTs, at least 32 bytes (or set "+jwtSecretEnv+"; default: random per process). Never put a secret in argv")
	fs.Int64Var(&f.MaxResponse, "max-response", 16<<20, "largest response a request may ask for in bytes (limit × pad); more is 400 before any work")
	fs.IntVar(&f.MaxConns, "max-conns", server.DefaultMaxConns, "open connections per HTTP listener, WebSocket connections and SSE streams included until they close; past it a new connection gets 503 and is closed")
	fs.DurationVar(&f.Stack.TokenTTL, "token-ttl", time.Hour, "lifetime of issued tokens and sessions")
	fs.StringVar(&f.RateLimit, "rate-limit", "", "per-client rate limit, e.g. 100/s or 100/s:20 (burst); Redis GCRA when a Redis is in use")
	fs.Int64Var(&f.BodyLimit, "body-limit", 1<<20, "largest request body in bytes (larger: 413)")
	fs.BoolVar(&f.Pprof, "pprof", false, "serve /debug/pprof")
	fs.Int64Var(&f.GCHeadroom, "gc-headroom", server.DefaultGCHeadroom, "heap growth in bytes the garbage collector allows at least between cycles, so a small live heap is not marked every few MiB of garbage (0: Go's own pacing; GOGC or GOMEMLIMIT in the environment also keep it)")
	fs.StringVar(&f.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&f.LogFormat, "log-format", "text", "log format: text or json")
	fs.DurationVar(&f.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "on SIGTERM, the one deadline for everything: listeners, in-flight requests and streams, then the write-behind backlog")
}

// Validate checks the values that need more than their type, as usage
// errors (exit 2).
func (f *ServerFlags) Validate() error {
	if _, err := f.StackConfig(nil); err != nil {
		return err
	}
	if _, err := server.NewLogger(io.Discard, server.LogOptions{Level: f.LogLevel, Format: f.LogFormat}); err != nil {
		return cmdutil.FlagErrorf("%v", err)
	}
	switch {
	case f.MaxAge < 0:
		return cmdutil.FlagErrorf("--max-age must not be negative (got %v)", f.MaxAge)
	case f.MaxResponse <= 0:
		return cmdutil.FlagErrorf("--max-response must be > 0 bytes (got %d)", f.MaxResponse)
	case f.MaxConns <= 0:
		return cmdutil.FlagErrorf("--max-conns must be > 0 (got %d)", f.MaxConns)
	case f.BodyLimit <= 0:
		return cmdutil.FlagErrorf("--body-limit must be > 0 bytes (got %d)", f.BodyLimit)
	case f.GCHeadroom < 0:
		return cmdutil.FlagErrorf("--gc-headroom must not be negative (got %d; 0 keeps Go's own garbage collector pacing)", f.GCHeadroom)
	case f.ShutdownTimeout <= 0:
		return cmdutil.FlagErrorf("--shutdown-timeout must be > 0 (got %v)", f.ShutdownTimeout)
	case f.Stack.TokenTTL <= 0:
		return cmdutil.FlagErrorf("--token-ttl must be > 0 (got %v)", f.Stack.TokenTTL)
	case f.Stack.CacheMaxBytes <= 0:
		return cmdutil.FlagErrorf("--cache-max-bytes must be > 0 bytes (got %d; e.g. 67108864 for 64 MiB)", f.Stack.CacheMaxBytes)
	case f.Stack.StorePool < 0:
		return cmdutil.FlagErrorf("--store-pool must not be negative (got %d; 0 means unbounded)", f.Stack.StorePool)
	}
	return nil
}

// StackConfig returns the stack configuration of the flags; bad values are
// usage errors.
func (f *ServerFlags) StackConfig(log *slog.Logger) (stack.Config, error) {
	rate, err := server.ParseRate(f.RateLimit)
	if err != nil {
		return stack.Config{}, cmdutil.FlagErrorf("--rate-limit: %v", err)
	}
	c := f.Stack
	c.RateLimit, c.Logger = rate, log
	if kind, _, err := store.ParseSpec(c.Store); err == nil && kind != store.BackendMemory && f.fs != nil {
		// A real database costs what it costs: the simulated round trip
		// is added only when asked for.
		if !f.fs.Changed("store-latency") {
			c.StoreLatency = 0
		}
		if !f.fs.Changed("store-per-row") {
			c.StorePerRow = 0
		}
	}
	key, err := f.jwtSecret()
	if err != nil {
		return stack.Config{}, err
	}
	c.JWTKey = key
	if err := c.Validate(); err != nil {
		return stack.Config{}, cmdutil.FlagErrorWrap(err)
	}
	return c, nil
}

// jwtSecretEnv is the environment variable of the JWT secret.
const jwtSecretEnv = "LOADRIG_JWT_SECRET"

// minJWTSecret is the shortest secret accepted: 256 bits, HS256's key size.
const minJWTSecret = 32

// jwtSecret reads the JWT secret from --jwt-secret-file or
// LOADRIG_JWT_SECRET; nil when neither is set (random per process).
func (f *ServerFlags) jwtSecret() ([]byte, error) {
	var env string
	if f.Getenv != nil {
		env = f.Getenv(jwtSecretEnv)
	}
	var key []byte
	src := jwtSecretEnv
	switch {
	case f.JWTSecretFile != "" && env != "":
		return nil, cmdutil.FlagErrorf("both --jwt-secret-file and %s are set; keep one", jwtSecretEnv)
	case f.JWTSecretFile != "":
		b, err := os.ReadFile(f.JWTSecretFile)
		if err != nil {
			return nil, cmdutil.FlagErrorf("--jwt-secret-file: %v", err)
		}
		key, src = bytes.TrimRight(b, "\r\n"), "--jwt-secret-file "+f.JWTSecretFile
	case env != "":
		key = []byte(env)
	default:
		return nil, nil
	}
	if len(key) < minJWTSecret {
		return nil, cmdutil.FlagErrorf("the JWT secret from %s is %d bytes; use at least %d (for example: openssl rand -hex 32)", src, len(key), minJWTSecret)
	}
	return key, nil
}

// Logger returns the logger the flags ask for, writing to w (stderr).
func (f *ServerFlags) Logger(w io.Writer) (*slog.Logger, error) {
	l, err := server.NewLogger(w, server.LogOptions{Level: f.LogLevel, Format: f.LogFormat})
	if err != nil {
		return nil, cmdutil.FlagErrorf("%v", err)
	}
	return l, nil
}

// StartStack validates the flags and builds the shared server stack,
// logging to w. The caller closes the stack with CloseStack after its
// servers stop.
func (f *ServerFlags) StartStack(ctx context.Context, w io.Writer) (*stack.Stack, *slog.Logger, error) {
	if err := f.Validate(); err != nil {
		return nil, nil, err
	}
	log, err := f.Logger(w)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := f.StackConfig(log)
	if err != nil {
		return nil, nil, err
	}
	if cmdutil.IsDryRun(ctx) {
		return nil, nil, cmdutil.ErrDryRun
	}
	st, err := stack.New(ctx, cfg)
	var oe *store.OpenError
	if errors.As(err, &oe) {
		return nil, nil, cmdutil.FlagErrorWrap(oe) // the user's database: bad input, exit 2
	}
	if err != nil {
		return nil, nil, fmt.Errorf("start server stack: %w", err)
	}
	return st, log, nil
}

// CloseStack drains the stack (write-behind backlog) within what is left
// of the one shutdown timeout (left; at least a second, so the drain can
// say what remains); ctx may already be canceled (the usual case on
// SIGTERM).
func (f *ServerFlags) CloseStack(ctx context.Context, st *stack.Stack, log *slog.Logger, left time.Duration) error {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), max(left, time.Second))
	defer cancel()
	if err := st.Close(dctx); err != nil {
		log.Error("stack did not close cleanly", "err", err)
		return err
	}
	log.Info("stack closed")
	return nil
}
