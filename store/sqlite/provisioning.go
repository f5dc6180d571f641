package sqlite

import (
	"context"
	"fmt"

	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/internal/codec"
)

// GetProvisioningToken returns the hashed token of a provisioning source.
func (o ops) GetProvisioningToken(ctx context.Context, source string) (store.ProvisioningToken, error) {
	var t store.ProvisioningToken
	err := o.q.queryRow(ctx, `SELECT source, hash, created_at FROM provisioning_tokens WHERE source = ?`,
		source).Scan(&t.Source, &t.Hash, nullTime{&t.CreatedAt})
	if err != nil {
		return store.ProvisioningToken{}, fmt.Errorf("sqlite: get provisioning token of %q: %w", source, classify(ctx, err))
	}
	return t, nil
}

// PutProvisioningToken creates or replaces the token of t.Source.
func (t *txn) PutProvisioningToken(ctx context.Context, tok store.ProvisioningToken) error {
	if tok.Source == "" || tok.Hash == "" {
		return fmt.Errorf("sqlite: put provisioning token: source and hash are required")
	}
	if tok.CreatedAt.IsZero() {
		tok.CreatedAt = codec.Now()
	}
	_, err := t.q.exec(ctx, `INSERT INTO provisioning_tokens (source, hash, created_at) VALUES (?,?,?)
		ON CONFLICT (source) DO UPDATE SET hash = excluded.hash, created_at = excluded.created_at`,
		tok.Source, tok.Hash, tm(codec.Time(tok.CreatedAt)))
	if err != nil {
		return fmt.Errorf("sqlite: put provisioning token of %q: %w", tok.Source, classify(ctx, err))
	}
	return nil
}
