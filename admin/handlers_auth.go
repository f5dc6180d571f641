package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/store"
)

func (s *Server) handleCreateToken(w http.ResponseWriter, r *http.Request, c *caller) error {
	var in TokenRequest
	if err := decodeJSON(w, r, s.maxBody, &in); err != nil {
		return err
	}
	if in.APIKey == "" {
		return fieldErr("api_key", "api_key is required")
	}
	if looksLike(in.APIKey, TokenPrefix) {
		return fieldErr("api_key", "that is a bearer token, not an API key")
	}
	ctx := r.Context()
	now := s.now()
	k, err := s.store.GetAPIKeyByHash(ctx, HashSecret(in.APIKey))
	if errors.Is(err, store.ErrNotFound) {
		return errf(http.StatusUnauthorized, CodeUnauthorized, "unknown or revoked API key")
	}
	if err != nil {
		return fmt.Errorf("look up api key: %w", err)
	}
	c.target = "apikey:" + k.ID
	u, err := s.store.GetUser(ctx, k.UserID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errf(http.StatusUnauthorized, CodeUnauthorized, "unknown or revoked API key")
		}
		return fmt.Errorf("look up api key user: %w", err)
	}
	c.User = u
	if !k.RevokedAt.IsZero() {
		return errf(http.StatusUnauthorized, CodeUnauthorized, "unknown or revoked API key")
	}
	if reason := unusable(u, now); reason != "" {
		return errf(http.StatusUnauthorized, CodeUnauthorized, "user %s %s", u.Username, reason)
	}
	secret, err := newSecret(TokenPrefix)
	if err != nil {
		return fmt.Errorf("new token: %w", err)
	}
	t := store.Token{ID: HashSecret(secret), KeyID: k.ID, UserID: u.ID, CreatedAt: now.UTC(), ExpiresAt: now.Add(s.ttl).UTC()}
	err = s.tx(ctx, c, "token.create", func(tx store.Tx) error {
		if err := tx.CreateToken(ctx, t); err != nil {
			return fmt.Errorf("create token: %w", err)
		}
		return tx.TouchAPIKey(ctx, k.ID, now.UTC())
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, TokenResponse{Token: secret, TokenType: "Bearer", ExpiresAt: t.ExpiresAt})
	return nil
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request, c *caller) error {
	writeJSON(w, http.StatusOK, Me{User: toUser(c.User), Privileges: nonNil(c.Privs), APIKeyID: c.KeyID})
	return nil
}

// keyOwner resolves {id} of the API key routes and checks (Authorize) that
// the caller may do act to that user's keys: its own always; another's
// only if it could grant everything that user holds, since a key acts with
// its user's privileges.
func (s *Server) keyOwner(r *http.Request, c *caller, act Action) (store.User, error) {
	ref := r.PathValue("id")
	if ref == "me" || ref == c.User.ID || strings.EqualFold(ref, c.User.Username) {
		return c.User, nil
	}
	u, err := s.findUser(r, s.store, ref)
	if err != nil {
		return store.User{}, err
	}
	c.target = "user:" + u.Username
	if err := s.authorizeOn(r.Context(), s.store, c, u, act); err != nil {
		return store.User{}, err
	}
	return u, nil
}

func (s *Server) handleListKeys(w http.ResponseWriter, r *http.Request, c *caller) error {
	u, err := s.keyOwner(r, c, ActListKeys)
	if err != nil {
		return err
	}
	keys, err := s.store.ListAPIKeys(r.Context(), u.ID)
	if err != nil {
		return fmt.Errorf("list api keys of %s: %w", u.Username, err)
	}
	out := APIKeyList{Items: make([]APIKey, 0, len(keys))}
	for _, k := range keys {
		out.Items = append(out.Items, toAPIKey(k))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleCreateKey(w http.ResponseWriter, r *http.Request, c *caller) error {
	c.target = "user:" + r.PathValue("id")
	var in APIKeyInput
	if err := decodeJSON(w, r, s.maxBody, &in); err != nil {
		return err
	}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || len(in.Name) > 100 {
		return fieldErr("name", "name is required (1-100 characters)")
	}
	u, err := s.keyOwner(r, c, ActCreateKey)
	if err != nil {
		return err
	}
	c.target = "user:" + u.Username
	ctx := r.Context()
	var secret string
	var k store.APIKey
	c.detail("name", in.Name)
	err = s.tx(ctx, c, "apikey.create", func(tx store.Tx) error {
		var err error
		secret, k, err = NewAPIKey(ctx, tx, u.ID, in.Name, s.now())
		c.detail("key_id", k.ID)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, APIKeyCreated{APIKey: toAPIKey(k), Secret: secret})
	return nil
}

// handleRevokeKeyByID revokes a key named by its ID alone: the owner is
// looked up and the request goes on as a revocation of the owner's key,
// with the same authorization.
func (s *Server) handleRevokeKeyByID(w http.ResponseWriter, r *http.Request, c *caller) error {
	keyID := r.PathValue("key")
	c.target = "apikey:" + keyID
	k, err := s.store.GetAPIKey(r.Context(), keyID)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("API key", keyID)
	}
	if err != nil {
		return fmt.Errorf("get api key: %w", err)
	}
	r.SetPathValue("id", k.UserID)
	return s.handleRevokeKey(w, r, c)
}

func (s *Server) handleRevokeKey(w http.ResponseWriter, r *http.Request, c *caller) error {
	keyID := r.PathValue("key")
	c.target = "apikey:" + keyID
	u, err := s.keyOwner(r, c, ActRevokeKey)
	c.target = "apikey:" + keyID
	if err != nil {
		return err
	}
	ctx := r.Context()
	k, err := s.store.GetAPIKey(ctx, keyID)
	if err != nil || k.UserID != u.ID {
		if err == nil || errors.Is(err, store.ErrNotFound) {
			return notFound("API key", keyID)
		}
		return fmt.Errorf("get api key: %w", err)
	}
	c.detail("user", u.Username)
	if k.RevokedAt.IsZero() {
		err = s.tx(ctx, c, "apikey.revoke", func(tx store.Tx) error {
			return RevokeAPIKey(ctx, tx, k.ID, s.now())
		})
		if err != nil {
			return storeErr(err, "API key", keyID)
		}
		k.RevokedAt = s.now()
	} else {
		c.detail("already_revoked", true)
		if err := s.tx(ctx, c, "apikey.revoke", func(store.Tx) error { return nil }); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, toAPIKey(k))
	return nil
}

func nonNil(s privilege.Set) []string {
	if s == nil {
		return []string{}
	}
	return s
}
