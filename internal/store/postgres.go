package store

import (
	"context"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgDriver is a pgxpool.Pool: MaxConns is the store's pool, and queue wait
// comes from the pool's own acquire statistics.
type pgDriver struct{ pool *pgxpool.Pool }

func (d *pgDriver) acquire(ctx context.Context) (dbConn, error) {
	c, err := d.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	return pgConn{c: c}, nil
}

func (d *pgDriver) poolStats() PoolStats {
	st := d.pool.Stat()
	return PoolStats{MaxConns: int(st.MaxConns()), InUse: int64(st.AcquiredConns()),
		WaitCount: st.EmptyAcquireCount(), WaitTotal: st.EmptyAcquireWaitTime()}
}

func (d *pgDriver) close() { d.pool.Close() }

// rebind turns ? placeholders into $1, $2, ... (statements here never hold
// a literal question mark). Rebound statements are memoised.
var rebound sync.Map

func rebind(q string) string {
	if v, ok := rebound.Load(q); ok {
		return v.(string)
	}
	var sb strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			sb.WriteByte('$')
			sb.WriteString(strconv.Itoa(n))
			continue
		}
		sb.WriteByte(q[i])
	}
	out := sb.String()
	if len(q) < 4096 { // multi-row seed INSERTs are not worth keeping
		rebound.Store(q, out)
	}
	return out
}

type pgQ struct {
	query_ func(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	exec_  func(ctx context.Context, sql string, args ...any) (int64, error)
}

func (p pgQ) query(ctx context.Context, q string, args ...any) (rows, error) {
	r, err := p.query_(ctx, rebind(q), args...)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (p pgQ) exec(ctx context.Context, q string, args ...any) (int64, error) {
	return p.exec_(ctx, rebind(q), args...)
}

type pgConn struct{ c *pgxpool.Conn }

func (c pgConn) q() pgQ {
	return pgQ{query_: c.c.Query, exec_: func(ctx context.Context, sql string, args ...any) (int64, error) {
		t, err := c.c.Exec(ctx, sql, args...)
		return t.RowsAffected(), err
	}}
}

func (c pgConn) query(ctx context.Context, q string, args ...any) (rows, error) {
	return c.q().query(ctx, q, args...)
}

func (c pgConn) exec(ctx context.Context, q string, args ...any) (int64, error) {
	return c.q().exec(ctx, q, args...)
}

func (c pgConn) begin(ctx context.Context) (dbTx, error) {
	tx, err := c.c.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return pgTx{pgQ: pgQ{query_: tx.Query, exec_: func(ctx context.Context, sql string, args ...any) (int64, error) {
		t, err := tx.Exec(ctx, sql, args...)
		return t.RowsAffected(), err
	}}, tx: tx}, nil
}

func (c pgConn) release() { c.c.Release() }

type pgTx struct {
	pgQ
	tx pgx.Tx
}

func (t pgTx) commit(ctx context.Context) error { return t.tx.Commit(ctx) }
func (t pgTx) rollback(ctx context.Context)     { _ = t.tx.Rollback(ctx) }
