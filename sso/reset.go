package sso

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/store"
)

// ResetMailer sends a local user the link that resets their password
// (an adapter over the expiry package's SMTP delivery).
type ResetMailer interface {
	SendPasswordReset(ctx context.Context, u store.User, link string, expires time.Time) error
	// SendInvitation welcomes a new local user with the link that sets
	// their first password.
	SendInvitation(ctx context.Context, u store.User, link string, expires time.Time) error
}

// InvitationTTL is how long a new user's set-password link works: longer
// than a reset, since the person may not read mail the same day.
const InvitationTTL = 72 * time.Hour

// ErrNoResetMailer is SendSetPassword's answer when no mail is configured.
var ErrNoResetMailer = errors.New("no password mail is configured (policy.password_reset)")

// ErrIdPOnly refuses a local password to a user that exists only through an
// identity provider (store.SourceIdP).
var ErrIdPOnly = errors.New("the user exists only through the identity provider and has no local password")

// ActionPasswordReset is the audit action of the forgotten-password flow.
const ActionPasswordReset = "sso.password_reset"

const resetNamespace = "sso.password_reset"

type resetState struct {
	UserID  string    `json:"user_id"`
	Expires time.Time `json:"expires"`
	// Issued dates the link: a password changed or reset since makes it
	// useless (the mailbox may be the very thing that leaked).
	Issued time.Time `json:"issued"`
}

// forgotAnswer is the one answer to a reset request, whether or not the
// account exists, is local or has an address: no account discovery.
const forgotAnswer = "If an account with that name or address exists here and has an e-mail address, a link to choose a new password is on its way; it works once, for a short time. Accounts from your organisation's directory: please use your organisation's own password reset."

func (cs *changes) resetTTL() time.Duration {
	if ttl := cs.policies().ResetTTL; ttl > 0 {
		return ttl
	}
	return 30 * time.Minute
}

func (cs *changes) handleForgotPage(w http.ResponseWriter, r *http.Request) {
	cs.render(w, http.StatusOK, "forgot", page{Title: "Forgotten password"})
}

// handleForgotPost mails a reset link to a local user. The answer and its
// timing do not depend on the account: lookups happen, the mail goes out
// in the background.
func (cs *changes) handleForgotPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	ip := clientIP(r, cs.opts.TrustedProxies)
	name := strings.TrimSpace(r.PostForm.Get("username"))
	if name == "" {
		cs.render(w, http.StatusBadRequest, "forgot", page{Title: "Forgotten password", Error: "Enter your user name or e-mail address."})
		return
	}
	ev := &store.AuditEvent{Time: cs.now(), Actor: name, Action: ActionPasswordReset, SourceIP: addrString(ip), Outcome: store.OutcomeDenied,
		Details: map[string]any{"step": "request"}}
	if !cs.throttle.allow(ip) {
		ev.Reason = "throttled"
		cs.audit(r.Context(), ev)
		w.Header().Set("Retry-After", "60")
		cs.render(w, http.StatusTooManyRequests, "forgot", page{Title: "Forgotten password",
			Error: "Too many requests from your network. Please wait a minute and try again."})
		return
	}
	ctx := context.WithoutCancel(r.Context())
	limited := !cs.resets.allow(ip, name)
	u, err := cs.pw.userForPassword(ctx, name)
	switch {
	case limited:
		// After the lookup, so the answer takes as long as any other.
		ev.Reason = "too many reset requests for this address or account"
	case errors.Is(err, errUnknownUser):
		ev.Reason = "unknown user"
	case err != nil:
		cs.log.Error("password reset: find user", zap.Error(err))
		ev.Reason = "internal error"
	case u.State != store.StateActive:
		ev.Reason = "user inactive"
	case u.Source == store.SourceIdP:
		ev.Reason = reasonIdPOnly
	case !isLocal(u):
		ev.Reason = "directory user: told to use the directory's reset"
	case u.Email == "" || cs.opts.ResetMailer == nil:
		ev.Reason = "no e-mail address or no mailer"
	default:
		ev.Target, ev.Outcome, ev.Reason = u.ID, store.OutcomeSuccess, "reset link sent"
		go cs.sendReset(ctx, u)
	}
	cs.audit(ctx, ev)
	cs.render(w, http.StatusOK, "message", page{Title: "Forgotten password", Info: forgotAnswer, LoginURL: cs.loginURL("")})
}

func (cs *changes) sendReset(ctx context.Context, u store.User) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	link, expires, err := cs.resetLink(ctx, u, cs.resetTTL())
	if err != nil {
		cs.log.Error("password reset", zap.Error(err))
		return
	}
	if err := cs.opts.ResetMailer.SendPasswordReset(ctx, u, link, expires); err != nil {
		cs.log.Error("password reset: send mail", zap.String("user", u.Username), zap.Error(err))
	}
}

// resetLink stores a single-use set-password token for u and returns its
// link.
func (cs *changes) resetLink(ctx context.Context, u store.User, ttl time.Duration) (string, time.Time, error) {
	value, key, err := newSessionToken()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("token: %w", err)
	}
	expires := cs.now().Add(ttl)
	raw, _ := json.Marshal(resetState{UserID: u.ID, Expires: expires, Issued: cs.now()})
	if err := cs.store.PutEphemeral(ctx, resetNamespace, key, raw, expires); err != nil {
		return "", time.Time{}, fmt.Errorf("store token: %w", err)
	}
	link := *cs.public
	link.Path = strings.TrimSuffix(link.Path, "/") + "/password/reset"
	link.RawQuery = "token=" + queryEscape(value)
	return link.String(), expires, nil
}

// SendSetPassword mails a new local user the link that sets their first
// password (the reset machinery, with InvitationTTL): the administrator
// who created the account never knows it.
func (s *Service) SendSetPassword(ctx context.Context, u store.User) error {
	if u.Source == store.SourceIdP {
		return fmt.Errorf("invite %s: %w", u.Username, ErrIdPOnly)
	}
	if s.opts.ResetMailer == nil {
		return ErrNoResetMailer
	}
	if u.Email == "" {
		return fmt.Errorf("invite %s: no e-mail address", u.Username)
	}
	link, expires, err := s.chg.resetLink(ctx, u, InvitationTTL)
	if err != nil {
		return fmt.Errorf("invite %s: %w", u.Username, err)
	}
	if err := s.opts.ResetMailer.SendInvitation(ctx, u, link, expires); err != nil {
		return fmt.Errorf("invite %s: %w", u.Username, err)
	}
	return nil
}

// handleResetPage shows the new-password form. The token is not spent
// here: mail scanners that follow links must not use it up.
func (cs *changes) handleResetPage(w http.ResponseWriter, r *http.Request) {
	cs.render(w, http.StatusOK, "reset", page{Title: "Choose a new password", Ticket: r.URL.Query().Get("token"),
		Rules: cs.rulesFor(store.User{Source: store.SourceLocal})})
}

func (cs *changes) handleResetPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	ip := clientIP(r, cs.opts.TrustedProxies)
	token := r.PostForm.Get("token")
	expired := page{Title: "Choose a new password", Error: "This link has expired or was already used. Ask for a new one.", LoginURL: cs.loginURL("")}
	if !cs.throttle.allow(ip) {
		w.Header().Set("Retry-After", "60")
		expired.Error = "Too many attempts from your network. Please wait a minute and try again."
		cs.render(w, http.StatusTooManyRequests, "message", expired)
		return
	}
	if _, key, ok := tokenKey(token); ok {
		raw, err := cs.store.TakeEphemeral(ctx, resetNamespace, key)
		var st resetState
		if err == nil && json.Unmarshal(raw, &st) == nil {
			cs.finishReset(w, r, st, key)
			return
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			cs.log.Error("password reset: read token", zap.Error(err))
		}
	}
	cs.audit(ctx, &store.AuditEvent{Time: cs.now(), Action: ActionPasswordReset, SourceIP: addrString(ip),
		Outcome: store.OutcomeFailure, Reason: "unknown, used or expired token", Details: map[string]any{"step": "reset"}})
	cs.render(w, http.StatusBadRequest, "message", expired)
}

// tokenKey is the stored key of a cookie-shaped token.
func tokenKey(token string) (string, string, bool) {
	if len(token) != 43 {
		return "", "", false
	}
	return token, ticketKey(token), true
}

func (cs *changes) finishReset(w http.ResponseWriter, r *http.Request, st resetState, key string) {
	ctx := r.Context()
	ip := clientIP(r, cs.opts.TrustedProxies)
	ev := &store.AuditEvent{Time: cs.now(), Action: ActionPasswordReset, Target: st.UserID, SourceIP: addrString(ip),
		Details: map[string]any{"step": "reset"}}
	form := page{Title: "Choose a new password", Ticket: r.PostForm.Get("token"), Rules: cs.rulesFor(store.User{Source: store.SourceLocal})}
	again := func(msg string) {
		// Put the token back for another try, with its original expiry.
		raw, _ := json.Marshal(st)
		if err := cs.store.PutEphemeral(ctx, resetNamespace, key, raw, st.Expires); err != nil {
			cs.log.Error("password reset: restore token", zap.Error(err))
		}
		form.Error = msg
		cs.render(w, http.StatusBadRequest, "reset", form)
	}
	u, err := cs.store.GetUser(ctx, st.UserID)
	if err != nil || u.State != store.StateActive || !isLocal(u) {
		ev.Outcome, ev.Reason = store.OutcomeDenied, "user gone, inactive or not local"
		if err == nil && u.Source == store.SourceIdP {
			ev.Reason = reasonIdPOnly
		}
		cs.audit(ctx, ev)
		cs.render(w, http.StatusBadRequest, "message", page{Title: "Choose a new password",
			Error: "This link can no longer be used.", LoginURL: cs.loginURL("")})
		return
	}
	ev.Actor = u.Username
	if !u.PasswordChangedAt.IsZero() && !u.PasswordChangedAt.Before(st.Issued) {
		ev.Outcome, ev.Reason = store.OutcomeDenied, "the password changed after the link was sent"
		cs.audit(ctx, ev)
		cs.render(w, http.StatusBadRequest, "message", page{Title: "Choose a new password",
			Error: "This link can no longer be used: your password was changed since it was sent. Ask for a new one if you need it.", LoginURL: cs.loginURL("")})
		return
	}
	newPW := r.PostForm.Get("new_password")
	if newPW == "" || newPW != r.PostForm.Get("confirm_password") {
		again("Enter the new password twice, the same both times.")
		return
	}
	if err := cs.setLocalPassword(ctx, u, newPW); err != nil {
		var pr *policyRefusal
		if errors.As(err, &pr) {
			again(capitalise(pr.msg))
			return
		}
		cs.log.Error("password reset", zap.String("user", u.Username), zap.Error(err))
		ev.Outcome, ev.Reason = store.OutcomeFailure, "internal error"
		cs.audit(ctx, ev)
		cs.render(w, http.StatusServiceUnavailable, "message", page{Title: "Choose a new password",
			Error: "Password reset is temporarily unavailable. Please try again.", LoginURL: cs.loginURL("")})
		return
	}
	// Whoever knew the old password is signed out everywhere.
	n, err := cs.sess.revokeUser(ctx, u.ID)
	if err != nil {
		cs.log.Error("password reset: revoke sessions", zap.Error(err))
	}
	ev.Outcome, ev.Reason = store.OutcomeSuccess, "password reset"
	ev.Details["sessions_revoked"] = n
	cs.audit(ctx, ev)
	cs.render(w, http.StatusOK, "message", page{Title: "Password changed",
		Info: "Your password has been changed. Sign in with the new one.", LoginURL: cs.loginURL("")})
}
