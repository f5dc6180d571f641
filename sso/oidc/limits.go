package oidc

import (
	"errors"
	"fmt"
	"io"
	"net/http"
)

// Limits on what a provider may send. A real ID token with a few hundred
// groups is tens of kilobytes; discovery documents and key sets are
// smaller. Anything far larger is a broken or hostile provider, and is
// refused before it is parsed rather than after it fills memory.
const (
	// DefaultMaxResponseBytes caps every response from the provider
	// (discovery, keys, token, userinfo).
	DefaultMaxResponseBytes = 256 << 10
	// maxGraphResponseBytes caps a Graph group listing: a user in
	// thousands of groups is legitimate there.
	maxGraphResponseBytes = 4 << 20
	// maxClaimsDepth caps how deeply claims nest. Standard claims are at
	// most two levels deep (address), Entra's _claim_sources three.
	maxClaimsDepth = 8
)

// errResponseTooLarge is returned by the body of a response that exceeds
// its limit.
var errResponseTooLarge = errors.New("response too large")

// limitedClient returns a copy of c whose responses fail once their body
// passes max bytes.
func limitedClient(c *http.Client, max int64) *http.Client {
	out := *c
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	out.Transport = limitTransport{next: next, max: max}
	return &out
}

type limitTransport struct {
	next http.RoundTripper
	max  int64
}

func (t limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > t.max {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("%s %s: %w (%d bytes, limit %d)", req.Method, req.URL.Redacted(), errResponseTooLarge, resp.ContentLength, t.max)
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.max, max: t.max}
	return resp, nil
}

// limitedBody reads at most max bytes and fails, rather than truncating,
// when there is more: a truncated JSON document could still parse.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
	max  int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One more byte tells a body of exactly max bytes from a longer one.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("%w (limit %d bytes)", errResponseTooLarge, b.max)
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// claimsDepth returns how deeply v nests, stopping once it passes limit.
func claimsDepth(v any, limit int) int {
	if limit < 0 {
		return 0
	}
	deepest := 0
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			deepest = max(deepest, claimsDepth(e, limit-1))
			if deepest >= limit {
				break
			}
		}
	case []any:
		for _, e := range x {
			deepest = max(deepest, claimsDepth(e, limit-1))
			if deepest >= limit {
				break
			}
		}
	default:
		return 0
	}
	return deepest + 1
}
