package postgres

import (
	"context"
	"fmt"

	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/internal/codec"
)

// GetProvisioningToken returns the hashed token of a provisioning source.
func (o ops) GetProvisioningToken(ctx context.Context, source string) (store.ProvisioningToken, error) {
	if unstorable(source) {
		return store.ProvisioningToken{}, fmt.Errorf("postgres: get provisioning token of %q: %w", source, store.ErrNotFound)
	}
	var t store.ProvisioningToken
	err := o.q.QueryRow(ctx, `SELECT source, hash, created_at FROM provisioning_tokens WHERE source = $1`,
		source).Scan(&t.Source, &t.Hash, nullTime{&t.CreatedAt})
	if err != nil {
		return store.ProvisioningToken{}, fmt.Errorf("postgres: get provisioning token of %q: %w", source, classify(ctx, err))
	}
	return t, nil
}

// PutProvisioningToken creates or replaces the token of t.Source.
func (t *txn) PutProvisioningToken(ctx context.Context, tok store.ProvisioningToken) error {
	if tok.Source == "" || tok.Hash == "" || unstorable(tok.Source, tok.Hash) {
		return fmt.Errorf("postgres: put provisioning token: source and hash are required, as valid text")
	}
	if tok.CreatedAt.IsZero() {
		tok.CreatedAt = codec.Now()
	}
	_, err := t.q.Exec(ctx, `INSERT INTO provisioning_tokens (source, hash, created_at) VALUES ($1,$2,$3)
		ON CONFLICT (source) DO UPDATE SET hash = excluded.hash, created_at = excluded.created_at`,
		tok.Source, tok.Hash, tm(tok.CreatedAt))
	if err != nil {
		return fmt.Errorf("postgres: put provisioning token of %q: %w", tok.Source, classify(ctx, err))
	}
	return nil
}
