package sqlite

import (
	"context"
	"errors"
	"fmt"
	"time"

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
	locked_until FROM lockouts WHERE user_id = ?`

const lockoutUpsert = `INSERT INTO lockouts (user_id, failed_attempts, first_failure_at,
	last_failure_at, locked_until) VALUES (?,?,?,?,?)
	ON CONFLICT (user_id) DO UPDATE SET failed_attempts = excluded.failed_attempts,
	first_failure_at = excluded.first_failure_at, last_failure_at = excluded.last_failure_at,
	locked_until = excluded.locked_until`

func normaliseLockout(l store.Lockout) store.Lockout {
	l.FirstFailureAt = codec.Time(l.FirstFailureAt)
	l.LastFailureAt = codec.Time(l.LastFailureAt)
	l.LockedUntil = codec.Time(l.LockedUntil)
	return l
}

func putLockout(ctx context.Context, q runner, l store.Lockout) error {
	_, err := q.exec(ctx, lockoutUpsert, l.UserID, l.FailedAttempts, tm(l.FirstFailureAt),
		tm(l.LastFailureAt), tm(l.LockedUntil))
	return err
}

// GetLockout returns a user's lock-out state; ErrNotFound if none is kept.
func (o ops) GetLockout(ctx context.Context, userID string) (store.Lockout, error) {
	l, err := scanLockout(o.q.queryRow(ctx, lockoutSelect, userID))
	if err != nil {
		return store.Lockout{}, fmt.Errorf("sqlite: get lockout of user %s: %w", userID, classify(ctx, err))
	}
	return l, nil
}

// PutLockout replaces a user's lock-out state; ErrNotFound if the user
// does not exist.
func (t *txn) PutLockout(ctx context.Context, l store.Lockout) error {
	if err := putLockout(ctx, t.q, normaliseLockout(l)); err != nil {
		return fmt.Errorf("sqlite: put lockout of user %s: %w", l.UserID, classify(ctx, err))
	}
	return nil
}

// UpdateLockout reads, updates and writes a user's lock-out state in one
// writer transaction; the single writer connection and BEGIN IMMEDIATE
// serialise concurrent calls, in this process and in others.
func (s *Store) UpdateLockout(ctx context.Context, userID string, fn func(store.Lockout) (store.Lockout, error)) (store.Lockout, error) {
	var out store.Lockout
	err := s.writeOne(ctx, func(q runner) error {
		old, err := scanLockout(q.queryRow(ctx, lockoutSelect, userID))
		switch {
		case errors.Is(err, errNoRows):
			old = store.Lockout{UserID: userID}
		case err != nil:
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
		return store.Lockout{}, fmt.Errorf("sqlite: update lockout of user %s: %w", userID, err)
	}
	return out, nil
}

// RecordOnce remembers key until expires; ErrConflict while it is
// remembered. An expired record is taken over in the same statement.
func (s *Store) RecordOnce(ctx context.Context, namespace, key string, expires time.Time) error {
	now := codec.Now()
	err := s.writeOne(ctx, func(q runner) error {
		res, err := q.exec(ctx, `INSERT INTO once_keys (namespace, key, expires_at) VALUES (?,?,?)
			ON CONFLICT (namespace, key) DO UPDATE SET expires_at = excluded.expires_at
			WHERE once_keys.expires_at <= ?`, namespace, key, tm(codec.Time(expires)), tm(now))
		if err != nil {
			return classify(ctx, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrConflict
		}
		return s.sweep(ctx, q, now)
	})
	if err != nil {
		return fmt.Errorf("sqlite: record once %s/%s: %w", namespace, key, err)
	}
	return nil
}

// PutEphemeral stores value under (namespace, key) until expires,
// replacing any earlier value.
func (s *Store) PutEphemeral(ctx context.Context, namespace, key string, value []byte, expires time.Time) error {
	now := codec.Now()
	err := s.writeOne(ctx, func(q runner) error {
		if value == nil {
			value = []byte{}
		}
		_, err := q.exec(ctx, `INSERT INTO ephemeral (namespace, key, value, expires_at) VALUES (?,?,?,?)
			ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value,
			expires_at = excluded.expires_at`, namespace, key, value, tm(codec.Time(expires)))
		if err != nil {
			return classify(ctx, err)
		}
		return s.sweep(ctx, q, now)
	})
	if err != nil {
		return fmt.Errorf("sqlite: put ephemeral %s/%s: %w", namespace, key, err)
	}
	return nil
}

// TakeEphemeral deletes and returns a value in one statement, so two
// callers can never both get it.
func (s *Store) TakeEphemeral(ctx context.Context, namespace, key string) ([]byte, error) {
	var value []byte
	err := s.writeOne(ctx, func(q runner) error {
		var exp int64
		err := q.queryRow(ctx, `DELETE FROM ephemeral WHERE namespace = ? AND key = ?
			RETURNING value, expires_at`, namespace, key).Scan(&value, &exp)
		if err != nil {
			return classify(ctx, err)
		}
		if exp <= codec.Now().UnixMicro() {
			value = nil
			return store.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: take ephemeral %s/%s: %w", namespace, key, err)
	}
	if value == nil {
		value = []byte{}
	}
	return value, nil
}

// UpdateEphemeral reads, updates and writes a value in one writer
// transaction; the single writer connection and BEGIN IMMEDIATE serialise
// concurrent calls, in this process and in others.
func (s *Store) UpdateEphemeral(ctx context.Context, namespace, key string, fn func(old []byte, found bool) ([]byte, time.Time, error)) error {
	now := codec.Now()
	err := s.writeOne(ctx, func(q runner) error {
		var old []byte
		var exp int64
		err := q.queryRow(ctx, `SELECT value, expires_at FROM ephemeral WHERE namespace = ? AND key = ?`,
			namespace, key).Scan(&old, &exp)
		found := err == nil && exp > now.UnixMicro()
		if err != nil && !errors.Is(err, errNoRows) {
			return classify(ctx, err)
		}
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
		_, err = q.exec(ctx, `INSERT INTO ephemeral (namespace, key, value, expires_at) VALUES (?,?,?,?)
			ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value,
			expires_at = excluded.expires_at`, namespace, key, value, tm(codec.Time(expires)))
		if err != nil {
			return classify(ctx, err)
		}
		return s.sweep(ctx, q, now)
	})
	if err != nil {
		return fmt.Errorf("sqlite: update ephemeral %s/%s: %w", namespace, key, err)
	}
	return nil
}

// AcquireLease takes or renews a lease in one upsert: it succeeds when
// there is no lease, the caller holds it, or it has expired.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	now := codec.Now()
	var ok bool
	err := s.writeOne(ctx, func(q runner) error {
		res, err := q.exec(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES (?,?,?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
			WHERE leases.holder = excluded.holder OR leases.expires_at <= ?`,
			name, holder, tm(now.Add(ttl)), tm(now))
		if err != nil {
			return classify(ctx, err)
		}
		n, _ := res.RowsAffected()
		ok = n > 0
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: acquire lease %s for %s: %w", name, holder, err)
	}
	return ok, nil
}

// ReleaseLease gives up a lease the holder holds; releasing a lease held
// by another holder, or none, does nothing.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	err := s.writeOne(ctx, func(q runner) error {
		_, err := q.exec(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder)
		return classify(ctx, err)
	})
	if err != nil {
		return fmt.Errorf("sqlite: release lease %s for %s: %w", name, holder, err)
	}
	return nil
}

// sweepEvery bounds how often expired one-time keys and ephemeral values
// are purged: often enough to keep the tables small, rarely enough to cost
// nothing per sign-in.
const sweepEvery = time.Minute

func (s *Store) sweep(ctx context.Context, q runner, now time.Time) error {
	last := s.lastSweep.Load()
	if now.UnixMicro()-last < sweepEvery.Microseconds() || !s.lastSweep.CompareAndSwap(last, now.UnixMicro()) {
		return nil
	}
	if _, err := q.exec(ctx, `DELETE FROM once_keys WHERE expires_at <= ?`, tm(now)); err != nil {
		return classify(ctx, err)
	}
	if _, err := q.exec(ctx, `DELETE FROM ephemeral WHERE expires_at <= ?`, tm(now)); err != nil {
		return classify(ctx, err)
	}
	return nil
}
