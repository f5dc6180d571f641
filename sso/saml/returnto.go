package saml

import (
	"net/url"
	"strings"
)

// safeReturn returns raw when it is a local path or an absolute http(s)
// URL on an allowed host, and "/" otherwise: a return URL or RelayState
// must never make dirbridge an open redirector.
func safeReturn(raw string, allowedHosts []string) string {
	if raw == "" || len(raw) > 2048 {
		return "/"
	}
	// Browsers treat a backslash like a slash ("/\evil.example" is
	// "//evil.example"), and control characters are stripped before
	// parsing; refuse both rather than guess.
	for _, c := range raw {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "/"
	}
	if u.Scheme == "" && u.Host == "" && u.User == nil {
		if strings.HasPrefix(raw, "/") && !strings.HasPrefix(raw, "//") {
			return raw
		}
		return "/"
	}
	if u.Scheme != "https" && u.Scheme != "http" || u.User != nil || u.Host == "" {
		return "/"
	}
	host := strings.ToLower(u.Host)
	for _, h := range allowedHosts {
		if h != "" && strings.EqualFold(h, host) {
			return raw
		}
	}
	return "/"
}
