package store

import (
	"context"
	"database/sql"
	"net/url"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver (no cgo: release builds stay static)
)

// sqliteDriver is database/sql over modernc.org/sqlite. The file is opened
// in WAL mode with a busy timeout, and transactions BEGIN IMMEDIATE, so
// concurrent writers queue instead of failing.
type sqliteDriver struct{ db *sql.DB }

func openSQLite(path string, pool int) (*sqliteDriver, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(pool)
	db.SetMaxIdleConns(pool)
	return &sqliteDriver{db: db}, nil
}

func (d *sqliteDriver) acquire(ctx context.Context) (dbConn, error) {
	c, err := d.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	return sqliteConn{c: c}, nil
}

func (d *sqliteDriver) poolStats() PoolStats {
	st := d.db.Stats()
	return PoolStats{MaxConns: st.MaxOpenConnections, InUse: int64(st.InUse), WaitCount: st.WaitCount, WaitTotal: st.WaitDuration}
}

func (d *sqliteDriver) close() { _ = d.db.Close() }

type sqlQueryer interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

type sqliteQ struct{ q sqlQueryer }

type sqliteRows struct{ *sql.Rows }

func (r sqliteRows) Close() { _ = r.Rows.Close() }

func (s sqliteQ) query(ctx context.Context, q string, args ...any) (rows, error) {
	r, err := s.q.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return sqliteRows{r}, nil
}

func (s sqliteQ) exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := s.q.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

type sqliteConn struct{ c *sql.Conn }

func (c sqliteConn) query(ctx context.Context, q string, args ...any) (rows, error) {
	return sqliteQ{c.c}.query(ctx, q, args...)
}

func (c sqliteConn) exec(ctx context.Context, q string, args ...any) (int64, error) {
	return sqliteQ{c.c}.exec(ctx, q, args...)
}

func (c sqliteConn) begin(ctx context.Context) (dbTx, error) {
	tx, err := c.c.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return sqliteTx{sqliteQ{tx}, tx}, nil
}

func (c sqliteConn) release() { _ = c.c.Close() }

type sqliteTx struct {
	sqliteQ
	tx *sql.Tx
}

func (t sqliteTx) commit(context.Context) error { return t.tx.Commit() }
func (t sqliteTx) rollback(context.Context)     { _ = t.tx.Rollback() }
