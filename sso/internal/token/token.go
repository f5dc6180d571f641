// Package token holds the random tokens and the browser binding that the
// redirect sign-in methods (sso/saml, sso/oidc) share: a sign-in started in
// one browser may only finish in the same browser. The browser keeps a
// random binding token in a cookie; the server-side record of the pending
// sign-in keeps only its hash, so a leaked record cannot be replayed as a
// cookie.
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
)

// size is the bytes of randomness in a token: 32 bytes, 43 characters of
// unpadded base64url.
const size = 32

// encodedLen is the length of a token made by New.
var encodedLen = base64.RawURLEncoding.EncodedLen(size)

// New returns a fresh random token (256 bits, unpadded base64url), for
// states, nonces and browser bindings.
func New() (string, error) {
	b := make([]byte, size)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("token: read random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Hash is the form a token is stored in: SHA-256, unpadded base64url.
func Hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// Binding returns the browser's binding token from the cookie named name
// when it holds one of the right shape, so sign-ins started in two tabs
// both complete, and a new token otherwise. The caller sets the cookie.
func Binding(r *http.Request, name string) (string, error) {
	if ck, err := r.Cookie(name); err == nil && valid(ck.Value) {
		return ck.Value, nil
	}
	return New()
}

// valid reports whether s has the shape of a token made by New.
func valid(s string) bool {
	if len(s) != encodedLen {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// Bound reports whether the request carries the cookie named name and its
// value hashes to storedHash (compared in constant time): the browser
// finishing a sign-in is the one that started it.
func Bound(r *http.Request, name, storedHash string) bool {
	ck, err := r.Cookie(name)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(Hash(ck.Value)), []byte(storedHash)) == 1
}

// CookieSafe keeps only the characters of s that a cookie name may hold
// (ASCII letters, digits, '_' and '-'), for names built from configured
// identifiers.
func CookieSafe(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			b.WriteRune(c)
		}
	}
	return b.String()
}
