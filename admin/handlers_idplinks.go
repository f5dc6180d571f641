package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/dirbridge/dirbridge/store"
)

// IdPLink binds a user to an identity provider's stable subject: sign-ins
// carrying that subject are this user, whatever their other claims say.
type IdPLink struct {
	Issuer    string    `json:"issuer"`
	Subject   string    `json:"subject"`
	CreatedAt time.Time `json:"created_at"`
}

// IdPLinkList is a user's IdP links, ordered by issuer.
type IdPLinkList struct {
	Items []IdPLink `json:"items"`
}

// IdPLinkInput links a user to an IdP subject ahead of their first
// sign-in: the way to let a protected account (superuser, bypass_sso,
// grant_all), which claims never match, sign in through the IdP.
type IdPLinkInput struct {
	Issuer  string `json:"issuer"`
	Subject string `json:"subject"`
}

// maxLinkField bounds issuer and subject; real ones are under 200 bytes.
const maxLinkField = 512

func toIdPLink(l store.IdPLink) IdPLink {
	return IdPLink{Issuer: l.Issuer, Subject: l.Subject, CreatedAt: l.CreatedAt.UTC()}
}

func (s *Server) handleListIdPLinks(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx := r.Context()
	u, err := s.findUser(r, s.store, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := s.authorizeOn(ctx, s.store, c, u, ActView); err != nil {
		return err
	}
	links, err := s.store.ListIdPLinks(ctx, u.ID)
	if err != nil {
		return fmt.Errorf("list IdP links of %s: %w", u.Username, err)
	}
	out := IdPLinkList{Items: make([]IdPLink, 0, len(links))}
	for _, l := range links {
		out.Items = append(out.Items, toIdPLink(l))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleCreateIdPLink(w http.ResponseWriter, r *http.Request, c *caller) error {
	var in IdPLinkInput
	if err := decodeJSON(w, r, s.maxBody, &in); err != nil {
		return err
	}
	in.Issuer, in.Subject = strings.TrimSpace(in.Issuer), strings.TrimSpace(in.Subject)
	for field, v := range map[string]string{"issuer": in.Issuer, "subject": in.Subject} {
		if v == "" {
			return fieldErr(field, "%s is required", field)
		}
		if len(v) > maxLinkField {
			return fieldErr(field, "%s is longer than %d bytes", field, maxLinkField)
		}
	}
	ctx := r.Context()
	ref := r.PathValue("id")
	c.target = "user:" + ref
	c.detail("issuer", in.Issuer)
	c.detail("subject", in.Subject)
	l := store.IdPLink{Issuer: in.Issuer, Subject: in.Subject, CreatedAt: s.now().UTC()}
	err := s.tx(ctx, c, "user.idp_link", func(tx store.Tx) error {
		u, err := s.findUser(r, tx, ref)
		if err != nil {
			return err
		}
		c.target = "user:" + u.Username
		if err := s.authorizeOn(ctx, tx, c, u, ActManageIdPLinks); err != nil {
			return err
		}
		l.UserID = u.ID
		if err := tx.CreateIdPLink(ctx, l); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return errf(http.StatusConflict, CodeConflict,
					"%s already has a link at %s, or that subject is linked to another user: remove the old link first", u.Username, in.Issuer)
			}
			return fmt.Errorf("link %s to %s: %w", u.Username, in.Issuer, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toIdPLink(l))
	return nil
}

func (s *Server) handleDeleteIdPLink(w http.ResponseWriter, r *http.Request, c *caller) error {
	issuer := strings.TrimSpace(r.URL.Query().Get("issuer"))
	if issuer == "" {
		return fieldErr("issuer", "the issuer query parameter is required")
	}
	ctx := r.Context()
	ref := r.PathValue("id")
	c.target = "user:" + ref
	c.detail("issuer", issuer)
	err := s.tx(ctx, c, "user.idp_unlink", func(tx store.Tx) error {
		u, err := s.findUser(r, tx, ref)
		if err != nil {
			return err
		}
		c.target = "user:" + u.Username
		if err := s.authorizeOn(ctx, tx, c, u, ActManageIdPLinks); err != nil {
			return err
		}
		if err := tx.DeleteIdPLink(ctx, u.ID, issuer); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return notFound("IdP link of "+u.Username+" at", issuer)
			}
			return fmt.Errorf("unlink %s from %s: %w", u.Username, issuer, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
