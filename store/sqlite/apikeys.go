package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/internal/codec"
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
	k, err := scanAPIKey(o.q.queryRow(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE id = ?`, id))
	if err != nil {
		return store.APIKey{}, fmt.Errorf("sqlite: get api key %s: %w", id, classify(ctx, err))
	}
	return k, nil
}

// GetAPIKeyByHash returns the key whose secret hashes to hash.
func (o ops) GetAPIKeyByHash(ctx context.Context, hash string) (store.APIKey, error) {
	k, err := scanAPIKey(o.q.queryRow(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE hash = ?`, hash))
	if err != nil {
		return store.APIKey{}, fmt.Errorf("sqlite: get api key by hash: %w", classify(ctx, err))
	}
	return k, nil
}

// ListAPIKeys returns a user's keys (every key when userID is empty),
// oldest first.
func (o ops) ListAPIKeys(ctx context.Context, userID string) ([]store.APIKey, error) {
	q := `SELECT ` + apiKeyCols + ` FROM api_keys`
	var args []any
	if userID != "" {
		q += ` WHERE user_id = ?`
		args = append(args, userID)
	}
	rows, err := o.q.query(ctx, q+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list api keys: %w", classify(ctx, err))
	}
	defer rows.Close()
	var out []store.APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list api keys: %w", classify(ctx, err))
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list api keys: %w", classify(ctx, err))
	}
	return out, nil
}

// GetToken returns one token, expired or not.
func (o ops) GetToken(ctx context.Context, id string) (store.Token, error) {
	var tk store.Token
	err := o.q.queryRow(ctx, `SELECT id, key_id, user_id, created_at, expires_at FROM tokens WHERE id = ?`, id).
		Scan(&tk.ID, &tk.KeyID, &tk.UserID, nullTime{&tk.CreatedAt}, nullTime{&tk.ExpiresAt})
	if err != nil {
		return store.Token{}, fmt.Errorf("sqlite: get token: %w", classify(ctx, err))
	}
	return tk, nil
}

// CreateAPIKey inserts k; ErrConflict if its ID or hash exists,
// ErrNotFound if its user does not.
func (t *txn) CreateAPIKey(ctx context.Context, k store.APIKey) error {
	_, err := t.q.exec(ctx, `INSERT INTO api_keys (`+apiKeyCols+`) VALUES (?,?,?,?,?,?,?)`,
		k.ID, k.UserID, k.Name, k.Hash, tm(codec.Time(k.CreatedAt)), tm(codec.Time(k.RevokedAt)),
		tm(codec.Time(k.LastUsedAt)))
	if err != nil {
		return fmt.Errorf("sqlite: create api key %s: %w", k.ID, classify(ctx, err))
	}
	return nil
}

// RevokeAPIKey marks a key revoked at at.
func (t *txn) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	return t.execOne(ctx, "revoke api key "+id, `UPDATE api_keys SET revoked_at = ? WHERE id = ?`,
		tm(codec.Time(at)), id)
}

// TouchAPIKey sets LastUsedAt.
func (t *txn) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	return t.execOne(ctx, "touch api key "+id, `UPDATE api_keys SET last_used_at = ? WHERE id = ?`,
		tm(codec.Time(at)), id)
}

// CreateToken inserts a token; ErrNotFound if its key does not exist.
func (t *txn) CreateToken(ctx context.Context, tk store.Token) error {
	_, err := t.q.exec(ctx, `INSERT INTO tokens (id, key_id, user_id, created_at, expires_at)
		VALUES (?,?,?,?,?)`, tk.ID, tk.KeyID, tk.UserID, tm(codec.Time(tk.CreatedAt)), tm(codec.Time(tk.ExpiresAt)))
	if err != nil {
		return fmt.Errorf("sqlite: create token for key %s: %w", tk.KeyID, classify(ctx, err))
	}
	return nil
}

// DeleteKeyTokens removes every token of a key (none is not an error).
func (t *txn) DeleteKeyTokens(ctx context.Context, keyID string) error {
	_, err := t.execN(ctx, "delete tokens of key "+keyID, `DELETE FROM tokens WHERE key_id = ?`, keyID)
	return err
}
