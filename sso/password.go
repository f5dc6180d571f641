package sso

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/internal/password"
	"github.com/dirbridge/dirbridge/sso/policy"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// genericFailure is the one answer to a failed password sign-in, whatever
// the cause (unknown user, wrong password, locked, inactive, bypass not
// allowed): an anonymous caller must not learn which accounts exist or
// what state they are in. The audit record says what happened.
const genericFailure = "The user name or password is incorrect."

// verdict is the outcome of checking one password.
type verdict int

const (
	verdictOK          verdict = iota
	verdictWrong               // counted toward lock-out
	verdictLocked              // not checked: the account is locked
	verdictMustChange          // right, but must be changed before use
	verdictRefused             // the directory refused for another reason
	verdictUnavailable         // no verdict: outage, not counted
)

// passwords is password sign-in: the login form, the open and bypass
// paths, the throttle, lock-out and the local or directory check.
type passwords struct {
	*core
	sess *sessions
	fin  *finisher
}

func (ps *passwords) routes(mux *http.ServeMux, cop *http.CrossOriginProtection) {
	mux.HandleFunc("GET /login", ps.handleLoginPage)
	mux.Handle("POST /login", cop.Handler(http.HandlerFunc(ps.handleLoginPost)))
}

// handleLoginPost is password sign-in, on the open path (SSO not
// enforced) and the bypass path (/login?bypass-sso=1 while enforced).
func (ps *passwords) handleLoginPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	username := strings.TrimSpace(r.PostForm.Get("username"))
	pw := r.PostForm.Get("password")
	bypassPath := r.PostForm.Get("bypass-sso") == "1"
	a := &attempt{
		method: MethodPassword, username: username, ip: clientIP(r, ps.opts.TrustedProxies),
		returnTo: SafeReturnTo(r.PostForm.Get("return_to"), ps.allowed), password: true, details: map[string]any{},
	}
	if ps.opts.Enforce {
		if !bypassPath {
			// The enforced login page offers no password form; a post
			// here is a client ignoring that.
			ps.refuse(w, r, a, store.OutcomeDenied, http.StatusForbidden, "password sign-in while SSO is enforced, outside the bypass path",
				"Please sign in with your organisation's single sign-on.")
			return
		}
		a.method, a.bypass = MethodBypass, true
	}
	form := page{Title: "Sign in", ShowPassword: true, Bypass: bypassPath, ReturnTo: a.returnTo, Username: username, Methods: ps.buttons(a.returnTo, bypassPath)}
	if username == "" || pw == "" {
		form.Error = "Enter your user name and password."
		ps.render(w, http.StatusBadRequest, "login", form)
		return
	}
	// Every refusal below is held back to a common duration (timing.go).
	start := time.Now()
	if !ps.throttle.allow(a.ip) {
		ps.audit(r.Context(), ps.auditEvent(a, store.OutcomeDenied, "throttled: too many attempts from this address"))
		ps.countSignIn(r.Context(), a, store.OutcomeDenied)
		ps.log.Warn("sign-in throttled", zap.String("ip", a.ip.String()))
		w.Header().Set("Retry-After", "60")
		form.Error = "Too many sign-in attempts from your network. Please wait a minute and try again."
		ps.render(w, http.StatusTooManyRequests, "login", form)
		return
	}

	fail := func(outcome, reason string) {
		ps.timer.pad(r.Context(), start)
		ps.audit(r.Context(), ps.auditEvent(a, outcome, reason))
		ps.countSignIn(r.Context(), a, outcome)
		ps.log.Warn("sign-in refused", zap.String("method", a.method), zap.String("user", a.username),
			zap.String("ip", a.ip.String()), zap.String("reason", reason))
		form.Error = genericFailure
		ps.render(w, http.StatusUnauthorized, "login", form)
	}
	a.failPassword = fail

	u, err := ps.userForPassword(r.Context(), username)
	if errors.Is(err, errUnknownUser) {
		ps.equaliseTiming(r.Context())
		fail(store.OutcomeFailure, "unknown user")
		return
	}
	if err != nil {
		ps.unavailable(w, r, a, err)
		return
	}
	a.user = u
	if u.State != store.StateActive {
		ps.equaliseTiming(r.Context())
		fail(store.OutcomeDenied, "user inactive")
		return
	}

	if a.bypass && !canBypass(r.Context(), ps.core, u) {
		// Refused before anything is counted or any bind is made: a
		// stranger posting wrong passwords to the bypass path must not
		// lock an account that cannot use it (nor count toward AD's own
		// lock-out). The answer and its timing are a wrong password'ps.
		ps.equaliseTiming(r.Context())
		fail(store.OutcomeDenied, "bypass refused: user lacks bypass_sso")
		return
	}

	v, reason, err := ps.checkPassword(r.Context(), u, pw)
	switch v {
	case verdictUnavailable:
		if errors.Is(err, errDirectoryOutage) {
			ps.directoryOutage(w, r, a, err)
			return
		}
		ps.unavailable(w, r, a, err)
		return
	case verdictWrong:
		fail(store.OutcomeFailure, reason)
		return
	case verdictLocked, verdictRefused:
		fail(store.OutcomeDenied, reason)
		return
	case verdictMustChange:
		a.mustChange = true
		a.details["directory"] = reason
	}

	ps.fin.complete(w, r, a)
}

// userForPassword finds the active or inactive user a sign-in names: by
// username, else (for "name@domain") by UPN, then e-mail.
func (ps *passwords) userForPassword(ctx context.Context, name string) (store.User, error) {
	u, err := ps.store.GetUserByUsername(ctx, name)
	if err == nil {
		return u, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return store.User{}, fmt.Errorf("read user: %w", err)
	}
	if strings.Contains(name, "@") {
		for _, k := range []store.UserKey{store.KeyUPN, store.KeyEmail} {
			users, err := ps.store.FindUsers(ctx, k, name)
			if err != nil {
				return store.User{}, fmt.Errorf("find user by %s: %w", k, err)
			}
			if len(users) == 1 {
				return users[0], nil
			}
		}
	}
	return store.User{}, errUnknownUser
}

// equaliseTiming spends what verifying a real password would, so an
// unknown or locked account answers no faster than a wrong password.
func (ps *passwords) equaliseTiming(ctx context.Context) {
	start := time.Now()
	_ = ps.opts.Hasher.Verify(ctx, ps.dummyHash, "not the password")
	ps.timer.observe(kindLocal, time.Since(start))
}

func canBypass(ctx context.Context, s *core, u store.User) bool {
	if u.Emergency || u.Superuser {
		return true
	}
	privs, err := s.privileges(ctx, u)
	return err == nil && has(privs, PrivBypassSSO)
}

// errLocked aborts the lock-out update of an attempt on a locked account.
var errLocked = errors.New("account locked")

// checkPassword checks one password under the lock-out policy. The attempt
// is counted *before* the password is checked, inside the store's atomic
// update: concurrent attempts from any number of replicas therefore get at
// most max_attempts checks between locks. A right password resets the
// count; an outage gives the attempt back.
func (ps *passwords) checkPassword(ctx context.Context, u store.User, pw string) (verdict, string, error) {
	lo := ps.policies().Lockout
	var lockedNow time.Time
	if lo.MaxAttempts > 0 {
		var lockedUntil time.Time
		now := ps.now()
		stored, err := ps.store.UpdateLockout(ctx, u.ID, func(l store.Lockout) (store.Lockout, error) {
			if policy.IsLocked(l, now) {
				lockedUntil = l.LockedUntil
				return l, errLocked
			}
			return policy.RecordFailure(l, lo, now), nil
		})
		if err == nil && policy.IsLocked(stored, now) {
			// As stored (the store may round times), so a later Equal holds.
			lockedNow = stored.LockedUntil
			// The lock guards the password, and so everything the password
			// opened: sessions begun with it end now. Sessions an IdP began
			// stay, as IdP sign-ins do (a stranger's guesses must not sign
			// the person out of SSO).
			n, err := ps.sess.endSessionsOf(context.WithoutCancel(ctx), u.ID, "", func(sess store.Session) bool {
				return sess.Method == MethodPassword || sess.Method == MethodBypass
			})
			if err != nil {
				ps.log.Error("end password sessions of a locked account", zap.String("user", u.Username), zap.Error(err))
			} else if n > 0 {
				ps.log.Info("locked account's password sessions ended", zap.String("user", u.Username), zap.Int("sessions", n))
			}
		}
		if errors.Is(err, errLocked) {
			ps.equaliseTiming(ctx)
			return verdictLocked, "account locked until " + lockedUntil.UTC().Format(time.RFC3339), nil
		}
		if err != nil {
			return verdictUnavailable, "", fmt.Errorf("count attempt: %w", err)
		}
	}

	v, reason, err := ps.verifyPassword(ctx, u, pw)
	switch v {
	case verdictOK, verdictMustChange:
		ps.resetLockout(ctx, u.ID, lockedNow)
	case verdictWrong:
		if !lockedNow.IsZero() {
			reason += "; account locked until " + lockedNow.UTC().Format(time.RFC3339)
		}
	default:
		ps.giveBackAttempt(ctx, u.ID, lockedNow)
	}
	return v, reason, err
}

// verifyPassword asks the hash or the user's directory.
func (ps *passwords) verifyPassword(ctx context.Context, u store.User, pw string) (verdict, string, error) {
	if u.Source == store.SourceLocal || u.Source == "" {
		if u.PasswordHash == "" {
			ps.equaliseTiming(ctx)
			return verdictWrong, "wrong password (no local password set)", nil
		}
		start := time.Now()
		err := ps.opts.Hasher.Verify(ctx, u.PasswordHash, pw)
		if err == nil || errors.Is(err, password.ErrMismatch) {
			ps.timer.observe(kindLocal, time.Since(start))
		}
		switch {
		case err == nil:
			return verdictOK, "", nil
		case errors.Is(err, password.ErrMismatch):
			return verdictWrong, "wrong password", nil
		default:
			return verdictUnavailable, "", fmt.Errorf("verify local password: %w", err)
		}
	}
	if u.Source == store.SourceIdP {
		ps.equaliseTiming(ctx)
		return verdictRefused, reasonIdPOnly, nil
	}
	dir := ps.opts.Directories[u.Source]
	if dir == nil {
		return verdictRefused, fmt.Sprintf("no password check configured for directory %q", u.Source), nil
	}
	start := time.Now()
	_, err := dir.Authenticate(ctx, directoryAccount(u), pw)
	if !isOutage(err) {
		ps.timer.observe(u.Source, time.Since(start))
	}
	switch {
	case err == nil:
		return verdictOK, "", nil
	case errors.Is(err, directory.ErrInvalidCredentials):
		return verdictWrong, "wrong password (directory)", nil
	case errors.Is(err, directory.ErrPasswordExpired), errors.Is(err, directory.ErrMustChangePassword):
		return verdictMustChange, err.Error(), nil
	case isOutage(err):
		return verdictUnavailable, "", fmt.Errorf("%w: %s: %w", errDirectoryOutage, u.Source, err)
	case errors.Is(err, directory.ErrInsecureConnection):
		// The directory is configured for plain LDAP without
		// allow_plain_passthrough: no password can be checked, which is
		// ours to fix, not every user's wrong password.
		return verdictUnavailable, "", fmt.Errorf("directory %s: %w", u.Source, err)
	default:
		// Disabled, account expired, not permitted now/here, locked in
		// AD: the caller sees the generic failure; the audit gets the why.
		return verdictRefused, "directory refused: " + err.Error(), nil
	}
}

// reasonIdPOnly is the audit reason of every password operation refused to
// a user that exists only through an IdP (store.SourceIdP).
const reasonIdPOnly = "IdP-only user: no local password (signs in through the identity provider)"

// errDirectoryOutage marks a password check that reached no verdict
// because the user's directory could not be asked.
var errDirectoryOutage = errors.New("directory unavailable")

// directoryOutage is unavailable for a directory that did not answer: the
// person sees the same "try again" page, and the audit log says outage —
// an operator reading it must not take it for a fault of ours, nor for a
// wrong password (it did not count toward lock-out).
func (ps *passwords) directoryOutage(w http.ResponseWriter, r *http.Request, a *attempt, err error) {
	ps.log.Error("sign-in failed: directory unavailable", zap.String("directory", a.user.Source), zap.String("user", a.username), zap.Error(err))
	a.details["error"] = err.Error()
	ps.audit(r.Context(), ps.auditEvent(a, store.OutcomeFailure, "directory unavailable: "+a.user.Source))
	ps.countSignIn(r.Context(), a, store.OutcomeFailure)
	ps.render(w, http.StatusServiceUnavailable, "message", page{Title: "Sign-in unavailable",
		Error: "Sign-in is temporarily unavailable. Please try again in a moment.", LoginURL: ps.loginURL(a.returnTo)})
}

// directoryAccount is the account the directory knows the user by: the
// name to search for, and the anchor the found entry must carry (a name
// can be renamed away and reused; the anchor cannot).
func directoryAccount(u store.User) directory.Account {
	return directory.Account{Login: firstNonEmpty(u.SAMAccountName, u.Username, u.UPN), Anchor: u.Anchor}
}

func isOutage(err error) bool {
	var ne net.Error
	return errors.Is(err, directory.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.As(err, &ne)
}

// resetLockout records a right password: the count is cleared. The lock
// this very attempt set (it was counted before the check) is lifted too;
// any other lock stays, as policy.RecordSuccess says.
func (ps *passwords) resetLockout(ctx context.Context, userID string, lockedNow time.Time) {
	if ps.policies().Lockout.MaxAttempts <= 0 {
		return
	}
	_, err := ps.store.UpdateLockout(context.WithoutCancel(ctx), userID, func(l store.Lockout) (store.Lockout, error) {
		if !lockedNow.IsZero() && l.LockedUntil.Equal(lockedNow) {
			l.LockedUntil = time.Time{}
		}
		return policy.RecordSuccess(l, ps.now()), nil
	})
	if err != nil {
		ps.log.Warn("reset lock-out", zap.String("user_id", userID), zap.Error(err))
	}
}

// giveBackAttempt undoes the count of an attempt that reached no verdict
// (a directory outage must not lock anyone out), including the lock it
// set, if any.
func (ps *passwords) giveBackAttempt(ctx context.Context, userID string, lockedNow time.Time) {
	if ps.policies().Lockout.MaxAttempts <= 0 {
		return
	}
	_, err := ps.store.UpdateLockout(context.WithoutCancel(ctx), userID, func(l store.Lockout) (store.Lockout, error) {
		if l.FailedAttempts > 0 {
			l.FailedAttempts--
		}
		if !lockedNow.IsZero() && l.LockedUntil.Equal(lockedNow) {
			l.LockedUntil = time.Time{}
		}
		return l, nil
	})
	if err != nil {
		ps.log.Warn("give back sign-in attempt", zap.String("user_id", userID), zap.Error(err))
	}
}

// buttons lists the SSO methods for the login page.
func (ps *passwords) buttons(returnTo string, bypass bool) []button {
	if bypass && ps.opts.Enforce {
		return nil
	}
	out := make([]button, 0, len(ps.opts.Methods))
	for _, m := range ps.opts.Methods {
		out = append(out, button{Name: m.Name(), URL: m.LoginURL(returnTo)})
	}
	return slices.Clip(out)
}
