package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dirbridge/dirbridge/admin"
)

// The CLI exchanges an API key for a bearer token (POST /api/v1/tokens,
// audited as token.create). Scripts call it many times a minute; the token
// is therefore kept for its lifetime in the user's cache directory, one
// file per server and key (named by a hash of both, so the key is not
// written down), readable by the user only. DIRBRIDGE_TOKEN_CACHE=off
// turns the cache off.

type cachedToken struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// tokenCachePath is the cache file for server and key; "" when there is
// no cache directory or the cache is off.
func tokenCachePath(server, key string) string {
	if os.Getenv("DIRBRIDGE_TOKEN_CACHE") == "off" {
		return ""
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	sum := sha256.Sum256([]byte(server + "\x00" + key))
	return filepath.Join(dir, "dirbridge", "tokens", hex.EncodeToString(sum[:16]))
}

// loadToken returns a cached token valid for at least another minute.
func loadToken(path string, now time.Time) string {
	if path == "" {
		return ""
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var ct cachedToken
	if json.Unmarshal(raw, &ct) != nil || ct.Token == "" || now.Add(time.Minute).After(ct.ExpiresAt) {
		return ""
	}
	return ct.Token
}

// saveToken writes the token, owner-only; a failure only costs the next
// call an exchange.
func saveToken(path string, tr admin.TokenResponse) {
	if path == "" {
		return
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return
	}
	raw, _ := json.Marshal(cachedToken{Token: tr.Token, ExpiresAt: tr.ExpiresAt})
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return
	}
	_ = os.Rename(tmp, path)
}

// exchangeKey trades the API key for a token, from the cache when it can.
func (c *client) exchangeKey(ctx context.Context, key string, fresh bool) error {
	path := tokenCachePath(c.server, key)
	if !fresh {
		if t := loadToken(path, time.Now()); t != "" {
			c.token, c.cached = t, true
			return nil
		}
	} else if path != "" {
		_ = os.Remove(path)
	}
	var tr admin.TokenResponse
	c.token = ""
	if err := c.do(ctx, "POST", "/api/v1/tokens", admin.TokenRequest{APIKey: key}, &tr); err != nil {
		return fmt.Errorf("exchange API key: %w", err)
	}
	c.token, c.cached = tr.Token, false
	saveToken(path, tr)
	return nil
}

// errUnauthorized marks a 401 answer, after which a cached token is
// dropped and the key exchanged again.
var errUnauthorized = errors.New("unauthorized")
