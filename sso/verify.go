package sso

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Header names forward auth hands to the application, pre-canonicalised
// so the hot path assigns map entries without canonicalising.
const (
	hdrUser       = "X-Dirbridge-User"
	hdrEmail      = "X-Dirbridge-Email"
	hdrProfile    = "X-Dirbridge-Profile"
	hdrPrivileges = "X-Dirbridge-Privileges"
	hdrUnits      = "X-Dirbridge-Units"
	hdrLoginURL   = "X-Dirbridge-Login-Url"
)

// handleVerify answers a reverse proxy's sub-request (nginx auth_request,
// Traefik ForwardAuth, Caddy forward_auth), as oauth2-proxy's AuthOnly
// does: 200 with identity headers for a valid session, 401 (with the login
// URL) when not signed in, 403 when the IP rules do not allow the user at
// the request's address (as at sign-in) or a privilege named in
// ?privilege= (any number of times, all required) is missing.
func (se *sessions) handleVerify(w http.ResponseWriter, r *http.Request) {
	v, _, err := se.session(r.Context(), r)
	if err != nil {
		se.verifyUnauthenticated(w, r, err)
		return
	}
	if !se.ipAllowed(r.Context(), r, v) {
		se.metrics.verify.WithLabelValues("403").Inc()
		w.Header()["Cache-Control"] = noStore
		http.Error(w, "not allowed from this network address", http.StatusForbidden)
		return
	}
	if r.URL.RawQuery != "" {
		for _, p := range r.URL.Query()["privilege"] {
			if !v.has(p) {
				se.metrics.verify.WithLabelValues("403").Inc()
				http.Error(w, "missing privilege "+p, http.StatusForbidden)
				return
			}
		}
	}
	h := w.Header()
	h[hdrUser] = v.hUser
	h[hdrEmail] = v.hEmail
	h[hdrProfile] = v.hProfile
	h[hdrPrivileges] = v.hPrivs
	h[hdrUnits] = v.hUnits
	h["Cache-Control"] = noStore
	w.WriteHeader(http.StatusOK)
	se.metrics.verifyOK.Inc()
}

var noStore = []string{"no-store"}

func (se *sessions) verifyUnauthenticated(w http.ResponseWriter, r *http.Request, err error) {
	if !errors.Is(err, errNoSession) {
		// A store outage: the proxy must not read it as "signed out" and
		// send everyone to the login page in a loop.
		se.log.Error("forward auth: read session", zap.Error(err))
		se.metrics.verify.WithLabelValues("500").Inc()
		http.Error(w, "session store unavailable", http.StatusInternalServerError)
		return
	}
	login := se.loginURL(se.originalURL(r))
	w.Header().Set(hdrLoginURL, login)
	w.Header().Set("Cache-Control", "no-store")
	se.metrics.verify.WithLabelValues("401").Inc()
	http.Error(w, "not signed in; sign in at "+login, http.StatusUnauthorized)
}

// originalURL is the URL the user asked the proxy for, so the login can
// send them back: ?rd= (oauth2-proxy's name), X-Original-URL (nginx, as in
// deploy/nginx.conf.example) or X-Forwarded-Proto/Host/Uri (Traefik,
// Caddy). Anything not allowed by SafeReturnTo becomes "/".
func (se *sessions) originalURL(r *http.Request) string {
	raw := r.URL.Query().Get("rd")
	if raw == "" {
		raw = r.Header.Get("X-Original-Url")
	}
	if raw == "" {
		if host := r.Header.Get("X-Forwarded-Host"); host != "" {
			proto := r.Header.Get("X-Forwarded-Proto")
			if proto == "" {
				proto = "https"
			}
			raw = (&url.URL{Scheme: proto, Host: host}).String() + r.Header.Get("X-Forwarded-Uri")
		}
	}
	return SafeReturnTo(raw, se.allowed)
}

// Me is what GET /api/v1/me returns: the forward-auth answer as JSON.
type Me struct {
	ID               string    `json:"id"`
	Username         string    `json:"username"`
	DisplayName      string    `json:"display_name"`
	Email            string    `json:"email"`
	Profile          string    `json:"profile"`
	Privileges       []string  `json:"privileges"`
	Units            []string  `json:"units"`
	Method           string    `json:"method"`
	Bypass           bool      `json:"bypass,omitempty"`
	SignedInAt       time.Time `json:"signed_in_at"`
	SessionExpiresAt time.Time `json:"session_expires_at"`
	// PasswordExpiresInDays is set when the password expires within the
	// warning window.
	PasswordExpiresInDays *int `json:"password_expires_in_days,omitempty"`
}

func (se *sessions) handleMe(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	v, _, err := se.session(r.Context(), r)
	if err != nil {
		status, msg := http.StatusUnauthorized, "not signed in"
		if !errors.Is(err, errNoSession) {
			se.log.Error("me: read session", zap.Error(err))
			status, msg = http.StatusInternalServerError, "session store unavailable"
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": msg, "login_url": se.loginURL("")})
		return
	}
	if !se.ipAllowed(r.Context(), r, v) {
		w.WriteHeader(http.StatusForbidden)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "not allowed from this network address"})
		return
	}
	u := v.user
	me := Me{
		ID: u.ID, Username: u.Username, DisplayName: u.DisplayName, Email: u.Email, Profile: u.Profile,
		Privileges: nonNil(v.privs), Units: nonNil(u.Units), Method: v.sess.Method, Bypass: v.sess.Bypass,
		SignedInAt: v.sess.CreatedAt, SessionExpiresAt: v.sess.ExpiresAt,
	}
	if days, warn, _ := passwordWarning(u, se.now(), se.opts.TimeZone, se.warnDays(u)); warn {
		me.PasswordExpiresInDays = &days
	}
	_ = json.NewEncoder(w).Encode(me)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// trimJoin is strings.Join for header lists, skipping empty entries.
func trimJoin(items []string) string {
	out := items[:0:0]
	for _, it := range items {
		if it = strings.TrimSpace(it); it != "" {
			out = append(out, it)
		}
	}
	return strings.Join(out, ",")
}
