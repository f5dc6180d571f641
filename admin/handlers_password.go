package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"time"

	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/store"
)

// Error codes of the password endpoints (see errors.go for the others).
const (
	CodeWrongPassword  = "wrong_password"  // the caller's current password is wrong
	CodePasswordPolicy = "password_policy" // a rule or the directory refused the new password
	CodeThrottled      = "throttled"       // too many attempts from the caller's address
	CodeDirectory      = "directory_error" // the directory refused for another reason
)

// PasswordChanger writes passwords the admin API cannot write to the
// store alone. The sign-in service implements it (internal/wire), so a
// change by API checks and counts exactly as the change form does.
type PasswordChanger interface {
	// ChangeOwnPassword is userID's own change, from ip: the current
	// password is checked and counted toward lock-out like a sign-in, then
	// the local password policy applies, or the user's directory takes the
	// new password as a change made by the user.
	ChangeOwnPassword(ctx context.Context, userID, oldPassword, newPassword string, ip netip.Addr) error
	// ResetDirectoryPassword writes a directory user's new password with
	// the directory's service account (no old password); mustChange asks
	// the directory for a change at the next sign-in.
	ResetDirectoryPassword(ctx context.Context, u store.User, newPassword string, mustChange bool) error
}

// Errors a PasswordChanger returns, wrapped as it likes; the handlers tell
// them apart with errors.Is and errors.As. Anything else from a directory
// reset is the directory's refusal (502); from a change, our failure.
var (
	ErrWrongPassword = errors.New("wrong current password")
	ErrThrottled     = errors.New("too many attempts from this address")
	// ErrPasswordUnavailable: no verdict, the store or directory did not
	// answer; the caller may retry.
	ErrPasswordUnavailable = errors.New("password change unavailable")
	// ErrNotInDirectory: the user's directory has no entry for them.
	ErrNotInDirectory = errors.New("user not found in the directory")
	// ErrNoDirectory: the user's directory is not configured here.
	ErrNoDirectory = errors.New("directory not configured")
	// ErrMustChangeNotSet: the password was reset, but the directory did
	// not record the must-change the caller asked for. Not a failure.
	ErrMustChangeNotSet = errors.New("the directory did not record that the password must be changed")
)

// PasswordRefusedError is a new password refused by the local password
// policy or by the directory; Message is meant for the person.
type PasswordRefusedError struct{ Message string }

func (e *PasswordRefusedError) Error() string { return e.Message }

// passwordErr turns a PasswordChanger's error into the API's answer; field
// names the new password's input.
func (s *Server) passwordErr(w http.ResponseWriter, c *caller, err error, field string) error {
	var refused *PasswordRefusedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &refused):
		e := errf(http.StatusUnprocessableEntity, CodePasswordPolicy, "%s", refused.Message)
		e.E.Field = field
		return e
	case errors.Is(err, ErrWrongPassword):
		// The audit record keeps what the answer does not say (a lock).
		c.detail("check", err.Error())
		e := errf(http.StatusForbidden, CodeWrongPassword, "the current password is incorrect")
		e.E.Field = "old_password"
		return e
	case errors.Is(err, ErrThrottled):
		w.Header().Set("Retry-After", "60")
		return errf(http.StatusTooManyRequests, CodeThrottled, "too many attempts from your address; wait a minute and try again")
	case errors.Is(err, ErrNotInDirectory):
		return errf(http.StatusNotFound, CodeNotFound, "the user's directory has no such user")
	case errors.Is(err, ErrNoDirectory):
		return errf(http.StatusConflict, CodeConflict, "the user's directory is not configured here")
	case errors.Is(err, ErrPasswordUnavailable), errors.Is(err, context.DeadlineExceeded):
		s.log.Error("password change unavailable", zap.String("user", c.target), zap.Error(err))
		return errf(http.StatusServiceUnavailable, CodeUnavailable, "password change is temporarily unavailable; retry later")
	case errors.Is(err, context.Canceled):
		return err
	}
	return nil
}

// handleChangeOwnPassword is POST /api/v1/me/password: the caller changes
// its own password, the current one required.
func (s *Server) handleChangeOwnPassword(w http.ResponseWriter, r *http.Request, c *caller) error {
	c.target = "user:" + c.User.Username
	c.detail("self_service", true)
	c.detail("source", c.User.Source)
	var in PasswordChangeRequest
	if err := decodeJSON(w, r, s.maxBody, &in); err != nil {
		return err
	}
	switch {
	case in.OldPassword == "":
		return fieldErr("old_password", "old_password is required")
	case in.NewPassword == "":
		return fieldErr("new_password", "new_password is required")
	case in.NewPassword == in.OldPassword:
		return fieldErr("new_password", "the new password must differ from the current one")
	}
	if s.passwords == nil {
		return errf(http.StatusNotImplemented, CodeNotImplemented, "password change is not available on this server")
	}
	ctx := r.Context()
	ip, _ := netip.ParseAddr(c.IP)
	err := s.passwords.ChangeOwnPassword(ctx, c.User.ID, in.OldPassword, in.NewPassword, ip)
	if err != nil {
		if aerr := s.passwordErr(w, c, err, "new_password"); aerr != nil {
			return aerr
		}
		return fmt.Errorf("change password of %s: %w", c.User.Username, err)
	}
	// The change is written (in the store or the directory); its record
	// follows in a transaction of its own.
	if err := s.auditFailure(ctx, c, "user.password_change", store.OutcomeSuccess, "password changed"); err != nil {
		s.log.Error("write audit event", zap.String("action", "user.password_change"), zap.Error(err))
	}
	c.audited = true
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// resetDirectoryPassword is POST /api/v1/users/{id}/password for a
// directory user: the new password goes to the directory as the service
// account, then the stored user records the change. The caller has been
// authorized for u already.
func (s *Server) resetDirectoryPassword(w http.ResponseWriter, r *http.Request, c *caller, u store.User, in PasswordResetRequest) error {
	c.target = "user:" + u.Username
	c.detail("directory", u.Source)
	if s.passwords == nil {
		return errf(http.StatusNotImplemented, CodeNotImplemented, "%s is a directory user from %s, and this server cannot write passwords to directories", u.Username, u.Source)
	}
	mustChange := in.MustChange != nil && *in.MustChange
	generated := in.Password == ""
	pw := in.Password
	if generated {
		var err error
		if pw, err = RandomPassword(20); err != nil {
			return err
		}
	}
	c.detail("generated", generated)
	c.detail("must_change", mustChange)
	ctx := r.Context()
	out := PasswordResetResponse{MustChangePassword: mustChange, Directory: u.Source}
	err := s.passwords.ResetDirectoryPassword(ctx, u, pw, mustChange)
	switch {
	case err == nil:
	case errors.Is(err, ErrMustChangeNotSet):
		s.log.Warn("directory password reset without must-change", zap.String("user", u.Username), zap.Error(err))
		c.detail("must_change_in_directory", false)
		out.Warnings = append(out.Warnings, fmt.Sprintf("%s did not record that the password must be changed (%v); dirbridge asks for a change at the next sign-in here until a sync reads the directory again", u.Source, err))
	default:
		if aerr := s.passwordErr(w, c, err, "password"); aerr != nil {
			return aerr
		}
		s.log.Warn("directory password reset refused", zap.String("user", u.Username), zap.String("directory", u.Source), zap.Error(err))
		return errf(http.StatusBadGateway, CodeDirectory, "%s refused the reset: %v", u.Source, err)
	}
	c.detail("directory_written", true)
	// The directory holds the password now. The stored expiry is stale
	// until the next sync reads the directory: forget it rather than
	// block a sign-in with the new password.
	now := s.now().UTC()
	_, _, err = s.modifyUser(r, c, "user.password_reset", []Action{ActResetPassword}, func(tx store.Tx, cur *store.User) error {
		cur.PasswordChangedAt, cur.PasswordExpiresAt = now, time.Time{}
		cur.MustChangePassword = mustChange
		return nil
	})
	if err != nil {
		s.log.Error("directory password reset: the directory changed, the stored user did not", zap.String("user", u.Username), zap.Error(err))
		return err
	}
	if generated {
		out.Password = pw
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// rememberPassword puts the replaced hash at the front of history and keeps
// at most keep entries, exactly as the sign-in service does on a change:
// the history is newest first and the policy checks only its first keep
// entries, so an old hash at the end would never be checked. With keep 0
// (no history rule) the history is left as it is.
func rememberPassword(history []string, replaced string, keep int) []string {
	if keep <= 0 || replaced == "" {
		return history
	}
	out := append([]string{replaced}, history...)
	return out[:min(keep, len(out))]
}
