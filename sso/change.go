package sso

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/sso/policy"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// A change ticket carries a sign-in that stopped at an expired password
// (or one that must change) to the change form and back, without a
// session. It lives server-side, single use, for ticketTTL.
const (
	ticketNamespace = "sso.password_change"
	ticketTTL       = 10 * time.Minute
)

// changes is choosing a new password: the change form (expired or must
// change at sign-in, or by choice) and, for local users, the forgotten
// password mail and reset link.
type changes struct {
	*core
	sess *sessions
	fin  *finisher
	pw   *passwords
}

func (cs *changes) routes(mux *http.ServeMux, cop *http.CrossOriginProtection) {
	mux.HandleFunc("GET /password/change", cs.handleChangePage)
	mux.Handle("POST /password/change", cop.Handler(http.HandlerFunc(cs.handleChangePost)))
	if cs.opts.ResetMailer != nil {
		mux.HandleFunc("GET /password/forgot", cs.handleForgotPage)
		mux.Handle("POST /password/forgot", cop.Handler(http.HandlerFunc(cs.handleForgotPost)))
		mux.HandleFunc("GET /password/reset", cs.handleResetPage)
		mux.Handle("POST /password/reset", cop.Handler(http.HandlerFunc(cs.handleResetPost)))
	}
}

type ticket struct {
	UserID   string `json:"user_id"`
	Method   string `json:"method"`
	Issuer   string `json:"issuer,omitempty"`
	Bypass   bool   `json:"bypass,omitempty"`
	ReturnTo string `json:"return_to"`
}

func ticketKey(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

func (cs *changes) putTicket(ctx context.Context, t ticket) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("change ticket: %w", err)
	}
	value := base64.RawURLEncoding.EncodeToString(b)
	raw, err := json.Marshal(t)
	if err != nil {
		return "", fmt.Errorf("change ticket: %w", err)
	}
	if err := cs.store.PutEphemeral(ctx, ticketNamespace, ticketKey(value), raw, cs.now().Add(ticketTTL)); err != nil {
		return "", fmt.Errorf("store change ticket: %w", err)
	}
	return value, nil
}

// offerChange stops a password sign-in whose password must change and
// shows the change form (current + new password); a successful change
// finishes the sign-in.
func (cs *changes) offerChange(w http.ResponseWriter, r *http.Request, a *attempt, reason, public string) {
	tk, err := cs.putTicket(r.Context(), ticket{UserID: a.user.ID, Method: a.method, Issuer: a.issuer, Bypass: a.bypass, ReturnTo: a.returnTo})
	if err != nil {
		cs.unavailable(w, r, a, err)
		return
	}
	cs.audit(r.Context(), cs.auditEvent(a, store.OutcomeDenied, reason+"; change offered"))
	cs.countSignIn(r.Context(), a, store.OutcomeDenied)
	cs.log.Warn("sign-in held for password change", zap.String("user", a.user.Username), zap.String("reason", reason))
	cs.render(w, http.StatusOK, "change", page{
		Title: "Change your password", Error: public, Ticket: tk, ReturnTo: a.returnTo,
		Username: a.user.Username, Rules: cs.rulesFor(a.user),
	})
}

func (cs *changes) rulesFor(u store.User) []string {
	if isLocal(u) {
		return policy.Describe(cs.policies().Password)
	}
	return []string{"Your organisation's directory password rules apply."}
}

func isLocal(u store.User) bool { return u.Source == store.SourceLocal || u.Source == "" }

// handleChangePage is the self-service change form for a signed-in user.
func (cs *changes) handleChangePage(w http.ResponseWriter, r *http.Request) {
	returnTo := SafeReturnTo(r.URL.Query().Get("return_to"), cs.allowed)
	v, _, err := cs.sess.session(r.Context(), r)
	if err != nil {
		http.Redirect(w, r, "/login?return_to="+queryEscape("/password/change"), http.StatusSeeOther)
		return
	}
	cs.render(w, http.StatusOK, "change", page{Title: "Change your password", ReturnTo: returnTo,
		Username: v.user.Username, Rules: cs.rulesFor(v.user)})
}

// Change failures the form shows.
var (
	errWrongOld = errors.New("the current password is incorrect")
)

// handleChangePost changes a password: self-service with a session, or
// with a change ticket from a sign-in held at an expired password.
func (cs *changes) handleChangePost(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	ip := clientIP(r, cs.opts.TrustedProxies)
	returnTo := SafeReturnTo(r.PostForm.Get("return_to"), cs.allowed)
	u, tk, returnTo, ok := cs.changeTarget(w, r, returnTo)
	if !ok {
		return
	}

	form := page{Title: "Change your password", ReturnTo: returnTo, Username: u.Username, Rules: cs.rulesFor(u)}
	again := func(status int, msg string) {
		if tk != nil {
			// The ticket was used up; a fresh one lets the person retry.
			t, err := cs.putTicket(ctx, *tk)
			if err != nil {
				cs.log.Error("store change ticket", zap.Error(err))
				msg = "Please sign in again."
			}
			form.Ticket = t
		}
		form.Error = msg
		cs.render(w, status, "change", form)
	}
	if !cs.throttle.allow(ip) {
		w.Header().Set("Retry-After", "60")
		again(http.StatusTooManyRequests, "Too many attempts from your network. Please wait a minute and try again.")
		return
	}
	oldPW, newPW := r.PostForm.Get("old_password"), r.PostForm.Get("new_password")
	switch {
	case oldPW == "" || newPW == "":
		again(http.StatusBadRequest, "Enter your current password and a new one.")
		return
	case newPW != r.PostForm.Get("confirm_password"):
		again(http.StatusBadRequest, "The two new passwords do not match.")
		return
	case newPW == oldPW:
		again(http.StatusBadRequest, "The new password must differ from the current one.")
		return
	}

	ev := &store.AuditEvent{Time: cs.now(), Actor: u.Username, Action: ActionPasswordChange, Target: u.ID,
		SourceIP: addrString(ip), Details: map[string]any{"self_service": tk == nil, "source": u.Source}}
	err := cs.changePassword(ctx, u, oldPW, newPW)
	switch {
	case err == nil:
	case errors.Is(err, errWrongOld):
		ev.Outcome, ev.Reason = store.OutcomeFailure, err.Error()
		cs.audit(ctx, ev)
		again(http.StatusUnauthorized, "The current password is incorrect.")
		return
	case errors.As(err, new(*policyRefusal)):
		ev.Outcome, ev.Reason = store.OutcomeDenied, err.Error()
		cs.audit(ctx, ev)
		again(http.StatusBadRequest, capitalise(err.Error()))
		return
	default:
		cs.log.Error("change password", zap.String("user", u.Username), zap.Error(err))
		ev.Outcome, ev.Reason = store.OutcomeFailure, "internal error"
		cs.audit(ctx, ev)
		again(http.StatusServiceUnavailable, "Password change is temporarily unavailable. Please try again.")
		return
	}
	// Whoever else knew the old password is signed out; this browser's
	// session, if it has one, stays.
	keep := ""
	if v, _, err := cs.sess.session(ctx, r); err == nil && tk == nil {
		keep = v.sess.ID
	}
	n, err := cs.sess.endSessionsOf(ctx, u.ID, keep, nil)
	if err != nil {
		cs.log.Error("password change: end other sessions", zap.String("user", u.Username), zap.Error(err))
	}
	ev.Details["sessions_ended"] = n
	ev.Outcome, ev.Reason = store.OutcomeSuccess, "password changed"
	cs.audit(ctx, ev)
	cs.log.Info("password changed", zap.String("user", u.Username), zap.Bool("self_service", tk == nil))

	if tk == nil {
		cs.render(w, http.StatusOK, "message", page{Title: "Password changed", Info: "Your password has been changed.", ContinueURL: returnTo})
		return
	}
	fresh, err := cs.store.GetUser(ctx, u.ID)
	if err != nil {
		cs.log.Error("read user after password change", zap.Error(err))
		fresh = u
	}
	cs.fin.complete(w, r, &attempt{
		method: tk.Method, issuer: tk.Issuer, username: fresh.Username, user: fresh, ip: ip, returnTo: returnTo,
		bypass: tk.Bypass, password: true, changed: true, details: map[string]any{"password_changed": true},
	})
}

// changeTarget is whose password a change form posts: the user of the
// sign-in ticket (a password that must change before the session starts)
// or of the browser's session. ok false means it answered already. The
// ticket's return URL, when there is one, replaces returnTo.
func (cs *changes) changeTarget(w http.ResponseWriter, r *http.Request, returnTo string) (u store.User, tk *ticket, _ string, ok bool) {
	ctx := r.Context()
	if raw := r.PostForm.Get("ticket"); raw != "" {
		b, err := cs.store.TakeEphemeral(ctx, ticketNamespace, ticketKey(raw))
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				cs.log.Error("read change ticket", zap.Error(err))
			}
			cs.render(w, http.StatusBadRequest, "message", page{Title: "Change your password",
				Error: "This page has expired. Please sign in again.", LoginURL: cs.loginURL(returnTo)})
			return u, tk, returnTo, false
		}
		tk = new(ticket)
		if err := json.Unmarshal(b, tk); err != nil {
			cs.log.Error("decode change ticket", zap.Error(err))
			http.Error(w, "internal error", http.StatusInternalServerError)
			return u, tk, returnTo, false
		}
		returnTo = SafeReturnTo(tk.ReturnTo, cs.allowed)
		if u, err = cs.store.GetUser(ctx, tk.UserID); err != nil {
			cs.log.Error("read user for password change", zap.Error(err))
			cs.render(w, http.StatusServiceUnavailable, "message", page{Title: "Change your password",
				Error: "Password change is temporarily unavailable. Please try again.", LoginURL: cs.loginURL(returnTo)})
			return u, tk, returnTo, false
		}
	} else {
		v, _, err := cs.sess.session(ctx, r)
		if err != nil {
			http.Redirect(w, r, "/login?return_to="+queryEscape("/password/change"), http.StatusSeeOther)
			return u, tk, returnTo, false
		}
		if u, err = cs.store.GetUser(ctx, v.user.ID); err != nil {
			cs.log.Error("read user for password change", zap.Error(err))
			http.Error(w, "password change unavailable", http.StatusServiceUnavailable)
			return u, tk, returnTo, false
		}
	}
	return u, tk, returnTo, true
}

// policyRefusal is a new password the directory (or a rule) refused, with
// a message meant for the person.
type policyRefusal struct{ msg string }

func (e *policyRefusal) Error() string { return e.msg }

// changePassword checks the current password (counted toward lock-out)
// and writes the new one: to the directory for directory users, as a new
// local hash otherwise.
func (cs *changes) changePassword(ctx context.Context, u store.User, oldPW, newPW string) error {
	v, reason, err := cs.pw.checkPassword(ctx, u, oldPW)
	switch v {
	case verdictOK, verdictMustChange:
	case verdictUnavailable:
		return err
	case verdictRefused:
		return &policyRefusal{msg: "your directory refused the change; contact your administrator"}
	default:
		return fmt.Errorf("%w (%s)", errWrongOld, reason)
	}
	now := cs.now()
	if u.Source == store.SourceIdP {
		return &policyRefusal{msg: "this account signs in through your identity provider and has no password here"}
	}
	if !isLocal(u) {
		ch := cs.opts.Changers[u.Source]
		if ch == nil {
			return &policyRefusal{msg: "passwords of this directory cannot be changed here; use your organisation's password change"}
		}
		if err := ch.ChangePassword(ctx, directoryAccount(u), oldPW, newPW); err != nil {
			switch {
			case errors.Is(err, directory.ErrInvalidCredentials):
				return fmt.Errorf("%w (directory)", errWrongOld)
			case errors.Is(err, directory.ErrPasswordPolicy):
				return &policyRefusal{msg: err.Error()}
			default:
				return fmt.Errorf("directory %s: %w", u.Source, err)
			}
		}
		// The directory now holds the truth; the stored expiry is stale
		// until the next sync reads it, so forget it rather than block.
		return cs.updateUser(ctx, u.ID, func(cur *store.User) {
			cur.PasswordChangedAt, cur.PasswordExpiresAt, cur.MustChangePassword = now, time.Time{}, false
		})
	}

	return cs.setLocalPassword(ctx, u, newPW)
}

// setLocalPassword checks newPW against the local password policy (history
// included) and stores its hash; the must-change flag is cleared and the
// expiry set from the policy's validity.
func (cs *changes) setLocalPassword(ctx context.Context, u store.User, newPW string) error {
	now := cs.now()
	pp := cs.policies().Password
	// history is newest first with the current hash, as CheckPassword wants.
	history := append([]string{u.PasswordHash}, u.PasswordHistory...)
	verify := func(hash, pw string) bool { return cs.opts.Hasher.Verify(ctx, hash, pw) == nil }
	if vs := policy.CheckPassword(pp, u.Username, newPW, history, verify); len(vs) > 0 {
		msgs := make([]string, len(vs))
		for i, v := range vs {
			msgs[i] = v.Message
		}
		return &policyRefusal{msg: strings.Join(msgs, " ")}
	}
	hash, err := cs.opts.Hasher.Hash(ctx, newPW)
	if err != nil {
		return fmt.Errorf("hash new password: %w", err)
	}
	return cs.updateUser(ctx, u.ID, func(cur *store.User) {
		if pp.History > 0 && cur.PasswordHash != "" {
			cur.PasswordHistory = append([]string{cur.PasswordHash}, cur.PasswordHistory...)[:min(pp.History, len(cur.PasswordHistory)+1)]
		}
		cur.PasswordHash = hash
		exp := policy.LocalPasswordExpiry(pp, cur.Username, now, false)
		// ExpiresAt is zero when the policy never expires this password;
		// PasswordNeverExpires stays an administrator's flag.
		cur.PasswordChangedAt, cur.PasswordExpiresAt = exp.ChangedAt, exp.ExpiresAt
		cur.MustChangePassword = false
	})
}

// updateUser re-reads a user and writes change in one transaction,
// retrying once when a concurrent update (sync) won the version race.
func (cs *changes) updateUser(ctx context.Context, id string, change func(*store.User)) error {
	var err error
	for range 2 {
		err = cs.store.Tx(ctx, func(tx store.Tx) error {
			cur, err := tx.GetUser(ctx, id)
			if err != nil {
				return err
			}
			change(&cur)
			return tx.UpdateUser(ctx, &cur)
		})
		if !errors.Is(err, store.ErrConflict) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("update user %s: %w", id, err)
	}
	return nil
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
