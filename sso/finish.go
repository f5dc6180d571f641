package sso

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/sso/policy"
	"github.com/dirbridge/dirbridge/store"
)

// Match keys, in Options.MatchKeys.
const (
	KeyUPN         = "upn"
	KeyEmail       = "email"
	KeyImmutableID = "immutable_id"
	KeyUsername    = "username"
	KeyNameID      = "nameid"
)

func validMatchKey(k string) bool {
	switch k {
	case KeyUPN, KeyEmail, KeyImmutableID, KeyUsername, KeyNameID:
		return true
	}
	return false
}

// Audit actions written by sign-in.
const (
	ActionSignIn         = "sso.signin"
	ActionSignOut        = "sso.signout"
	ActionPasswordChange = "sso.password_change"
)

// finisher is the finish step every sign-in method ends in: resolve the
// local user (redirect methods), run the gate, start the session and
// audit. It mounts no routes of its own; the redirect methods mount theirs
// and call Finish.
type finisher struct {
	*core
	sess *sessions
	// offerChange answers a sign-in whose password must change first
	// (changes.offerChange): the finisher hands over, it does not know the
	// change form.
	offerChange func(w http.ResponseWriter, r *http.Request, a *attempt, reason, public string)
}

// attempt is one sign-in on its way through the finish step.
type attempt struct {
	method, issuer string
	// linkSubject is the IdP's stable subject of a redirect sign-in; its
	// link records the sign-in (store.IdPLink.LastSeenAt).
	linkSubject string
	username    string // what the person gave or the IdP asserted, for the audit actor
	user        store.User
	privs       []string
	ip          netip.Addr
	returnTo    string
	bypass      bool
	// password is set for password methods: an expired password (or one
	// that must change) then blocks with the change path. After an IdP
	// sign-in it only warns — the IdP owns that password prompt.
	password bool
	// changed means the password was changed during this sign-in, so
	// stored expiry data (refreshed by the next sync) is not yet current.
	changed    bool
	mustChange bool // the directory said so at bind time (AD 532 / 773)
	// link binds the IdP's subject to user when the sign-in succeeds (the
	// first sign-in matched by a claim, or a JIT creation).
	link    *store.IdPLink
	details map[string]any
	// failPassword, set on the password and bypass paths, refuses with
	// exactly the answer a wrong password gets (page, status, timing).
	failPassword func(outcome, reason string)
}

// Finish is the one finish step for redirect methods (finisher.Finish).
func (s *Service) Finish(w http.ResponseWriter, r *http.Request, id Identity, returnTo string) {
	s.fin.Finish(w, r, id, returnTo)
}

// Fail records a sign-in that failed before an Identity existed
// (finisher.Fail).
func (s *Service) Fail(w http.ResponseWriter, r *http.Request, method, issuer, reason string) {
	s.fin.Fail(w, r, method, issuer, reason)
}

// Finish is the one finish step for redirect methods: resolve the local
// user from the Identity, run policy, start the session, audit.
func (fin *finisher) Finish(w http.ResponseWriter, r *http.Request, id Identity, returnTo string) {
	ctx := r.Context()
	a := &attempt{
		method: id.Method, issuer: id.Issuer, ip: clientIP(r, fin.opts.TrustedProxies),
		returnTo: SafeReturnTo(returnTo, fin.allowed), username: firstNonEmpty(id.UPN, id.Email, id.Username, id.NameID, id.Subject),
		details: map[string]any{"claims": id.Claims, "subject": id.Subject, "groups_overage": id.GroupsOverage},
	}
	if a.method == "" {
		a.method = "unknown"
	}
	res, err := fin.resolve(ctx, id)
	if len(res.passedOver) > 0 {
		a.details["passed_over"] = res.passedOver
	}
	switch {
	case errors.Is(err, errUnknownUser) && fin.opts.JIT != nil && res.key != keyIdPLink:
		u, err := fin.opts.JIT.Provision(ctx, id)
		if err != nil {
			a.details["jit_error"] = err.Error()
			fin.refuse(w, r, a, store.OutcomeDenied, http.StatusForbidden, "unknown user; just-in-time creation failed",
				"Your account could not be set up. Please contact your administrator.")
			return
		}
		res = resolution{user: u, key: "jit"}
		if id.LinkSubject != "" {
			res.link = &store.IdPLink{UserID: u.ID, Issuer: id.Issuer, Subject: id.LinkSubject}
		}
	case errors.Is(err, errSubjectChanged):
		a.details["match_keys"] = fin.opts.MatchKeys
		fin.refuse(w, r, a, store.OutcomeDenied, http.StatusForbidden, err.Error(),
			publicSubjectChanged)
		return
	case errors.Is(err, errUnknownUser) || errors.Is(err, errAmbiguousUser):
		a.details["match_keys"] = fin.opts.MatchKeys
		fin.refuse(w, r, a, store.OutcomeDenied, http.StatusForbidden, err.Error(),
			fmt.Sprintf("You signed in at your identity provider as %q, but there is no active account for you here. Please contact your administrator.", a.username))
		return
	case err != nil:
		fin.unavailable(w, r, a, err)
		return
	}
	a.user, a.link, a.linkSubject = res.user, res.link, id.LinkSubject
	a.details["key_matched"] = res.key
	if id.LinkSubject != "" {
		a.details["idp_subject"] = id.LinkSubject
	}
	fin.complete(w, r, a)
}

// Fail records a sign-in that failed before an Identity existed.
func (fin *finisher) Fail(w http.ResponseWriter, r *http.Request, method, issuer, reason string) {
	a := &attempt{method: method, issuer: issuer, ip: clientIP(r, fin.opts.TrustedProxies), details: map[string]any{}}
	fin.refuse(w, r, a, store.OutcomeFailure, http.StatusForbidden, reason,
		"Sign-in with your identity provider did not succeed. Please try again; if it keeps failing, contact your administrator.")
}

// Unavailable records a sign-in that could not be decided because of our
// own failure (the store did not answer) before an Identity existed, and
// answers 503: the person did nothing wrong and should try again.
func (s *Service) Unavailable(w http.ResponseWriter, r *http.Request, method, issuer string, err error) {
	a := &attempt{method: method, issuer: issuer, ip: clientIP(r, s.fin.opts.TrustedProxies), details: map[string]any{},
		returnTo: SafeReturnTo(r.URL.Query().Get("return_to"), s.fin.allowed)}
	s.fin.unavailable(w, r, a, err)
}

// publicSubjectChanged answers a sign-in whose IdP subject is not the one
// linked to the account.
const publicSubjectChanged = "Your identity provider account is not the one linked to this account here. Please contact your administrator."

// errLicences aborts the session transaction when every licence is taken.
var errLicences = errors.New("all concurrent licences are in use")

// complete is the end of every sign-in with a resolved user: the gate's
// verdict (decide, pure), then the session transaction (startSession),
// then the answer.
func (fin *finisher) complete(w http.ResponseWriter, r *http.Request, a *attempt) {
	now := fin.now()
	if a.username == "" {
		a.username = a.user.Username
	}
	g, err := fin.verdict(r.Context(), a, now)
	if err != nil {
		fin.unavailable(w, r, a, err)
		return
	}
	switch g.Kind {
	case gateRefuse:
		if a.failPassword != nil {
			// A different answer for a right password would confirm it
			// to whoever typed it; only the audit log tells why.
			a.failPassword(store.OutcomeDenied, g.Reason)
			return
		}
		// An IdP has already authenticated the person: say why.
		fin.refuse(w, r, a, store.OutcomeDenied, http.StatusForbidden, g.Reason, g.Public)
		return
	case gateOfferChange:
		fin.offerChange(w, r, a, g.Reason, g.Public)
		return
	}
	if g.Warn {
		a.details["password_expires_in_days"] = g.WarnDays
	}
	value, err := fin.startSession(r.Context(), r, a, now)
	if err != nil {
		if status, public, ok := sessionRefusal(err, fin.opts.ConcurrentLicences, a.password); ok {
			fin.refuse(w, r, a, store.OutcomeDenied, status, err.Error(), public)
			return
		}
		fin.unavailable(w, r, a, err)
		return
	}
	fin.countSignIn(r.Context(), a, store.OutcomeSuccess)
	fin.log.Info("signed in", zap.String("user", a.user.Username), zap.String("method", a.method),
		zap.String("ip", a.ip.String()), zap.Bool("bypass", a.bypass))
	fin.sess.setSessionCookie(w, value)
	if g.Warn {
		fin.render(w, http.StatusOK, "warning", page{
			Title: "Password expires soon", DaysLeft: g.WarnDays, ContinueURL: a.returnTo,
			ChangeURL: "/password/change?return_to=" + queryEscape(a.returnTo),
		})
		return
	}
	http.Redirect(w, r, a.returnTo, http.StatusSeeOther)
}

// verdict reads what the gate needs (the user's effective privileges, the
// current IP rules) and asks it (decide, pure).
func (fin *finisher) verdict(ctx context.Context, a *attempt, now time.Time) (gateResult, error) {
	u := a.user
	privs, err := fin.privileges(ctx, u)
	if err != nil {
		return gateResult{}, err
	}
	a.privs = privs
	a.details["privileges"] = privs
	g := decide(gateInput{
		User: u, Privileges: privs, IP: a.ip, Rules: *fin.ipRules.Load(), Now: now,
		TimeZone: fin.opts.TimeZone, WarnDays: fin.warnDays(u),
		Password: a.password, Changed: a.changed, MustChange: a.mustChange,
	})
	if g.IPRule != "" {
		a.details["ip_rule"] = g.IPRule
	}
	return g, nil
}

// startSession is the session transaction: the licence count, the IdP
// link, the session and the audit record commit together or not at all.
// It returns the cookie value; errLicences and errSubjectChanged are
// refusals (sessionRefusal), any other error our own failure.
func (fin *finisher) startSession(ctx context.Context, r *http.Request, a *attempt, now time.Time) (string, error) {
	value, id, err := newSessionToken()
	if err != nil {
		return "", err
	}
	sess := store.Session{
		ID: id, UserID: a.user.ID, Method: a.method, SourceIP: a.ip.String(), UserAgent: truncate(r.UserAgent(), 256),
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(fin.opts.Cookie.AbsoluteTimeout), Bypass: a.bypass,
	}
	ev := fin.auditEvent(a, store.OutcomeSuccess, "signed in")
	err = fin.store.Tx(ctx, func(tx store.Tx) error {
		if err := checkLicence(ctx, tx, a.user.ID, now, fin.opts.ConcurrentLicences); err != nil {
			return err
		}
		if a.link == nil && a.linkSubject != "" {
			// When this person was last seen at the IdP: what idle
			// deactivation of IdP-only users goes by. A sign-in matched
			// without a link (none made yet) has nothing to record.
			if err := tx.TouchIdPLink(ctx, a.issuer, a.linkSubject, now); err != nil && !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("record IdP sign-in: %w", err)
			}
		}
		if a.link != nil {
			a.link.CreatedAt, a.link.LastSeenAt = now, now
			if err := tx.CreateIdPLink(ctx, *a.link); err != nil {
				if errors.Is(err, store.ErrConflict) {
					// Another sign-in bound this subject, or another subject
					// to this user, since resolve looked.
					return fmt.Errorf("%w: link raced with another sign-in", errSubjectChanged)
				}
				return fmt.Errorf("link IdP subject: %w", err)
			}
			ev.Details["idp_linked"] = true
		}
		if err := tx.CreateSession(ctx, sess); err != nil {
			return fmt.Errorf("create session: %w", err)
		}
		return tx.AppendAudit(ctx, ev)
	})
	if err != nil {
		return "", err
	}
	return value, nil
}

// checkLicence returns errLicences when licences (0: unlimited) are all
// held by other users. The count and the insert share a transaction; on
// PostgreSQL two simultaneous sign-ins may still both see N-1 (read
// committed), overshooting by at most the number of racers.
func checkLicence(ctx context.Context, tx store.Tx, userID string, now time.Time, licences int) error {
	if licences <= 0 {
		return nil
	}
	held, err := holdsSession(ctx, tx, userID, now)
	if err != nil {
		return err
	}
	inUse := 0
	if !held {
		if inUse, err = tx.CountActiveUsersWithSessions(ctx, now); err != nil {
			return fmt.Errorf("count licences: %w", err)
		}
	}
	if !policy.LicenceAvailable(inUse, licences, held) {
		return fmt.Errorf("%w (%d of %d)", errLicences, inUse, licences)
	}
	return nil
}

// sessionRefusal turns the session transaction's refusals into the answer
// (status and public message); ok is false for any other error, our own
// failure.
func sessionRefusal(err error, licences int, password bool) (status int, public string, ok bool) {
	switch {
	case errors.Is(err, errSubjectChanged):
		return http.StatusForbidden, publicSubjectChanged, true
	case errors.Is(err, errLicences):
		msg := fmt.Sprintf("All %d licences are in use right now, so you cannot sign in. Please try again later.", licences)
		if password {
			// Safe to tell the account's owner, but not as a status of its
			// own to an anonymous caller: the wrong-password status.
			return http.StatusUnauthorized, msg, true
		}
		return http.StatusServiceUnavailable, msg, true
	}
	return 0, "", false
}

func holdsSession(ctx context.Context, tx store.Tx, userID string, now time.Time) (bool, error) {
	sessions, err := tx.ListSessions(ctx, userID)
	if err != nil {
		return false, fmt.Errorf("list sessions: %w", err)
	}
	for _, s := range sessions {
		if now.Before(s.ExpiresAt) {
			return true, nil
		}
	}
	return false, nil
}

// refuse ends a sign-in without a session: audit record, metric, Warn log
// (no secrets), and a page with the public message.
func (s *core) refuse(w http.ResponseWriter, r *http.Request, a *attempt, outcome string, status int, reason, public string) {
	s.audit(r.Context(), s.auditEvent(a, outcome, reason))
	s.countSignIn(r.Context(), a, outcome)
	s.log.Warn("sign-in refused", zap.String("method", a.method), zap.String("user", a.username),
		zap.String("ip", a.ip.String()), zap.String("reason", reason))
	s.render(w, status, "message", page{Title: "Sign-in failed", Error: public, LoginURL: s.loginURL(a.returnTo)})
}

// unavailable is refuse for our own failures (store, hashing): the person
// did nothing wrong and should try again.
func (s *core) unavailable(w http.ResponseWriter, r *http.Request, a *attempt, err error) {
	s.log.Error("sign-in failed on our side", zap.String("method", a.method), zap.String("user", a.username), zap.Error(err))
	a.details["error"] = err.Error()
	s.audit(r.Context(), s.auditEvent(a, store.OutcomeFailure, "internal error"))
	s.countSignIn(r.Context(), a, store.OutcomeFailure)
	s.render(w, http.StatusServiceUnavailable, "message", page{Title: "Sign-in unavailable",
		Error: "Sign-in is temporarily unavailable. Please try again in a moment.", LoginURL: s.loginURL(a.returnTo)})
}

func (s *core) countSignIn(ctx context.Context, a *attempt, outcome string) {
	traceSignIn(ctx, a, outcome)
	s.metrics.signins.WithLabelValues(a.method, outcome).Inc()
	if a.bypass {
		s.metrics.bypass.WithLabelValues(outcome).Inc()
	}
}

func (s *core) auditEvent(a *attempt, outcome, reason string) *store.AuditEvent {
	d := map[string]any{"method": a.method, "bypass": a.bypass}
	if a.issuer != "" {
		d["idp"] = a.issuer
	}
	for k, v := range a.details {
		if v != nil {
			d[k] = v
		}
	}
	actor := a.user.Username
	if actor == "" {
		actor = a.username
	}
	ip := ""
	if a.ip.IsValid() {
		ip = a.ip.String()
	}
	return &store.AuditEvent{
		Time: s.now(), Actor: actor, Action: ActionSignIn, Target: a.user.ID,
		Outcome: outcome, Reason: reason, SourceIP: ip, Details: d,
	}
}

// audit writes an event in its own transaction. A failure is logged at
// Error: a sign-in the audit log misses is something an operator must see.
func (s *core) audit(ctx context.Context, ev *store.AuditEvent) {
	// The request may be gone (client hung up); the record must still land.
	ctx = context.WithoutCancel(ctx)
	if err := s.store.Tx(ctx, func(tx store.Tx) error { return tx.AppendAudit(ctx, ev) }); err != nil {
		s.log.Error("write audit event", zap.String("action", ev.Action), zap.String("outcome", ev.Outcome), zap.Error(err))
	}
}

func has(list []string, v string) bool { return slices.Contains(list, v) }

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
