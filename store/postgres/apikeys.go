package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/dirbridge/dirbridge/store"
)

const apiKeyCols = `id, user_id, name, hash, created_at, revoked_at, last_used_at`

func scanAPIKey(sc scanner) (store.APIKey, error) {
	var k store.APIKey
	err := sc.Scan(&k.ID, &k.UserID, &k.Name, &k.Hash, nullTime{&k.CreatedAt},
		nullTime{&k.RevokedAt}, nullTime{&k.LastUsedAt})
	return k, err
}

// GetAPIKey returns one key, revoked or not.
func (o ops) GetAPIKey(ctx context.Context, id string) (store.APIKey, error) {
	if unstorable(id) {
		return store.APIKey{}, fmt.Errorf("postgres: get api key %s: %w", id, store.ErrNotFound)
	}
	k, err := scanAPIKey(o.q.QueryRow(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE id = $1`, id))
	if err != nil {
		return store.APIKey{}, fmt.Errorf("postgres: get api key %s: %w", id, classify(ctx, err))
	}
	return k, nil
}

// GetAPIKeyByHash returns the key whose secret hashes to hash.
func (o ops) GetAPIKeyByHash(ctx context.Context, hash string) (store.APIKey, error) {
	if unstorable(hash) {
		return store.APIKey{}, fmt.Errorf("postgres: get api key by hash: %w", store.ErrNotFound)
	}
	k, err := scanAPIKey(o.q.QueryRow(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE hash = $1`, hash))
	if err != nil {
		return store.APIKey{}, fmt.Errorf("postgres: get api key by hash: %w", classify(ctx, err))
	}
	return k, nil
}

// ListAPIKeys returns a user's keys (every key when userID is empty),
// oldest first.
func (o ops) ListAPIKeys(ctx context.Context, userID string) ([]store.APIKey, error) {
	q := `SELECT ` + apiKeyCols + ` FROM api_keys`
	var args []any
	if userID != "" {
		q += ` WHERE user_id = $1`
		args = append(args, userID)
	}
	rows, err := o.q.Query(ctx, q+` ORDER BY created_at NULLS FIRST, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list api keys: %w", classify(ctx, err))
	}
	defer rows.Close()
	var out []store.APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list api keys: %w", classify(ctx, err))
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list api keys: %w", classify(ctx, err))
	}
	return out, nil
}

// GetToken returns one token, expired or not.
func (o ops) GetToken(ctx context.Context, id string) (store.Token, error) {
	if unstorable(id) {
		return store.Token{}, fmt.Errorf("postgres: get token: %w", store.ErrNotFound)
	}
	var tk store.Token
	err := o.q.QueryRow(ctx, `SELECT id, key_id, user_id, created_at, expires_at FROM tokens WHERE id = $1`, id).
		Scan(&tk.ID, &tk.KeyID, &tk.UserID, nullTime{&tk.CreatedAt}, nullTime{&tk.ExpiresAt})
	if err != nil {
		return store.Token{}, fmt.Errorf("postgres: get token: %w", classify(ctx, err))
	}
	return tk, nil
}

// CreateAPIKey inserts k; ErrConflict if its ID or hash exists,
// ErrNotFound if its user does not.
func (t *txn) CreateAPIKey(ctx context.Context, k store.APIKey) error {
	err := t.insertChecked(ctx, `INSERT INTO api_keys (`+apiKeyCols+`)
		SELECT $1::text, $2::text, $3::text, $4::text, $5::timestamptz, $6::timestamptz, $7::timestamptz
		WHERE EXISTS (SELECT 1 FROM users WHERE id = $2)
		ON CONFLICT DO NOTHING`, `SELECT 1 FROM users WHERE id = $1`, k.UserID,
		k.ID, k.UserID, k.Name, k.Hash, tm(k.CreatedAt), tm(k.RevokedAt), tm(k.LastUsedAt))
	if err != nil {
		return fmt.Errorf("postgres: create api key %s: %w", k.ID, err)
	}
	return nil
}

// RevokeAPIKey marks a key revoked at at.
func (t *txn) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	return t.execOne(ctx, "revoke api key "+id, `UPDATE api_keys SET revoked_at = $1 WHERE id = $2`, tm(at), id)
}

// TouchAPIKey sets LastUsedAt.
func (t *txn) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	return t.execOne(ctx, "touch api key "+id, `UPDATE api_keys SET last_used_at = $1 WHERE id = $2`, tm(at), id)
}

// CreateToken inserts a token; ErrNotFound if its key does not exist.
func (t *txn) CreateToken(ctx context.Context, tk store.Token) error {
	err := t.insertChecked(ctx, `INSERT INTO tokens (id, key_id, user_id, created_at, expires_at)
		SELECT $1::text, $2::text, $3::text, $4::timestamptz, $5::timestamptz
		WHERE EXISTS (SELECT 1 FROM api_keys WHERE id = $2)
		ON CONFLICT DO NOTHING`, `SELECT 1 FROM api_keys WHERE id = $1`, tk.KeyID,
		tk.ID, tk.KeyID, tk.UserID, tm(tk.CreatedAt), tm(tk.ExpiresAt))
	if err != nil {
		return fmt.Errorf("postgres: create token for key %s: %w", tk.KeyID, err)
	}
	return nil
}

// DeleteKeyTokens removes every token of a key (none is not an error).
func (t *txn) DeleteKeyTokens(ctx context.Context, keyID string) error {
	_, err := t.execN(ctx, "delete tokens of key "+keyID, `DELETE FROM tokens WHERE key_id = $1`, keyID)
	return err
}
