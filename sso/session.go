package sso

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/store"
)

// sessions is the session part of the Service: the cookie, reading and
// touching a session, forward auth (/auth/verify), /api/v1/me and logout.
type sessions struct {
	*core
}

func (se *sessions) routes(mux *http.ServeMux, cop *http.CrossOriginProtection) {
	mux.Handle("POST /logout", cop.Handler(http.HandlerFunc(se.handleLogout)))
	mux.HandleFunc("GET /auth/verify", se.handleVerify)
	mux.HandleFunc("GET /api/v1/me", se.handleMe)
}

// A session cookie holds 32 random bytes; the store keeps only their
// SHA-256, so a leaked database does not yield usable cookies.
const cookieBytes = 32

func newSessionToken() (value, id string, err error) {
	b := make([]byte, cookieBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("session token: %w", err)
	}
	value = base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(value))
	return value, hex.EncodeToString(sum[:]), nil
}

func (se *sessions) setSessionCookie(w http.ResponseWriter, value string) {
	// No Expires: the cookie ends with the browser; the server-side idle
	// and absolute timeouts decide the session's life either way.
	http.SetCookie(w, &http.Cookie{
		Name: se.cookie, Value: value, Path: "/",
		Secure: se.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

func (se *sessions) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: se.cookie, Value: "", Path: "/", MaxAge: -1,
		Secure: se.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

// sessionKey reads the session cookie and returns the SHA-256 of its
// value; ok is false when there is no well-formed cookie.
func (se *sessions) sessionKey(r *http.Request) (key [32]byte, ok bool) {
	c, err := r.Cookie(se.cookie)
	if err != nil || len(c.Value) != base64.RawURLEncoding.EncodedLen(cookieBytes) {
		return key, false
	}
	return sha256.Sum256([]byte(c.Value)), true
}

// sessionView is a session with what forward auth hands on, read once and
// cached for VerifyCacheTTL. Header values are built once so the hot path
// only copies slice headers.
type sessionView struct {
	sess    store.Session
	user    store.User
	privs   []string
	fetched time.Time
	// lastSeen is the LastSeenAt last written (unix nanoseconds); touching
	// guards against several requests writing it at once.
	lastSeen atomic.Int64
	touching atomic.Bool
	// ips holds the IP-rule decisions made for this view, per address.
	ips ipVerdicts

	hUser, hEmail, hProfile, hPrivs, hUnits []string
}

func newSessionView(sess store.Session, u store.User, privs []string, fetched time.Time) *sessionView {
	v := &sessionView{sess: sess, user: u, privs: privs, fetched: fetched}
	v.lastSeen.Store(sess.LastSeenAt.UnixNano())
	v.hUser = []string{u.Username}
	v.hEmail = []string{u.Email}
	v.hProfile = []string{u.Profile}
	v.hPrivs = []string{trimJoin(privs)}
	v.hUnits = []string{trimJoin(u.Units)}
	return v
}

func (v *sessionView) has(priv string) bool {
	_, found := slices.BinarySearch(v.privs, priv)
	return found
}

// sessionCache maps a session's hash to its view. It is bounded crudely —
// emptied when it grows past maxCached — because entries live seconds and
// a reload costs three indexed reads.
type sessionCache struct {
	m sync.Map // [32]byte -> *sessionView
	n atomic.Int64
}

const maxCached = 100_000

func newSessionCache() *sessionCache { return &sessionCache{} }

func (c *sessionCache) get(k [32]byte) *sessionView {
	v, ok := c.m.Load(k)
	if !ok {
		return nil
	}
	return v.(*sessionView)
}

func (c *sessionCache) put(k [32]byte, v *sessionView) {
	if c.n.Load() >= maxCached {
		c.m.Clear()
		c.n.Store(0)
	}
	if _, loaded := c.m.Swap(k, v); !loaded {
		c.n.Add(1)
	}
}

func (c *sessionCache) drop(k [32]byte) {
	if _, loaded := c.m.LoadAndDelete(k); loaded {
		c.n.Add(-1)
	}
}

// dropUser forgets every cached session of a user (logout, password change).
func (c *sessionCache) dropUser(userID string) {
	c.m.Range(func(k, v any) bool {
		if v.(*sessionView).user.ID == userID {
			c.drop(k.([32]byte))
		}
		return true
	})
}

func (c *sessionCache) prune(now time.Time, ttl time.Duration) {
	c.m.Range(func(k, v any) bool {
		if now.Sub(v.(*sessionView).fetched) >= ttl {
			c.drop(k.([32]byte))
		}
		return true
	})
}

// errNoSession means the request carries no valid session.
var errNoSession = errors.New("no valid session")

// touchEvery is how stale LastSeenAt may get before it is written again:
// writing on every request would turn forward auth into a write load.
func (se *sessions) touchEvery() time.Duration {
	return min(time.Minute, se.opts.Cookie.IdleTimeout/4)
}

// session returns the request's valid session, from the cache when fresh
// (no store access at all) or from the store (session, user, profile). It
// returns errNoSession when there is none or it has ended, and a wrapped
// store error otherwise.
func (se *sessions) session(ctx context.Context, r *http.Request) (*sessionView, [32]byte, error) {
	key, ok := se.sessionKey(r)
	if !ok {
		return nil, key, errNoSession
	}
	now := se.now()
	v := se.cache.get(key)
	if v == nil || now.Sub(v.fetched) >= se.opts.VerifyCacheTTL || now.Before(v.fetched) {
		var err error
		if v, err = se.loadSession(ctx, key, now); err != nil {
			se.cache.drop(key)
			return nil, key, err
		}
		se.cache.put(key, v)
	}
	if reason := se.ended(v, now); reason != "" {
		se.cache.drop(key)
		se.endSession(ctx, v.sess.ID, reason)
		return nil, key, errNoSession
	}
	se.touch(ctx, v, now)
	return v, key, nil
}

func (se *sessions) loadSession(ctx context.Context, key [32]byte, now time.Time) (*sessionView, error) {
	id := hex.EncodeToString(key[:])
	sess, err := se.store.GetSession(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("read session: %w", err)
	}
	u, err := se.store.GetUser(ctx, sess.UserID)
	if errors.Is(err, store.ErrNotFound) {
		se.endSession(ctx, id, "user deleted")
		return nil, errNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("read session user: %w", err)
	}
	privs, err := se.privileges(ctx, u)
	if err != nil {
		return nil, err
	}
	return newSessionView(sess, u, privs, now), nil
}

// ended says why a session may no longer be used, or "" if it may.
func (se *sessions) ended(v *sessionView, now time.Time) string {
	switch {
	case !now.Before(v.sess.ExpiresAt):
		return "absolute timeout"
	case now.Sub(time.Unix(0, v.lastSeen.Load())) >= se.opts.Cookie.IdleTimeout:
		return "idle timeout"
	case v.user.State != store.StateActive:
		// Deactivation deletes sessions in the store; this catches the
		// cached window and any path that forgot to.
		return "user inactive"
	case v.user.Emergency && !v.user.ExpiresAt.IsZero() && !now.Before(v.user.ExpiresAt):
		return "emergency account expired"
	}
	return ""
}

func (se *sessions) touch(ctx context.Context, v *sessionView, now time.Time) {
	if now.Sub(time.Unix(0, v.lastSeen.Load())) < se.touchEvery() || !v.touching.CompareAndSwap(false, true) {
		return
	}
	defer v.touching.Store(false)
	err := se.store.Tx(ctx, func(tx store.Tx) error { return tx.TouchSession(ctx, v.sess.ID, now) })
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		// The session stays usable: a failed touch only shortens its idle life.
		se.log.Warn("touch session", zap.Error(err))
		return
	}
	v.lastSeen.Store(now.UnixNano())
}

// endSession deletes a session from the store (best effort: it has already
// stopped working for this request).
func (se *sessions) endSession(ctx context.Context, id, reason string) {
	err := se.store.Tx(ctx, func(tx store.Tx) error { return tx.DeleteSession(ctx, id) })
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		se.log.Warn("delete ended session", zap.Error(err), zap.String("reason", reason))
	}
}

// endSessionsOf ends the sessions of a user that match (all when match is
// nil) except keep, on this replica at once and in the store (others
// follow within VerifyCacheTTL). It returns how many it ended.
func (se *sessions) endSessionsOf(ctx context.Context, userID, keep string, match func(store.Session) bool) (int, error) {
	n := 0
	err := se.store.Tx(ctx, func(tx store.Tx) error {
		sessions, err := tx.ListSessions(ctx, userID)
		if err != nil {
			return fmt.Errorf("list sessions: %w", err)
		}
		for _, sess := range sessions {
			if sess.ID == keep || (match != nil && !match(sess)) {
				continue
			}
			if err := tx.DeleteSession(ctx, sess.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("delete session: %w", err)
			}
			n++
		}
		return nil
	})
	// Cached views of the kept session reload from the store: harmless.
	se.cache.dropUser(userID)
	if err != nil {
		return 0, fmt.Errorf("end sessions of %s: %w", userID, err)
	}
	return n, nil
}

// RevokeUserSessions ends every session of a user at once on this replica
// and in the store (other replicas follow within VerifyCacheTTL). Admin and
// sync call it on deactivation and profile changes.
func (s *Service) RevokeUserSessions(ctx context.Context, userID string) (int, error) {
	return s.sess.revokeUser(ctx, userID)
}

// revokeUser ends every session of userID at once (RevokeUserSessions).
func (se *sessions) revokeUser(ctx context.Context, userID string) (int, error) {
	var n int
	err := se.store.Tx(ctx, func(tx store.Tx) error {
		var err error
		n, err = tx.DeleteUserSessions(ctx, userID)
		return err
	})
	se.cache.dropUser(userID)
	if err != nil {
		return 0, fmt.Errorf("revoke sessions of %s: %w", userID, err)
	}
	return n, nil
}

// handleLogout ends the session here and in the store, at once.
func (se *sessions) handleLogout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	key, ok := se.sessionKey(r)
	if ok {
		se.cache.drop(key)
		id := hex.EncodeToString(key[:])
		sess, err := se.store.GetSession(ctx, id)
		if err == nil {
			err = se.store.Tx(ctx, func(tx store.Tx) error { return tx.DeleteSession(ctx, id) })
		}
		switch {
		case err == nil:
			ip := clientIP(r, se.opts.TrustedProxies)
			se.audit(ctx, &store.AuditEvent{Time: se.now(), Actor: sess.UserID, Action: ActionSignOut, Target: sess.UserID,
				Outcome: store.OutcomeSuccess, Reason: "logout", SourceIP: addrString(ip), Details: map[string]any{"method": sess.Method}})
		case !errors.Is(err, store.ErrNotFound):
			se.log.Error("logout: delete session", zap.Error(err))
			http.Error(w, "sign-out failed; please try again", http.StatusServiceUnavailable)
			return
		}
	}
	se.clearSessionCookie(w)
	http.Redirect(w, r, "/login?logged_out=1", http.StatusSeeOther)
}
