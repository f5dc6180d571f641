package sqlite

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

// GetIdPLink returns the link of (issuer, subject), compared exactly.
func (o ops) GetIdPLink(ctx context.Context, issuer, subject string) (store.IdPLink, error) {
	l, err := scanIdPLink(o.q.queryRow(ctx,
		`SELECT `+idpLinkCols+` FROM idp_links WHERE issuer = ? AND subject = ?`, issuer, subject))
	if err != nil {
		return store.IdPLink{}, fmt.Errorf("sqlite: get idp link of issuer %s: %w", issuer, classify(ctx, err))
	}
	return l, nil
}

// ListIdPLinks returns a user's links ordered by issuer (nil when none).
func (o ops) ListIdPLinks(ctx context.Context, userID string) ([]store.IdPLink, error) {
	rows, err := o.q.query(ctx,
		`SELECT `+idpLinkCols+` FROM idp_links WHERE user_id = ? ORDER BY issuer`, userID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list idp links of user %s: %w", userID, classify(ctx, err))
	}
	defer rows.Close()
	var out []store.IdPLink
	for rows.Next() {
		l, err := scanIdPLink(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list idp links of user %s: %w", userID, classify(ctx, err))
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list idp links of user %s: %w", userID, classify(ctx, err))
	}
	return out, nil
}

// CreateIdPLink inserts l; ErrConflict when (issuer, subject) or (user,
// issuer) is taken, ErrNotFound when the user does not exist. A refused
// insert undoes only itself.
func (t *txn) CreateIdPLink(ctx context.Context, l store.IdPLink) error {
	if err := codec.PrepareIdPLink(&l, codec.Now()); err != nil {
		return fmt.Errorf("sqlite: create %w", err)
	}
	_, err := t.q.exec(ctx, `INSERT INTO idp_links (`+idpLinkCols+`) VALUES (?,?,?,?,?)`,
		l.UserID, l.Issuer, l.Subject, tm(l.CreatedAt), tm(l.LastSeenAt))
	if err != nil {
		return fmt.Errorf("sqlite: create idp link of user %s to issuer %s: %w", l.UserID, l.Issuer, classify(ctx, err))
	}
	return nil
}

// DeleteIdPLink removes the user's link to issuer.
func (t *txn) DeleteIdPLink(ctx context.Context, userID, issuer string) error {
	return t.execOne(ctx, "delete idp link of user "+userID+" to issuer "+issuer,
		`DELETE FROM idp_links WHERE user_id = ? AND issuer = ?`, userID, issuer)
}

// TouchIdPLink records a sign-in through the link of (issuer, subject).
func (t *txn) TouchIdPLink(ctx context.Context, issuer, subject string, at time.Time) error {
	return t.execOne(ctx, "touch idp link of issuer "+issuer, `UPDATE idp_links SET last_seen_at = ? WHERE issuer = ? AND subject = ?`,
		tm(codec.Time(at)), issuer, subject)
}
