package ldap

import (
	"context"
	"errors"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"
	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/sync/directory"
)

// controlRelax is the Relax Rules control (draft-zeilenga-ldap-relax):
// OpenLDAP needs it to write pwdReset, which is NO-USER-MODIFICATION.
const controlRelax = "1.3.6.1.4.1.4203.666.5.12"

// ResetPassword is an administrator's reset of acct's password, done as
// the service account; no old password is needed. Only the entry carrying
// acct.Anchor is reset: a name that now belongs to another object is
// directory.ErrNoSuchUser.
//
// AD: unicodePwd is replaced over LDAPS or StartTLS (the service account
// needs the Reset Password right), and with mustChange pwdLastSet is set to
// 0 in the same request, so both happen or neither does.
//
// Generic LDAP: the Password Modify extended operation (RFC 3062) as the
// bind DN. With mustChange, pwdReset must end up TRUE: unless the directory
// has set it already, it is written with the Relax control, which OpenLDAP
// allows only with manage rights (the rootdn, or an ACL granting manage).
// When that is refused the password stays reset and the error wraps
// directory.ErrMustChangeNotSet.
//
// Errors: directory.ErrPasswordPolicy (with the directory's words) for a
// refused password, directory.ErrNoSuchUser,
// directory.ErrInsecureConnection, directory.ErrUnavailable for an outage;
// anything else is the directory's refusal (rights, say).
func (s *Source) ResetPassword(ctx context.Context, acct directory.Account, newPassword string, mustChange bool) error {
	username := acct.Login
	if newPassword == "" {
		return s.errf("reset password %q: %w: empty password", username, directory.ErrPasswordPolicy)
	}
	c, server, err := s.serviceConn(ctx)
	if err != nil {
		return s.errf("reset password %q: %w", username, err)
	}
	defer closeOnCancel(ctx, c)()
	if !s.secure(server) {
		return s.errf("reset password %q: %w", username, directory.ErrInsecureConnection)
	}
	sr := &searcher{s: s, c: c}
	e, err := s.findUser(ctx, sr, acct, false)
	if err != nil {
		return s.errf("reset password %q: %w", username, err)
	}
	if e == nil {
		return s.errf("reset password %q: %w", username, directory.ErrNoSuchUser)
	}

	if s.cfg.Kind == KindAD {
		req := goldap.NewModifyRequest(e.DN, nil)
		req.Replace("unicodePwd", []string{encodeUnicodePwd(newPassword)})
		if mustChange {
			// After the password in the same request: setting a password
			// sets pwdLastSet to now, and 0 must win.
			req.Replace("pwdLastSet", []string{"0"})
		}
		if err := classifyReset(c.Modify(req)); err != nil {
			return s.errf("reset password %q: %w", username, err)
		}
		s.log.Info("directory password reset", zap.String("user", username), zap.Bool("must_change", mustChange))
		return nil
	}

	pm, ok := c.(passwordModifier)
	if !ok {
		return s.errf("reset password %q: connection cannot send Password Modify", username)
	}
	if _, err := pm.PasswordModify(goldap.NewPasswordModifyRequest(e.DN, "", newPassword)); err != nil {
		return s.errf("reset password %q: %w", username, classifyReset(err))
	}
	s.log.Info("directory password reset", zap.String("user", username), zap.Bool("must_change", mustChange))
	if !mustChange {
		return nil
	}
	if err := s.markReset(ctx, sr, c, e.DN); err != nil {
		s.log.Warn("directory password reset without must-change", zap.String("user", username), zap.Error(err))
		return s.errf("reset password %q: %w: %w", username, directory.ErrMustChangeNotSet, err)
	}
	return nil
}

// classifyReset is classifyPasswordChange for a reset, where "invalid
// credentials" cannot mean a wrong old password (there is none): it would
// be the service account's own bind, so it is not reported as the user's.
func classifyReset(err error) error {
	err2 := classifyPasswordChange(err)
	if errors.Is(err2, directory.ErrInvalidCredentials) {
		return err
	}
	return err2
}

// markReset makes sure dn's pwdReset is TRUE after a Password Modify.
func (s *Source) markReset(ctx context.Context, sr *searcher, c conn, dn string) error {
	e, err := sr.base(ctx, dn, []string{"pwdReset"})
	if err != nil {
		return err
	}
	if e != nil && strings.EqualFold(e.GetAttributeValue("pwdReset"), "TRUE") {
		// The directory's own policy did it.
		return nil
	}
	req := goldap.NewModifyRequest(dn, []goldap.Control{goldap.NewControlString(controlRelax, true, "")})
	req.Replace("pwdReset", []string{"TRUE"})
	return c.Modify(req)
}
