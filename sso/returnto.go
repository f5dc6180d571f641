package sso

import (
	"net/url"
	"strings"
)

// SafeReturnTo returns raw when it is safe to redirect a signed-in user to,
// and "/" otherwise: no open redirect. Safe are relative paths on this host
// ("/app?x=1", not "//evil.example" nor "/\evil.example", which browsers
// read as another host) and absolute http(s) URLs whose host (with its
// port, or without a port when the entry has none) is in allowedHosts,
// compared case-insensitively. SAML RelayState and OIDC return URLs go
// through it too.
func SafeReturnTo(raw string, allowedHosts []string) string {
	if raw == "" || len(raw) > 2048 {
		return "/"
	}
	for _, c := range raw {
		// Control characters and backslashes are where parsers disagree
		// with browsers; a legitimate return URL has none.
		if c < 0x20 || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "/"
	}
	if u.Scheme == "" && u.Host == "" && u.User == nil {
		if !strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "//") {
			return "/"
		}
		return raw
	}
	if u.Scheme != "https" && u.Scheme != "http" || u.User != nil || u.Host == "" {
		return "/"
	}
	host := strings.ToLower(u.Host)
	hostname := strings.ToLower(u.Hostname())
	for _, a := range allowedHosts {
		a = strings.ToLower(strings.TrimSpace(a))
		if a == "" {
			continue
		}
		if a == host || (!strings.Contains(a, ":") && a == hostname) {
			return u.String()
		}
	}
	return "/"
}
