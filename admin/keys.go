package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/dirbridge/dirbridge/store"
)

// Prefixes make a leaked secret recognisable (secret scanners, logs) and
// let the API tell a key from a token when someone pastes the wrong one.
const (
	KeyPrefix   = "dbk_"
	TokenPrefix = "dbt_"
)

// TokenTTL is how long a bearer token lives, used or not, unless
// Options.TokenTTL says otherwise.
const TokenTTL = 2 * time.Hour

// newSecret returns prefix + 256 random bits, base64url. With that much
// entropy a plain SHA-256 is the right hash: no password-style stretching
// is needed because the secret cannot be guessed.
func newSecret(prefix string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// HashSecret is the stored form of an API key or token: hex SHA-256.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func newID() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// NewAPIKey creates an API key for userID inside tx and returns the secret,
// which is never stored and cannot be shown again. It is shared by the API
// and the CLI's bootstrap path (`apikeys create --config`).
func NewAPIKey(ctx context.Context, tx store.Tx, userID, name string, now time.Time) (string, store.APIKey, error) {
	secret, err := newSecret(KeyPrefix)
	if err != nil {
		return "", store.APIKey{}, fmt.Errorf("new api key: %w", err)
	}
	id, err := newID()
	if err != nil {
		return "", store.APIKey{}, fmt.Errorf("new api key: %w", err)
	}
	k := store.APIKey{ID: id, UserID: userID, Name: name, Hash: HashSecret(secret), CreatedAt: now.UTC()}
	if err := tx.CreateAPIKey(ctx, k); err != nil {
		return "", store.APIKey{}, fmt.Errorf("new api key for user %s: %w", userID, err)
	}
	return secret, k, nil
}

// RevokeAPIKey revokes a key and deletes its tokens in tx, so every token
// issued for it stops working at once.
func RevokeAPIKey(ctx context.Context, tx store.Tx, keyID string, now time.Time) error {
	if err := tx.RevokeAPIKey(ctx, keyID, now.UTC()); err != nil {
		return fmt.Errorf("revoke api key %s: %w", keyID, err)
	}
	if err := tx.DeleteKeyTokens(ctx, keyID); err != nil {
		return fmt.Errorf("revoke api key %s: delete tokens: %w", keyID, err)
	}
	return nil
}

// looksLike reports whether s carries prefix; used for friendlier errors.
func looksLike(s, prefix string) bool { return strings.HasPrefix(s, prefix) }
