package sso

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/dirbridge/dirbridge/store"
)

// ErrNotSignedIn is returned by BrowserSession when the request carries no
// valid session (none, ended, timed out, or its user inactive).
var ErrNotSignedIn = errors.New("not signed in")

// BrowserSession is what the administration console needs of a request's
// sign-in session.
type BrowserSession struct {
	ID   string
	User store.User
	// Privileges are the user's effective privileges, sorted.
	Privileges []string
	Method     string
	Bypass     bool
	SignedInAt time.Time
	ExpiresAt  time.Time
	// PasswordExpiresInDays is set when the sign-in warning applies
	// (expiry.warn_days); nil otherwise.
	PasswordExpiresInDays *int
	// CSRF is a token bound to this session's cookie, for the console's
	// forms: an attacker who cannot read the cookie cannot compute it, and
	// every replica derives the same one without storing anything.
	CSRF string
}

// BrowserSession reads the request's session cookie with the same checks
// as forward auth (timeouts, user state) and returns the session. It
// returns ErrNotSignedIn when there is none, and a wrapped store error
// otherwise.
func (s *Service) BrowserSession(r *http.Request) (BrowserSession, error) {
	v, _, err := s.sess.session(r.Context(), r)
	if errors.Is(err, errNoSession) {
		return BrowserSession{}, ErrNotSignedIn
	}
	if err != nil {
		return BrowserSession{}, fmt.Errorf("browser session: %w", err)
	}
	c, err := r.Cookie(s.cookie)
	if err != nil {
		return BrowserSession{}, ErrNotSignedIn
	}
	sum := sha256.Sum256([]byte("dirbridge console csrf\x00" + c.Value))
	b := BrowserSession{
		ID: v.sess.ID, User: v.user, Privileges: v.privs, Method: v.sess.Method, Bypass: v.sess.Bypass,
		SignedInAt: v.sess.CreatedAt, ExpiresAt: v.sess.ExpiresAt,
		CSRF: base64.RawURLEncoding.EncodeToString(sum[:]),
	}
	if days, warn, _ := passwordWarning(v.user, s.now(), s.opts.TimeZone, s.warnDays(v.user)); warn {
		b.PasswordExpiresInDays = &days
	}
	return b, nil
}

// LoginURL is the sign-in page that returns to returnTo afterwards.
func (s *Service) LoginURL(returnTo string) string { return s.loginURL(returnTo) }
