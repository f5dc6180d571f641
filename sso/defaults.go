package sso

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"

	"github.com/dirbridge/dirbridge/internal/clientip"
	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/store"
)

// Built-in privileges sign-in checks itself.
const (
	PrivBypassSSO    = privilege.BypassSSO
	PrivPrivilegedIP = privilege.PrivilegedIPAccess
)

// privileges is what u holds (privilege.Effective over the stored
// profile), sorted. A missing profile means none, not an error: the user
// signs in and holds nothing, as the data model says.
func (s *core) privileges(ctx context.Context, u store.User) ([]string, error) {
	var prof *store.Profile
	if u.Profile != "" && !u.Superuser && u.CustomPrivileges == nil {
		p, err := s.store.GetProfile(ctx, u.Profile)
		switch {
		case err == nil:
			prof = &p
		case !errors.Is(err, store.ErrNotFound):
			return nil, fmt.Errorf("privileges of %s: profile %q: %w", u.Username, u.Profile, err)
		}
	}
	if s.opts.Catalogue != nil {
		return s.opts.Catalogue.Effective(u, prof), nil
	}
	return privilege.Effective(u, prof), nil
}

// clientIP is clientip.FromRequest: the peer, or the right-most untrusted
// X-Forwarded-For hop when the peer is a trusted proxy.
func clientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	return clientip.FromRequest(r, trusted)
}
