package scim

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/dirbridge/dirbridge/store"
)

// ErrTokenExists is returned by IssueToken when create finds a token
// (rotate replaces it instead).
var ErrTokenExists = errors.New("the source has a token already; rotate it instead")

// ErrNoToken is returned by IssueToken when rotate finds no token.
var ErrNoToken = errors.New("the source has no token yet; create one first")

// HashToken is the stored form of a token: hex SHA-256. A token carries
// 256 random bits, so a fast hash is enough (nothing to brute-force).
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// IssueToken makes a new random token for source, stores its hash and
// returns the token, which is shown once and never stored. With rotate it
// replaces the current token (the old one stops working at once);
// without, it refuses a source that already has one. Both are audited.
func IssueToken(ctx context.Context, st store.Store, source, actor string, rotate bool, now time.Time) (string, error) {
	return IssueTokenFrom(ctx, st, source, actor, "", rotate, now)
}

// IssueTokenFrom is IssueToken for a request from the address ip (the
// admin API's), which the audit event records.
func IssueTokenFrom(ctx context.Context, st store.Store, source, actor, ip string, rotate bool, now time.Time) (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("scim token for %s: random: %w", source, err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	action := "scim.token.create"
	if rotate {
		action = "scim.token.rotate"
	}
	err := st.Tx(ctx, func(tx store.Tx) error {
		_, err := tx.GetProvisioningToken(ctx, source)
		switch {
		case err == nil && !rotate:
			return ErrTokenExists
		case errors.Is(err, store.ErrNotFound) && rotate:
			return ErrNoToken
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return err
		}
		if err := tx.PutProvisioningToken(ctx, store.ProvisioningToken{Source: source, Hash: HashToken(token), CreatedAt: now.UTC()}); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &store.AuditEvent{Time: now.UTC(), Actor: actor, Action: action,
			Target: SourcePrefix + source, Outcome: store.OutcomeSuccess, SourceIP: ip})
	})
	if err != nil {
		return "", fmt.Errorf("scim token for %s: %w", source, err)
	}
	return token, nil
}
