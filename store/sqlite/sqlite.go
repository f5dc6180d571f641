// Package sqlite is dirbridge's default store backend: one SQLite file
// through modernc.org/sqlite (pure Go, no cgo).
//
// The database runs in WAL mode so readers never wait for the writer. All
// writes go through one connection (a pool of size one) and every
// transaction starts with BEGIN IMMEDIATE, so writers queue in Go instead
// of failing with SQLITE_BUSY halfway through; busy_timeout covers other
// processes (the CLI next to the daemon). Reads outside a transaction use a
// separate read-only pool.
//
// Times are kept as microseconds since the Unix epoch in UTC; they come
// back in UTC, truncated to the microsecond, the zero time as zero.
//
// Store write methods (Tx, UpdateLockout, RecordOnce, ...) must not be
// called from inside a Tx callback (see store.Store): they need the one
// writer connection the transaction holds. Such a call waits until its
// context ends and then fails with an error wrapping the context's and
// naming the likely cause (errInsideTx), rather than blocking silently.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

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

// Store is a store.Store on one SQLite database file.
type Store struct {
	ops           // reads outside transactions, on the read pool
	write *sql.DB // one connection; every transaction is BEGIN IMMEDIATE
	read  *sql.DB // read-only pool
	wst   *stmtCache

	lastSweep atomic.Int64 // unix µs of the last purge of expired rows
	// txOpen counts transactions holding the writer (0 or 1), so a wait
	// for the writer that ends with its context can say who held it.
	txOpen atomic.Int32
}

// errNoRows is database/sql's "no row" before classify maps it.
var errNoRows = sql.ErrNoRows

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database at dsn and applies pending
// migrations. dsn is a file path or a "file:" URI; query parameters in it
// are kept, and the pragmas the store relies on are added.
func Open(ctx context.Context, dsn string) (*Store, error) {
	base, q, err := splitDSN(dsn)
	if err != nil {
		return nil, err
	}
	common := func(extra ...string) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = append([]string(nil), vs...)
		}
		v.Add("_pragma", "busy_timeout(10000)")
		v.Add("_pragma", "journal_mode(WAL)")
		v.Add("_pragma", "foreign_keys(1)")
		// NORMAL is durable in WAL mode except for the last commits on
		// power loss, and much faster than FULL.
		v.Add("_pragma", "synchronous(NORMAL)")
		for i := 0; i+1 < len(extra); i += 2 {
			v.Add(extra[i], extra[i+1])
		}
		return base + "?" + v.Encode()
	}

	// The writer's page cache holds the hot pages of a large sync's
	// transaction: with SQLite's default 2 MB it spilled pages to the WAL
	// in mid-transaction and read them back for every index it updated.
	// 16 MB does as well as 64 MB now that a sync writes in key order
	// (measured on 100,000 users), and costs less memory. The cache only
	// grows as far as a transaction needs.
	//
	// Statement journals stay in memory (temp_store): each multi-row INSERT
	// of a bulk write keeps one, so that a constraint failure undoes that
	// statement alone, and past 64 KB SQLite spilled it to a temp file:
	// 72,000 page writes in a first sync of 100,000 users, ~0.3 s of its
	// apply. A journal holds at most the pages one statement touches.
	write, err := sql.Open("sqlite", common("_txlock", "immediate", "_pragma", "cache_size(-16384)", "_pragma", "temp_store(MEMORY)"))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", base, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)

	if err := migrate(ctx, common()); err != nil {
		_ = write.Close()
		return nil, err
	}

	read, err := sql.Open("sqlite", common("_pragma", "query_only(1)"))
	if err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", base, err)
	}
	n := max(4, runtime.NumCPU())
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)

	s := &Store{write: write, read: read, wst: newStmtCache(write)}
	s.ops = ops{q: &dbRunner{st: newStmtCache(read)}}
	if err := s.Ping(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// splitDSN accepts a path or a file: URI and returns the base and its
// query parameters. In-memory databases are refused: the store uses two
// pools, which would see two different memory databases.
func splitDSN(dsn string) (string, url.Values, error) {
	if dsn == "" {
		return "", nil, errors.New("sqlite: empty dsn")
	}
	base, rawQuery, _ := strings.Cut(dsn, "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", nil, fmt.Errorf("sqlite: dsn query: %w", err)
	}
	if base == ":memory:" || strings.Contains(base, ":memory:") || q.Get("mode") == "memory" {
		return "", nil, errors.New("sqlite: in-memory databases are not supported; use a file (in tests, one in t.TempDir())")
	}
	if !strings.HasPrefix(base, "file:") {
		base = "file:" + base
	}
	return base, q, nil
}

// migrate applies pending migrations on a connection of its own: goose
// holds a connection while it runs migrations in transactions, which a
// single-connection pool could not serve.
func migrate(ctx context.Context, dsn string) error {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("sqlite: migrate: open: %w", err)
	}
	defer db.Close()
	p, err := newProvider(db)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", codec.CtxErr(ctx.Err(), err))
	}
	applied, err := p.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: migrate: version: %w", codec.CtxErr(ctx.Err(), err))
	}
	if err := store.CheckSchemaVersion(applied, LatestMigration()); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}

func newProvider(db *sql.DB) (*goose.Provider, error) {
	p, err := goose.NewProvider(goose.DialectSQLite3, db, Migrations(),
		goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return nil, fmt.Errorf("sqlite: migrations: %w", err)
	}
	return p, nil
}

// Close closes both pools.
func (s *Store) Close() error {
	s.wst.close()
	if r, ok := s.q.(*dbRunner); ok {
		r.st.close()
	}
	return errors.Join(s.read.Close(), s.write.Close())
}

// Ping checks both pools answer.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.read.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", codec.CtxErr(ctx.Err(), err))
	}
	if err := s.write.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", codec.CtxErr(ctx.Err(), err))
	}
	return nil
}

// MigrationVersion reports the applied and the latest embedded migration.
func (s *Store) MigrationVersion(ctx context.Context) (applied, latest int64, err error) {
	var v sql.NullInt64
	err = s.read.QueryRowContext(ctx,
		`SELECT MAX(version_id) FROM goose_db_version WHERE is_applied`).Scan(&v)
	if err != nil {
		return 0, 0, fmt.Errorf("sqlite: migration version: %w", codec.CtxErr(ctx.Err(), err))
	}
	return v.Int64, LatestMigration(), nil
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

// Tx runs fn in one BEGIN IMMEDIATE transaction on the writer.
func (s *Store) Tx(ctx context.Context, fn func(store.Tx) error) (err error) {
	tx, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	r := s.txRunner(tx)
	done := false
	defer func() {
		if done {
			s.keep(ctx, r) // the writer is free again
		}
	}()
	s.txOpen.Add(1)
	defer s.txOpen.Add(-1)
	defer func() {
		if !done {
			// fn panicked: undo, then let the panic continue.
			_ = tx.Rollback()
		}
	}()
	t := &txn{ops: ops{q: r}}
	ferr := fn(t)
	done = true
	r.closeStmts()
	if ferr != nil {
		_ = tx.Rollback()
		return ferr
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", classify(ctx, err))
	}
	return nil
}

// errInsideTx is the cause a wait for the writer names when it ended with
// its context while a transaction held the writer.
var errInsideTx = errors.New("waited for the write connection until the context ended while a transaction held it " +
	"(a Store write called inside a Tx callback waits for its own transaction: use the Tx's methods)")

// begin starts a BEGIN IMMEDIATE transaction on the writer, waiting for
// the connection while another transaction holds it. A wait cut short by
// ctx while a transaction was open says so (errInsideTx), because a Store
// write inside a Tx callback would otherwise be a silent hang.
func (s *Store) begin(ctx context.Context) (*sql.Tx, error) {
	held := s.txOpen.Load() > 0
	tx, err := s.write.BeginTx(ctx, nil)
	if err == nil {
		return tx, nil
	}
	if cerr := ctx.Err(); cerr != nil && (held || s.txOpen.Load() > 0) {
		return nil, fmt.Errorf("%w: %w", errInsideTx, cerr)
	}
	return nil, codec.CtxErr(ctx.Err(), err)
}

// writeOne runs fn in a short transaction of its own on the writer.
func (s *Store) writeOne(ctx context.Context, fn func(q runner) error) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	r := s.txRunner(tx)
	err = fn(r)
	r.closeStmts()
	if err != nil {
		_ = tx.Rollback()
		s.keep(ctx, r)
		return err
	}
	err = tx.Commit()
	s.keep(ctx, r)
	if err != nil {
		return classify(ctx, err)
	}
	return nil
}

// runner runs statements on the read pool or inside a transaction, with
// prepared statements cached so a sync's 100,000 inserts parse once.
type runner interface {
	exec(ctx context.Context, query string, args ...any) (sql.Result, error)
	query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	queryRow(ctx context.Context, query string, args ...any) *sql.Row
}

// stmtCache keeps statements prepared on one pool.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}}
}

// get returns the statement for query, preparing it on a miss. The lock
// is not held while preparing: on the writer, a prepare waits for the one
// connection, and the transaction holding it looks the cache up.
func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	if st := c.cached(query); st != nil {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[query]; ok {
		_ = st.Close() // prepared meanwhile by another caller
		return old, nil
	}
	c.m[query] = st
	return st, nil
}

// cached returns the statement prepared for query, if any, without
// preparing it.
func (c *stmtCache) cached(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[query]
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, st := range c.m {
		_ = st.Close()
		delete(c.m, k)
	}
}

type dbRunner struct{ st *stmtCache }

func (r *dbRunner) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := r.st.get(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (r *dbRunner) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := r.st.get(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (r *dbRunner) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := r.st.get(ctx, query)
	if err != nil {
		// Let the error surface through Scan, as database/sql does.
		return r.st.db.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// txRunner runs one transaction's statements on the writer. A statement
// the writer's cache (Store.wst) holds is bound to the transaction with
// Tx.StmtContext, which finds it already prepared on the writer's one
// connection: no parse. A statement the cache lacks is prepared on the
// transaction itself (through the pool it would wait forever for the
// connection the transaction holds) and remembered in missed, so that
// Store.keep prepares it into the cache once the connection is free.
// Parsing every statement in every transaction was a third of a SCIM
// create's time.
type txRunner struct {
	tx     *sql.Tx
	cache  *stmtCache
	stmts  map[string]*sql.Stmt
	missed []string
}

func (s *Store) txRunner(tx *sql.Tx) *txRunner {
	return &txRunner{tx: tx, cache: s.wst, stmts: map[string]*sql.Stmt{}}
}

// keep prepares the statements a transaction found missing from the
// writer's cache, after the transaction let go of the connection. A
// failure only means they are parsed again next time.
func (s *Store) keep(ctx context.Context, r *txRunner) {
	for _, q := range r.missed {
		if _, err := s.wst.get(ctx, q); err != nil {
			return
		}
	}
}

func (r *txRunner) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := r.stmts[query]; ok {
		return st, nil
	}
	var st *sql.Stmt
	if cached := r.cache.cached(query); cached != nil {
		st = r.tx.StmtContext(ctx, cached)
	} else {
		var err error
		if st, err = r.tx.PrepareContext(ctx, query); err != nil {
			return nil, err
		}
		r.missed = append(r.missed, query)
	}
	r.stmts[query] = st
	return st, nil
}

func (r *txRunner) closeStmts() {
	for k, st := range r.stmts {
		_ = st.Close()
		delete(r.stmts, k)
	}
}

func (r *txRunner) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := r.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (r *txRunner) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := r.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (r *txRunner) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := r.stmt(ctx, query)
	if err != nil {
		return r.tx.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// ops holds the reads; Store runs them on the read pool, txn inside its
// transaction.
type ops struct{ q runner }

// txn is one transaction: the reads plus the writes.
type txn struct{ ops }

var _ store.Tx = (*txn)(nil)

// classify maps constraint violations to the store's sentinels and makes
// sure a cancelled context shows in the error.
func classify(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %w", store.ErrConflict, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			// A row names a user, key, ... that does not exist.
			return fmt.Errorf("%w: referenced row: %w", store.ErrNotFound, err)
		}
	}
	return codec.CtxErr(ctx.Err(), err)
}
