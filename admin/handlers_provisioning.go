package admin

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/scim"
)

// ProvisioningToken is a SCIM source's new bearer token, shown once.
type ProvisioningToken struct {
	Source string `json:"source"`
	// Token goes into the IdP's provisioning settings; only its hash is
	// kept, so it cannot be shown again.
	Token string `json:"token"`
	// Rotated: an earlier token was replaced and stopped working at once
	// (false: the source had none).
	Rotated   bool      `json:"rotated"`
	CreatedAt time.Time `json:"created_at"`
}

// handleProvisioningToken issues a SCIM source's bearer token, replacing
// the one it has. The token lets an IdP create users and, through the
// mapping rules, give them any profile the rules name (the superuser flag
// too), so issuing it hands over that power: the caller must be a
// superuser, or hold manage_users over everyone (no team scope) and
// grant_all, what granting any profile to anyone takes.
func (s *Server) handleProvisioningToken(w http.ResponseWriter, r *http.Request, c *caller) error {
	name := r.PathValue("source")
	c.target = scim.SourcePrefix + name
	ctx := r.Context()
	if !c.User.Superuser {
		p, err := s.actorPrincipal(ctx, s.store, c)
		if err != nil {
			return err
		}
		if !c.Privs.Has(privilege.GrantAll) || !p.reachFor([]string{privilege.ManageUsers}).All {
			return errf(http.StatusForbidden, CodeForbidden,
				"issuing a provisioning token requires superuser, or manage_users over everyone and grant_all: the token lets the IdP create users with any profile the mapping rules give")
		}
	}
	if !slices.Contains(s.provisioning, name) {
		return notFound("provisioning source", name)
	}
	now := s.now()
	rotated := true
	tok, err := scim.IssueTokenFrom(ctx, s.store, name, c.actor(), c.IP, true, now)
	if errors.Is(err, scim.ErrNoToken) {
		rotated = false
		tok, err = scim.IssueTokenFrom(ctx, s.store, name, c.actor(), c.IP, false, now)
	}
	if err != nil {
		if errors.Is(err, scim.ErrTokenExists) {
			return errf(http.StatusConflict, CodeConflict, "a token for %s was created meanwhile; ask again to rotate it", name)
		}
		return fmt.Errorf("provisioning token for %s: %w", name, err)
	}
	c.audited = true // IssueTokenFrom wrote scim.token.create or scim.token.rotate with the token's hash
	writeJSON(w, http.StatusCreated, ProvisioningToken{Source: name, Token: tok, Rotated: rotated, CreatedAt: now.UTC()})
	return nil
}
