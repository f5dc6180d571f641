package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// SecureFetchURL checks a URL that key material is fetched from (SAML IdP
// metadata, OIDC discovery): it must be https, or http on a loopback host
// (tests, a local sidecar). Over plain HTTP anyone on the path could
// substitute the IdP's signing keys.
func SecureFetchURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && (u.Scheme != "http" || !IsLoopbackHost(u.Hostname()))) {
		return fmt.Errorf("must be an https URL, got %q", raw)
	}
	return nil
}

// IsLoopbackHost reports whether host is "localhost" or a loopback address.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// ParseSHA256Fingerprint reads a certificate's SHA-256 fingerprint as 64
// hex digits, upper or lower case, with or without colons between bytes
// (as openssl x509 -fingerprint -sha256 prints it).
func ParseSHA256Fingerprint(s string) ([sha256.Size]byte, error) {
	var fp [sha256.Size]byte
	h := strings.ReplaceAll(strings.TrimSpace(s), ":", "")
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != sha256.Size {
		return fp, errors.New("must be a SHA-256 fingerprint: 64 hex digits, colons allowed")
	}
	copy(fp[:], b)
	return fp, nil
}
