package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/internal/codec"
)

const idpLinkCols = `user_id, issuer, subject, created_at, last_seen_at`

func scanIdPLink(sc scanner) (store.IdPLink, error) {
	var l store.IdPLink
	err := sc.Scan(&l.UserID, &l.Issuer, &l.Subject, nullTime{&l.CreatedAt}, nullTime{&l.LastSeenAt})
	return l, err
}

// GetIdPLink returns the link of (issuer, subject), compared bytewise.
func (o ops) GetIdPLink(ctx context.Context, issuer, subject string) (store.IdPLink, error) {
	if unstorable(issuer, subject) {
		return store.IdPLink{}, fmt.Errorf("postgres: get idp link of issuer %s: %w", issuer, store.ErrNotFound)
	}
	l, err := scanIdPLink(o.q.QueryRow(ctx,
		`SELECT `+idpLinkCols+` FROM idp_links WHERE issuer = $1 AND subject = $2`, issuer, subject))
	if err != nil {
		return store.IdPLink{}, fmt.Errorf("postgres: get idp link of issuer %s: %w", issuer, classify(ctx, err))
	}
	return l, nil
}

// ListIdPLinks returns a user's links ordered by issuer (nil when none).
func (o ops) ListIdPLinks(ctx context.Context, userID string) ([]store.IdPLink, error) {
	if unstorable(userID) {
		return nil, nil
	}
	rows, err := o.q.Query(ctx,
		`SELECT `+idpLinkCols+` FROM idp_links WHERE user_id = $1 ORDER BY issuer`, userID)
	if err != nil {
		return nil, fmt.Errorf("postgres: list idp links of user %s: %w", userID, classify(ctx, err))
	}
	defer rows.Close()
	var out []store.IdPLink
	for rows.Next() {
		l, err := scanIdPLink(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list idp links of user %s: %w", userID, classify(ctx, err))
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list idp links of user %s: %w", userID, classify(ctx, err))
	}
	return out, nil
}

// CreateIdPLink inserts l; ErrConflict when (issuer, subject) or (user,
// issuer) is taken, ErrNotFound when the user does not exist. Either
// leaves the transaction usable (see insertChecked): the sign-in that
// meets a conflict goes on to audit it in the same Tx.
func (t *txn) CreateIdPLink(ctx context.Context, l store.IdPLink) error {
	if err := codec.PrepareIdPLink(&l, codec.Now()); err != nil {
		return fmt.Errorf("postgres: create %w", err)
	}
	err := t.insertChecked(ctx, `INSERT INTO idp_links (`+idpLinkCols+`)
		SELECT $1::text, $2::text, $3::text, $4::timestamptz, $5::timestamptz
		WHERE EXISTS (SELECT 1 FROM users WHERE id = $1)
		ON CONFLICT DO NOTHING`, `SELECT 1 FROM users WHERE id = $1`, l.UserID,
		l.UserID, l.Issuer, l.Subject, tm(l.CreatedAt), tm(l.LastSeenAt))
	if err != nil {
		return fmt.Errorf("postgres: create idp link of user %s to issuer %s: %w", l.UserID, l.Issuer, err)
	}
	return nil
}

// DeleteIdPLink removes the user's link to issuer.
func (t *txn) DeleteIdPLink(ctx context.Context, userID, issuer string) error {
	what := "delete idp link of user " + userID + " to issuer " + issuer
	if unstorable(userID, issuer) {
		return fmt.Errorf("postgres: %s: %w", what, store.ErrNotFound)
	}
	return t.execOne(ctx, what, `DELETE FROM idp_links WHERE user_id = $1 AND issuer = $2`, userID, issuer)
}

// TouchIdPLink records a sign-in through the link of (issuer, subject).
func (t *txn) TouchIdPLink(ctx context.Context, issuer, subject string, at time.Time) error {
	what := "touch idp link of issuer " + issuer
	if unstorable(issuer, subject) {
		return fmt.Errorf("postgres: %s: %w", what, store.ErrNotFound)
	}
	return t.execOne(ctx, what, `UPDATE idp_links SET last_seen_at = $1 WHERE issuer = $2 AND subject = $3`, tm(at), issuer, subject)
}
