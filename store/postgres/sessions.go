package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/dirbridge/dirbridge/store"
)

const sessionCols = `id, user_id, method, source_ip, user_agent, created_at, last_seen_at, expires_at, bypass`

func scanSession(sc scanner) (store.Session, error) {
	var s store.Session
	err := sc.Scan(&s.ID, &s.UserID, &s.Method, &s.SourceIP, &s.UserAgent,
		nullTime{&s.CreatedAt}, nullTime{&s.LastSeenAt}, nullTime{&s.ExpiresAt}, &s.Bypass)
	return s, err
}

// GetSession returns one session, expired or not (the caller decides).
func (o ops) GetSession(ctx context.Context, id string) (store.Session, error) {
	if unstorable(id) {
		return store.Session{}, fmt.Errorf("postgres: get session: %w", store.ErrNotFound)
	}
	s, err := scanSession(o.q.QueryRow(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = $1`, id))
	if err != nil {
		return store.Session{}, fmt.Errorf("postgres: get session: %w", classify(ctx, err))
	}
	return s, nil
}

// ListSessions returns a user's sessions (every session when userID is
// empty), oldest first.
func (o ops) ListSessions(ctx context.Context, userID string) ([]store.Session, error) {
	q := `SELECT ` + sessionCols + ` FROM sessions`
	var args []any
	if userID != "" {
		q += ` WHERE user_id = $1`
		args = append(args, userID)
	}
	rows, err := o.q.Query(ctx, q+` ORDER BY created_at NULLS FIRST, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list sessions: %w", classify(ctx, err))
	}
	defer rows.Close()
	var out []store.Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list sessions: %w", classify(ctx, err))
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list sessions: %w", classify(ctx, err))
	}
	return out, nil
}

// CountActiveUsersWithSessions counts distinct users with a session not
// expired at now.
func (o ops) CountActiveUsersWithSessions(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := o.q.QueryRow(ctx, `SELECT COUNT(DISTINCT user_id) FROM sessions WHERE expires_at > $1`,
		tm(now)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("postgres: count users with sessions: %w", classify(ctx, err))
	}
	return n, nil
}

// CreateSession inserts s; ErrConflict if its ID exists, ErrNotFound if
// its user does not.
func (t *txn) CreateSession(ctx context.Context, s store.Session) error {
	err := t.insertChecked(ctx, `INSERT INTO sessions (`+sessionCols+`)
		SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::timestamptz, $7::timestamptz,
			$8::timestamptz, $9::boolean
		WHERE EXISTS (SELECT 1 FROM users WHERE id = $2)
		ON CONFLICT DO NOTHING`, `SELECT 1 FROM users WHERE id = $1`, s.UserID,
		s.ID, s.UserID, s.Method, s.SourceIP, s.UserAgent, tm(s.CreatedAt), tm(s.LastSeenAt),
		tm(s.ExpiresAt), s.Bypass)
	if err != nil {
		return fmt.Errorf("postgres: create session for user %s: %w", s.UserID, err)
	}
	return nil
}

// TouchSession sets LastSeenAt.
func (t *txn) TouchSession(ctx context.Context, id string, at time.Time) error {
	return t.execOne(ctx, "touch session", `UPDATE sessions SET last_seen_at = $1 WHERE id = $2`, tm(at), id)
}

// DeleteSession removes one session.
func (t *txn) DeleteSession(ctx context.Context, id string) error {
	return t.execOne(ctx, "delete session", `DELETE FROM sessions WHERE id = $1`, id)
}

// DeleteUserSessions removes every session of a user.
func (t *txn) DeleteUserSessions(ctx context.Context, userID string) (int, error) {
	return t.execN(ctx, "delete sessions of user "+userID, `DELETE FROM sessions WHERE user_id = $1`, userID)
}

// DeleteExpiredSessions removes sessions that expired before now.
func (t *txn) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	return t.execN(ctx, "delete expired sessions", `DELETE FROM sessions WHERE expires_at < $1`, tm(now))
}
