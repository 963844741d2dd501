package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/loadrig/loadrig/internal/domain"
)

// OpenOptions say which backend to open and how.
type OpenOptions struct {
	// Spec selects the backend: "memory" (or ""), "sqlite:PATH" (a file,
	// created when missing), or a Postgres URL "postgres://..." /
	// "postgresql://...".
	Spec string
	// Dataset is what the memory backend holds, and what a database gets
	// when it holds no dataset yet. A database that already holds one keeps
	// it (a restart keeps what was written).
	Dataset domain.Dataset
	// Pool is a database's real connection pool (database/sql
	// MaxOpenConns, pgxpool MaxConns). Zero means DefaultPool (8).
	Pool int
	// ConnectTimeout bounds reaching the database at start. Zero means 8s.
	ConnectTimeout time.Duration
	// Now stamps UpdatedAt on writes. Nil means time.Now.
	Now func() time.Time
}

// Info says what Open found.
type Info struct {
	Backend string // memory, sqlite or postgres
	Target  string // the file or the Postgres URL without password; "" for memory
	Dataset string // the dataset the database holds (seed and counts)
	Seeded  bool   // Open loaded the dataset (the database was empty)
}

// OpenError is a backend that could not be opened at start: an unreachable
// database, a bad file, a failed migration. Its message is one line and
// never contains a password.
type OpenError struct {
	Spec string // redacted
	Err  error
}

func (e *OpenError) Error() string {
	return fmt.Sprintf("--store %s: %s", e.Spec, oneLine(e.Err))
}

func (e *OpenError) Unwrap() error { return e.Err }

// ParseSpec splits a --store value into its backend and target, or says
// what is accepted.
func ParseSpec(spec string) (backend, target string, err error) {
	switch {
	case spec == "" || spec == BackendMemory:
		return BackendMemory, "", nil
	case strings.HasPrefix(spec, "sqlite:"):
		path := strings.TrimPrefix(spec, "sqlite:")
		path = strings.TrimPrefix(path, "//")
		if path == "" {
			return "", "", errors.New(`--store sqlite: needs a file path, for example sqlite:./loadrig.db`)
		}
		return BackendSQLite, path, nil
	case strings.HasPrefix(spec, "postgres://"), strings.HasPrefix(spec, "postgresql://"):
		if _, err := pgxpool.ParseConfig(spec); err != nil {
			return "", "", fmt.Errorf("--store %s: %s", Redact(spec), oneLine(err))
		}
		return BackendPostgres, spec, nil
	}
	scheme, _, _ := strings.Cut(spec, ":")
	return "", "", fmt.Errorf("--store %q: unknown store %q; use memory, sqlite:PATH or postgres://user@host/db", Redact(spec), scheme)
}

// Open opens the backend opts.Spec names, applies the embedded migrations
// and loads the dataset into an empty database.
func Open(ctx context.Context, opts OpenOptions) (Backend, Info, error) {
	kind, target, err := ParseSpec(opts.Spec)
	if err != nil {
		return nil, Info{}, err
	}
	info := Info{Backend: kind}
	if kind == BackendMemory {
		info.Dataset, info.Seeded = datasetLabel(opts.Dataset), true
		return newMemory(opts.Dataset, opts.Now), info, nil
	}
	pool := opts.Pool
	if pool <= 0 {
		pool = DefaultPool
	}
	timeout := opts.ConnectTimeout
	if timeout <= 0 {
		timeout = 8 * time.Second
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	fail := func(err error) (Backend, Info, error) {
		return nil, Info{}, &OpenError{Spec: Redact(opts.Spec), Err: err}
	}
	s := &sqlStore{now: now}
	switch kind {
	case BackendSQLite:
		info.Target = target
		if abs, err := filepath.Abs(target); err == nil {
			info.Target = abs
		}
		d, err := openSQLite(target, pool)
		if err != nil {
			return fail(err)
		}
		s.d, s.dia = d, dialect{name: BackendSQLite}
	case BackendPostgres:
		info.Target = Redact(target)
		cfg, err := pgxpool.ParseConfig(target)
		if err != nil {
			return fail(err)
		}
		cfg.MaxConns = int32(pool)
		cfg.MinConns = 0
		if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > timeout {
			cfg.ConnConfig.ConnectTimeout = timeout
		}
		p, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return fail(err)
		}
		s.d = &pgDriver{pool: p}
		s.dia = dialect{
			name: BackendPostgres, anyArray: true, forUpdate: " FOR UPDATE",
			lock: "SELECT pg_advisory_xact_lock(7263651)",
			afterSeed: []string{
				"SELECT setval(pg_get_serial_sequence('orders', 'id'), (SELECT COALESCE(MAX(id), 0) + 1 FROM orders), false)",
				"SELECT setval(pg_get_serial_sequence('reviews', 'id'), (SELECT COALESCE(MAX(id), 0) + 1 FROM reviews), false)",
			},
		}
	}
	// Reaching the database and migrating it are bounded by the connect
	// timeout (plus time to load the dataset into an empty one).
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := s.with(pctx, func(q querier) error { _, err := q.exec(pctx, "SELECT 1"); return err }); err != nil {
		s.d.close()
		if pctx.Err() != nil && ctx.Err() == nil {
			err = fmt.Errorf("database not reachable within %v: %v", timeout, err)
		}
		return fail(err)
	}
	held, seeded, err := s.migrate(context.WithoutCancel(ctx), opts.Dataset)
	if err != nil {
		s.d.close()
		return fail(err)
	}
	info.Dataset, info.Seeded = held, seeded
	return s, info, nil
}

func datasetLabel(ds domain.Dataset) string {
	return fmt.Sprintf("seed=%d users=%d products=%d reviews_per_product=%d orders=%d",
		ds.Seed, ds.Counts.Users, ds.Counts.Products, ds.Counts.ReviewsPerProduct, ds.Counts.Orders)
}

var (
	dsnPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('[^']*'|\S+)`)
	urlPassword = regexp.MustCompile(`(://[^:/@]*:)[^@]*@`)
)

// Redact hides the password of a store spec (URL userinfo or a password=
// keyword) for logs and errors.
func Redact(spec string) string {
	if u, err := url.Parse(spec); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		spec = u.String()
	}
	spec = urlPassword.ReplaceAllString(spec, "${1}xxxxx@")
	return dsnPassword.ReplaceAllString(spec, "${1}xxxxx")
}

func oneLine(err error) string {
	s := err.Error()
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.TrimSpace(s)
}
