package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/internal/codec"
)

func scanLockout(sc scanner) (store.Lockout, error) {
	var l store.Lockout
	err := sc.Scan(&l.UserID, &l.FailedAttempts, nullTime{&l.FirstFailureAt},
		nullTime{&l.LastFailureAt}, nullTime{&l.LockedUntil})
	return l, err
}

const lockoutSelect = `SELECT user_id, failed_attempts, first_failure_at, last_failure_at,
	locked_until FROM lockouts WHERE user_id = $1`

const lockoutUpsert = `INSERT INTO lockouts (user_id, failed_attempts, first_failure_at,
	last_failure_at, locked_until) VALUES ($1,$2,$3,$4,$5)
	ON CONFLICT (user_id) DO UPDATE SET failed_attempts = excluded.failed_attempts,
	first_failure_at = excluded.first_failure_at, last_failure_at = excluded.last_failure_at,
	locked_until = excluded.locked_until`

func normaliseLockout(l store.Lockout) store.Lockout {
	l.FirstFailureAt = codec.Time(l.FirstFailureAt)
	l.LastFailureAt = codec.Time(l.LastFailureAt)
	l.LockedUntil = codec.Time(l.LockedUntil)
	return l
}

func putLockout(ctx context.Context, q querier, l store.Lockout) error {
	_, err := q.Exec(ctx, lockoutUpsert, l.UserID, l.FailedAttempts, tm(l.FirstFailureAt),
		tm(l.LastFailureAt), tm(l.LockedUntil))
	return err
}

// GetLockout returns a user's lock-out state; ErrNotFound if none is kept.
func (o ops) GetLockout(ctx context.Context, userID string) (store.Lockout, error) {
	if unstorable(userID) {
		return store.Lockout{}, fmt.Errorf("postgres: get lockout of user %q: %w", userID, store.ErrNotFound)
	}
	l, err := scanLockout(o.q.QueryRow(ctx, lockoutSelect, userID))
	if err != nil {
		return store.Lockout{}, fmt.Errorf("postgres: get lockout of user %s: %w", userID, classify(ctx, err))
	}
	return l, nil
}

// PutLockout replaces a user's lock-out state; ErrNotFound if the user
// does not exist.
func (t *txn) PutLockout(ctx context.Context, l store.Lockout) error {
	l = normaliseLockout(l)
	tag, err := t.q.Exec(ctx, `INSERT INTO lockouts (user_id, failed_attempts, first_failure_at,
		last_failure_at, locked_until)
		SELECT $1::text, $2::integer, $3::timestamptz, $4::timestamptz, $5::timestamptz
		WHERE EXISTS (SELECT 1 FROM users WHERE id = $1)
		ON CONFLICT (user_id) DO UPDATE SET failed_attempts = excluded.failed_attempts,
		first_failure_at = excluded.first_failure_at, last_failure_at = excluded.last_failure_at,
		locked_until = excluded.locked_until`, l.UserID, l.FailedAttempts, tm(l.FirstFailureAt),
		tm(l.LastFailureAt), tm(l.LockedUntil))
	if err != nil {
		return fmt.Errorf("postgres: put lockout of user %s: %w", l.UserID, classify(ctx, err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: put lockout of user %s: %w", l.UserID, store.ErrNotFound)
	}
	return nil
}

// UpdateLockout reads, updates and writes a user's lock-out state in one
// transaction holding the row's lock: a second caller, on this replica or
// another, waits at SELECT ... FOR UPDATE until the first commits and
// then reads its result, so no attempt is lost or counted twice.
//
// A user without a row gets one first (INSERT ... ON CONFLICT DO NOTHING
// waits for a concurrent insert of the same key to commit), so there is
// always a row to lock; if fn refuses, the rollback takes it away again.
func (s *Store) UpdateLockout(ctx context.Context, userID string, fn func(store.Lockout) (store.Lockout, error)) (store.Lockout, error) {
	var out store.Lockout
	err := s.writeOne(ctx, func(q querier) error {
		// A new row holds the zero state, which is what fn gets for a
		// user with no row.
		_, err := q.Exec(ctx, `INSERT INTO lockouts (user_id) VALUES ($1) ON CONFLICT (user_id) DO NOTHING`, userID)
		if err != nil {
			return classify(ctx, err)
		}
		old, err := scanLockout(q.QueryRow(ctx, lockoutSelect+` FOR UPDATE`, userID))
		if err != nil {
			return classify(ctx, err)
		}
		l, err := fn(old)
		if err != nil {
			return err
		}
		l.UserID = userID
		l = normaliseLockout(l)
		if err := putLockout(ctx, q, l); err != nil {
			return classify(ctx, err)
		}
		out = l
		return nil
	})
	if err != nil {
		return store.Lockout{}, fmt.Errorf("postgres: update lockout of user %s: %w", userID, err)
	}
	return out, nil
}

// RecordOnce remembers key until expires; ErrConflict while it is
// remembered. One conditional upsert: of concurrent callers, the first
// inserts, the others wait for it to commit and then find the key taken.
// An expired record is taken over in the same statement.
func (s *Store) RecordOnce(ctx context.Context, namespace, key string, expires time.Time) error {
	now := codec.Now()
	tag, err := s.pool.Exec(ctx, `INSERT INTO once_keys (namespace, key, expires_at) VALUES ($1,$2,$3)
		ON CONFLICT (namespace, key) DO UPDATE SET expires_at = excluded.expires_at
		WHERE once_keys.expires_at <= $4`, namespace, key, codec.Time(expires), now)
	if err != nil {
		return fmt.Errorf("postgres: record once %s/%s: %w", namespace, key, classify(ctx, err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: record once %s/%s: %w", namespace, key, store.ErrConflict)
	}
	s.sweep(ctx, now)
	return nil
}

// PutEphemeral stores value under (namespace, key) until expires,
// replacing any earlier value.
func (s *Store) PutEphemeral(ctx context.Context, namespace, key string, value []byte, expires time.Time) error {
	now := codec.Now()
	if value == nil {
		value = []byte{}
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO ephemeral (namespace, key, value, expires_at) VALUES ($1,$2,$3,$4)
		ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value,
		expires_at = excluded.expires_at`, namespace, key, value, codec.Time(expires))
	if err != nil {
		return fmt.Errorf("postgres: put ephemeral %s/%s: %w", namespace, key, classify(ctx, err))
	}
	s.sweep(ctx, now)
	return nil
}

// TakeEphemeral deletes and returns a value in one statement, so two
// callers can never both get it.
func (s *Store) TakeEphemeral(ctx context.Context, namespace, key string) ([]byte, error) {
	if unstorable(namespace, key) {
		return nil, fmt.Errorf("postgres: take ephemeral %q/%q: %w", namespace, key, store.ErrNotFound)
	}
	var value []byte
	var exp time.Time
	err := s.pool.QueryRow(ctx, `DELETE FROM ephemeral WHERE namespace = $1 AND key = $2
		RETURNING value, expires_at`, namespace, key).Scan(&value, nullTime{&exp})
	if err != nil {
		return nil, fmt.Errorf("postgres: take ephemeral %s/%s: %w", namespace, key, classify(ctx, err))
	}
	if !exp.After(codec.Now()) {
		return nil, fmt.Errorf("postgres: take ephemeral %s/%s: expired: %w", namespace, key, store.ErrNotFound)
	}
	if value == nil {
		value = []byte{}
	}
	return value, nil
}

// UpdateEphemeral reads, updates and writes a value in one transaction
// holding the row's lock, as UpdateLockout does: a key without a row gets
// an expired placeholder first (INSERT ... ON CONFLICT DO NOTHING waits
// for a concurrent insert of the same key), so there is always a row to
// lock with SELECT ... FOR UPDATE; if fn refuses, the rollback takes the
// placeholder away again.
func (s *Store) UpdateEphemeral(ctx context.Context, namespace, key string, fn func(old []byte, found bool) ([]byte, time.Time, error)) error {
	if unstorable(namespace, key) {
		return fmt.Errorf("postgres: update ephemeral %q/%q: %w", namespace, key, store.ErrNotFound)
	}
	now := codec.Now()
	err := s.writeOne(ctx, func(q querier) error {
		_, err := q.Exec(ctx, `INSERT INTO ephemeral (namespace, key, value, expires_at)
			VALUES ($1, $2, ''::bytea, 'epoch') ON CONFLICT (namespace, key) DO NOTHING`, namespace, key)
		if err != nil {
			return classify(ctx, err)
		}
		var old []byte
		var exp time.Time
		err = q.QueryRow(ctx, `SELECT value, expires_at FROM ephemeral WHERE namespace = $1 AND key = $2
			FOR UPDATE`, namespace, key).Scan(&old, nullTime{&exp})
		if err != nil {
			return classify(ctx, err)
		}
		found := exp.After(now)
		if !found {
			old = nil
		}
		value, expires, err := fn(old, found)
		if err != nil {
			return err
		}
		if value == nil {
			value = []byte{}
		}
		_, err = q.Exec(ctx, `UPDATE ephemeral SET value = $3, expires_at = $4 WHERE namespace = $1 AND key = $2`,
			namespace, key, value, codec.Time(expires))
		if err != nil {
			return classify(ctx, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: update ephemeral %s/%s: %w", namespace, key, err)
	}
	s.sweep(ctx, now)
	return nil
}

// AcquireLease takes or renews a lease in one conditional upsert: it
// succeeds when there is no lease, the caller holds it, or it has expired
// by the database's clock.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	tag, err := s.pool.Exec(ctx, `INSERT INTO leases (name, holder, expires_at)
		VALUES ($1, $2, clock_timestamp() + $3::bigint * interval '1 microsecond')
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= clock_timestamp()`,
		name, holder, ttl.Microseconds())
	if err != nil {
		return false, fmt.Errorf("postgres: acquire lease %s for %s: %w", name, holder, classify(ctx, err))
	}
	return tag.RowsAffected() > 0, nil
}

// ReleaseLease gives up a lease the holder holds; releasing a lease held
// by another holder, or none, does nothing.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM leases WHERE name = $1 AND holder = $2`, name, holder)
	if err != nil {
		return fmt.Errorf("postgres: release lease %s for %s: %w", name, holder, classify(ctx, err))
	}
	return nil
}

// sweepEvery bounds how often expired one-time keys and ephemeral values
// are purged: often enough to keep the tables small, rarely enough to cost
// nothing per sign-in. Each replica sweeps on its own; the deletes are
// idempotent.
const sweepEvery = time.Minute

// sweep purges expired rows at most once per sweepEvery. It runs after
// the caller's write has committed, so a failure only delays the purge.
func (s *Store) sweep(ctx context.Context, now time.Time) {
	last := s.lastSweep.Load()
	if now.UnixMicro()-last < sweepEvery.Microseconds() || !s.lastSweep.CompareAndSwap(last, now.UnixMicro()) {
		return
	}
	batch := &pgx.Batch{}
	batch.Queue(`DELETE FROM once_keys WHERE expires_at <= $1`, now)
	batch.Queue(`DELETE FROM ephemeral WHERE expires_at <= $1`, now)
	if err := s.pool.SendBatch(ctx, batch).Close(); err != nil && !errors.Is(err, ctx.Err()) {
		// Try again at the next write rather than in a minute.
		s.lastSweep.CompareAndSwap(now.UnixMicro(), last)
	}
}
