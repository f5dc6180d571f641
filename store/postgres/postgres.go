// Package postgres is dirbridge's store backend for several replicas: one
// PostgreSQL database shared by every dirbridge instance, through pgx.
//
// It uses pgx's own pool (pgxpool) rather than database/sql: pgx's native
// interface caches prepared statements per connection, maps timestamptz,
// jsonb, bytea and arrays without reflection through driver.Value, and
// reports server errors with their SQLSTATE. database/sql appears only for
// goose, which applies the embedded migrations at Open through pgx's stdlib
// adapter on connections of its own, under an advisory lock so replicas
// starting together migrate once.
//
// Transactions run at READ COMMITTED, PostgreSQL's default: a Tx sees its
// own writes and other transactions' committed ones, and UpdateUser's
// version check catches lost updates. A check-then-write inside one Tx
// (count, then insert) is not serialised against another replica's; where
// SQLite's single writer is what makes an operation safe, this backend
// does it explicitly: UpdateLockout locks the user's lock-out row (SELECT
// ... FOR UPDATE), RecordOnce and AcquireLease are single conditional
// upserts, TakeEphemeral a single DELETE ... RETURNING. Lease expiry uses
// the database's clock, so replicas whose clocks disagree still agree on
// who holds a lease. A write refused with ErrConflict or ErrNotFound
// leaves the transaction usable, as on SQLite (see insertChecked).
//
// Times are timestamptz; they come back in UTC, truncated to the
// microsecond, the zero time as NULL and back as zero. Text cannot hold
// NUL bytes in PostgreSQL: strings with one are refused.
//
// Unlike the SQLite backend, Store methods may be called from inside a Tx
// callback (each takes a pool connection of its own) as long as the pool
// has one free; UpdateLockout's fn runs while the lock-out row is locked
// and must not wait on another UpdateLockout of the same user.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/internal/codec"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the embedded migration files (for tests and tools).
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the embedded directory is fixed at build time
	}
	return sub
}

// Store is a store.Store on one PostgreSQL database.
type Store struct {
	ops
	pool *pgxpool.Pool

	lastSweep atomic.Int64 // unix µs of the last purge of expired rows
}

var _ store.Store = (*Store)(nil)

// Option adjusts how Open connects.
type Option func(*pgxpool.Config)

// WithMaxConns bounds the pool (store.max_open_conns); n < 1 keeps pgx's
// default (the larger of 4 and the number of CPUs) or the DSN's
// pool_max_conns.
func WithMaxConns(n int) Option {
	return func(c *pgxpool.Config) {
		if n >= 1 {
			c.MaxConns = int32(min(n, 1<<20))
		}
	}
}

// Open connects to the database dsn names (a postgres:// URL or a
// keyword/value string; pgxpool's pool_* parameters are honoured) and
// applies pending migrations.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	if dsn == "" {
		return nil, errors.New("postgres: empty dsn")
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message can quote the DSN, password included: say only
		// that it is malformed.
		return nil, errors.New("postgres: malformed dsn")
	}
	for _, o := range opts {
		o(cfg)
	}
	if err := migrate(ctx, cfg.ConnConfig.Copy()); err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", codec.CtxErr(ctx.Err(), err))
	}
	s := &Store{pool: pool, ops: ops{q: pool}}
	if err := s.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// migrate applies pending migrations through database/sql on connections
// of its own. The session lock (a PostgreSQL advisory lock) makes a second
// replica wait for the first one's migrations instead of racing them.
func migrate(ctx context.Context, cc *pgx.ConnConfig) error {
	db := stdlib.OpenDB(*cc)
	defer db.Close()
	p, err := newProvider(db)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", codec.CtxErr(ctx.Err(), err))
	}
	applied, err := p.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: version: %w", codec.CtxErr(ctx.Err(), err))
	}
	if err := store.CheckSchemaVersion(applied, LatestMigration()); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

func newProvider(db *sql.DB) (*goose.Provider, error) {
	// Probe the lock every second (goose's default is every 5 s) for up
	// to five minutes: a replica waiting for another's migrations starts
	// as soon as they are done.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, Migrations(),
		goose.WithDisableGlobalRegistry(true), goose.WithSessionLocker(locker))
	if err != nil {
		return nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	return p, nil
}

// LatestMigration is the highest embedded migration version.
func LatestMigration() int64 {
	var latest int64
	entries, _ := fs.ReadDir(Migrations(), ".")
	for _, e := range entries {
		v, err := goose.NumericComponent(e.Name())
		if err == nil && v > latest {
			latest = v
		}
	}
	return latest
}

// Close closes the pool, waiting for connections in use to be returned.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", codec.CtxErr(ctx.Err(), err))
	}
	return nil
}

// MigrationVersion reports the applied and the latest embedded migration.
func (s *Store) MigrationVersion(ctx context.Context) (applied, latest int64, err error) {
	var v *int64
	err = s.pool.QueryRow(ctx, `SELECT MAX(version_id) FROM goose_db_version WHERE is_applied`).Scan(&v)
	if err != nil {
		return 0, 0, fmt.Errorf("postgres: migration version: %w", classify(ctx, err))
	}
	if v != nil {
		applied = *v
	}
	return applied, LatestMigration(), nil
}

// Tx runs fn in one READ COMMITTED transaction.
func (s *Store) Tx(ctx context.Context, fn func(store.Tx) error) (err error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", classify(ctx, err))
	}
	done := false
	defer func() {
		if !done {
			// fn panicked: undo, then let the panic continue.
			rollback(tx)
		}
	}()
	ferr := fn(&txn{ops: ops{q: tx}, tx: tx})
	done = true
	if ferr != nil {
		rollback(tx)
		return ferr
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", classify(ctx, err))
	}
	return nil
}

// rollback ends a transaction whatever the caller's context says: a
// cancelled context must not leave a connection inside a transaction (pgx
// would then have to close it).
func rollback(tx pgx.Tx) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = tx.Rollback(ctx)
}

// writeOne runs fn in a short transaction of its own.
func (s *Store) writeOne(ctx context.Context, fn func(q querier) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return classify(ctx, err)
	}
	done := false
	defer func() {
		if !done {
			rollback(tx)
		}
	}()
	ferr := fn(tx)
	done = true
	if ferr != nil {
		rollback(tx)
		return ferr
	}
	if err := tx.Commit(ctx); err != nil {
		return classify(ctx, err)
	}
	return nil
}

// querier is what the pool and a transaction have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ops holds the reads; Store runs them on the pool, txn inside its
// transaction.
type ops struct{ q querier }

// txn is one transaction: the reads plus the writes.
type txn struct {
	ops
	tx pgx.Tx
}

// Writes that can break a constraint are written so the server never
// raises the error: PostgreSQL aborts the whole transaction on a failed
// statement, where SQLite undoes only that statement, and callers may
// handle ErrConflict or ErrNotFound and carry on in the same Tx (try
// another username, skip a row). Inserts say ON CONFLICT DO NOTHING and
// check the row they reference in the same statement; an update checks
// the unique keys it would take. When no row is written, a follow-up read
// tells ErrConflict from ErrNotFound. Savepoints would do the same for any
// statement, but every one is a subtransaction, and a transaction with
// more than 64 of them (a sync updating thousands of users) slows every
// other session's snapshots.

// insertChecked runs an INSERT ... ON CONFLICT DO NOTHING guarded by
// parent (a query returning a row when the referenced row exists, or ""
// for none) and maps "nothing inserted" to ErrNotFound when the parent is
// missing, ErrConflict otherwise.
func (t *txn) insertChecked(ctx context.Context, insert, parent string, parentArg any, args ...any) error {
	tag, err := t.q.Exec(ctx, insert, args...)
	if err != nil {
		return classify(ctx, err)
	}
	if tag.RowsAffected() > 0 {
		return nil
	}
	if parent != "" {
		var one int
		err := t.q.QueryRow(ctx, parent, parentArg).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: referenced row %v", store.ErrNotFound, parentArg)
		}
		if err != nil {
			return classify(ctx, err)
		}
	}
	return fmt.Errorf("%w: key taken", store.ErrConflict)
}

var _ store.Tx = (*txn)(nil)

// SQLSTATE codes the store maps to its sentinels.
const (
	pgUniqueViolation      = "23505"
	pgForeignKeyViolation  = "23503"
	pgSerializationFailure = "40001"
	pgDeadlockDetected     = "40P01"
)

// classify maps constraint violations to the store's sentinels and makes
// sure a cancelled context shows in the error.
func classify(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case pgUniqueViolation:
			return fmt.Errorf("%w: %w", store.ErrConflict, err)
		case pgForeignKeyViolation:
			// A row names a user, key, ... that does not exist.
			return fmt.Errorf("%w: referenced row: %w", store.ErrNotFound, err)
		case pgSerializationFailure, pgDeadlockDetected:
			// Another transaction won; the caller may retry.
			return fmt.Errorf("%w: %w", store.ErrConflict, err)
		}
	}
	return codec.CtxErr(ctx.Err(), err)
}

// tm encodes a time column: NULL for the zero time.
func tm(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return codec.Time(t)
}

// nullTime scans a timestamptz column into a UTC time, NULL as zero.
type nullTime struct{ t *time.Time }

func (n nullTime) ScanTimestamptz(v pgtype.Timestamptz) error {
	if !v.Valid {
		*n.t = time.Time{}
		return nil
	}
	if v.InfinityModifier != pgtype.Finite {
		return errors.New("time column holds an infinite timestamp")
	}
	*n.t = v.Time.UTC()
	return nil
}

type scanner interface{ Scan(dest ...any) error }

// unstorable reports whether a lookup key is text PostgreSQL cannot hold
// (a NUL byte, invalid UTF-8). Nothing stored can match it, and the server
// would refuse the parameter with an error where SQLite finds nothing: a
// hostile username or OIDC state must be "not found", not a failure.
func unstorable(keys ...string) bool {
	for _, k := range keys {
		if strings.IndexByte(k, 0) >= 0 || !utf8.ValidString(k) {
			return true
		}
	}
	return false
}
