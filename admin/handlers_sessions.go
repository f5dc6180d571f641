package admin

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/dirbridge/dirbridge/store"
)

// Session is a sign-in session as an administrator sees it. ID is the
// store's key (the SHA-256 of the cookie), not the cookie itself, so
// listing sessions hands out nothing a browser could replay.
type Session struct {
	ID         string    `json:"id"`
	UserID     string    `json:"user_id"`
	Username   string    `json:"username,omitempty"`
	Method     string    `json:"method"`
	SourceIP   string    `json:"source_ip,omitempty"`
	UserAgent  string    `json:"user_agent,omitempty"`
	Bypass     bool      `json:"bypass,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// SessionList is the live sessions, with the licences they hold (one per
// signed-in active user, as licenses.concurrent counts them).
type SessionList struct {
	Items         []Session `json:"items"`
	LicencesInUse int       `json:"licences_in_use"`
}

// SessionsEnded reports how many sessions a call ended.
type SessionsEnded struct {
	Ended int `json:"ended"`
}

// outOfScope marks, in handleListSessions' name cache, a user the caller
// does not reach.
const outOfScope = "\x00out-of-scope"

func (s *Server) handleListSessions(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx := r.Context()
	actor, err := s.actorPrincipal(ctx, s.store, c)
	if err != nil {
		return err
	}
	reach := actor.reachFor(ActEndSessions.requires())
	userID := ""
	if ref := r.URL.Query().Get("user"); ref != "" {
		u, err := s.findUser(r, s.store, ref)
		if err != nil {
			return err
		}
		if !reach.Covers(u.Units) {
			return notFound("user", ref)
		}
		userID = u.ID
	}
	now := s.now()
	sessions, err := s.store.ListSessions(ctx, userID)
	if err != nil {
		return fmt.Errorf("list sessions: %w", err)
	}
	inUse, err := s.store.CountActiveUsersWithSessions(ctx, now)
	if err != nil {
		return fmt.Errorf("count licences in use: %w", err)
	}
	out := SessionList{Items: []Session{}, LicencesInUse: inUse}
	names := map[string]string{}
	for _, se := range sessions {
		if !se.ExpiresAt.After(now) {
			continue // past its absolute timeout; the sweeper removes it
		}
		name, ok := names[se.UserID]
		if !ok {
			if u, err := s.store.GetUser(ctx, se.UserID); err == nil {
				name = u.Username
				if !reach.Covers(u.Units) {
					name = outOfScope
				}
			} else if !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("list sessions: user %s: %w", se.UserID, err)
			}
			names[se.UserID] = name
		}
		if name == outOfScope {
			continue
		}
		out.Items = append(out.Items, Session{ID: se.ID, UserID: se.UserID, Username: name, Method: se.Method,
			SourceIP: se.SourceIP, UserAgent: se.UserAgent, Bypass: se.Bypass, CreatedAt: se.CreatedAt.UTC(),
			LastSeenAt: se.LastSeenAt.UTC(), ExpiresAt: se.ExpiresAt.UTC()})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleMySessions lists the caller's own live sessions; anyone signed in
// may see where they are signed in.
func (s *Server) handleMySessions(w http.ResponseWriter, r *http.Request, c *caller) error {
	sessions, err := s.store.ListSessions(r.Context(), c.User.ID)
	if err != nil {
		return fmt.Errorf("list own sessions: %w", err)
	}
	now := s.now()
	out := SessionList{Items: []Session{}}
	for _, se := range sessions {
		if !se.ExpiresAt.After(now) {
			continue
		}
		out.Items = append(out.Items, Session{ID: se.ID, UserID: se.UserID, Username: c.User.Username, Method: se.Method,
			SourceIP: se.SourceIP, UserAgent: se.UserAgent, Bypass: se.Bypass, CreatedAt: se.CreatedAt.UTC(),
			LastSeenAt: se.LastSeenAt.UTC(), ExpiresAt: se.ExpiresAt.UTC()})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleEndSession ends one session. Replicas that cached it for forward
// auth stop honouring it within their short verify cache.
func (s *Server) handleEndSession(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx := r.Context()
	id := r.PathValue("id")
	c.target = "session:" + id
	err := s.tx(ctx, c, "session.end", func(tx store.Tx) error {
		se, err := tx.GetSession(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("session", id)
		}
		if err != nil {
			return fmt.Errorf("get session: %w", err)
		}
		u, err := tx.GetUser(ctx, se.UserID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			// The user is gone; its orphaned session may still be ended.
		case err != nil:
			return fmt.Errorf("get session user: %w", err)
		default:
			if err := s.authorizeOn(ctx, tx, c, u, ActEndSessions); err != nil {
				return err
			}
			c.detail("user", u.Username)
		}
		c.detail("method", se.Method)
		if err := tx.DeleteSession(ctx, id); err != nil {
			return storeErr(err, "session", id)
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, SessionsEnded{Ended: 1})
	return nil
}

// handleEndMySession ends one of the caller's own sessions, wherever it
// is (a browser left signed in elsewhere). Anyone signed in may; another
// user's session is not found, as if it did not exist, so the call tells
// nobody which session ids are live.
func (s *Server) handleEndMySession(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx := r.Context()
	id := r.PathValue("id")
	c.target = "session:" + id
	err := s.tx(ctx, c, "session.end_own", func(tx store.Tx) error {
		se, err := tx.GetSession(ctx, id)
		if errors.Is(err, store.ErrNotFound) || (err == nil && se.UserID != c.User.ID) {
			return notFound("session", id)
		}
		if err != nil {
			return fmt.Errorf("get session: %w", err)
		}
		c.detail("method", se.Method)
		if err := tx.DeleteSession(ctx, id); err != nil {
			return storeErr(err, "session", id)
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, SessionsEnded{Ended: 1})
	return nil
}

// handleEndUserSessions signs a user out everywhere.
func (s *Server) handleEndUserSessions(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx := r.Context()
	ref := r.PathValue("id")
	c.target = "user:" + ref
	var n int
	err := s.tx(ctx, c, "session.end_all", func(tx store.Tx) error {
		u, err := s.findUser(r, tx, ref)
		if err != nil {
			return err
		}
		c.target = "user:" + u.Username
		if err := s.authorizeOn(ctx, tx, c, u, ActEndSessions); err != nil {
			return err
		}
		if n, err = tx.DeleteUserSessions(ctx, u.ID); err != nil {
			return fmt.Errorf("end sessions of %s: %w", u.Username, err)
		}
		c.detail("ended", n)
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, SessionsEnded{Ended: n})
	return nil
}
