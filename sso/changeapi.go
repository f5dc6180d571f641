package sso

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// Outcomes of ChangeOwnPassword, told apart with errors.Is (and
// RefusalMessage for a refused new password).
var (
	// ErrWrongPassword is a wrong current password. A locked account gets
	// the same answer, as on the change form; the error's text (for the
	// audit log) says which.
	ErrWrongPassword = errWrongOld
	// ErrThrottled is the per-address throttle refusing the attempt.
	ErrThrottled = errors.New("too many attempts from this address; wait a minute and try again")
	// ErrChangeUnavailable is a change that reached no verdict: the store
	// or the user's directory did not answer. Nothing was counted.
	ErrChangeUnavailable = errors.New("password change is temporarily unavailable")
)

// RefusalMessage returns the readable reason when err is a new password
// refused by the local password policy or by the user's directory.
func RefusalMessage(err error) (string, bool) {
	var pr *policyRefusal
	if errors.As(err, &pr) {
		return capitalise(pr.msg), true
	}
	return "", false
}

// DirectoryAccount is the account u's directory knows u by: the name
// (sAMAccountName, else the username, else the UPN) and u's anchor, as
// sign-in and change use it.
func DirectoryAccount(u store.User) directory.Account { return directoryAccount(u) }

// ChangeOwnPassword is the self-service change for a caller another
// surface has authenticated (the admin API's bearer token), with what the
// change form does: the per-address throttle, the current password
// checked and counted toward lock-out like a sign-in, then the local
// policy and hash, or the write to the user's directory as the user. It
// writes no audit record: the caller does, with its own context.
func (s *Service) ChangeOwnPassword(ctx context.Context, userID, oldPassword, newPassword string, ip netip.Addr) error {
	if !s.throttle.allow(ip) {
		return ErrThrottled
	}
	u, err := s.store.GetUser(ctx, userID)
	if err != nil {
		return fmt.Errorf("%w: read user %s: %w", ErrChangeUnavailable, userID, err)
	}
	err = s.chg.changePassword(ctx, u, oldPassword, newPassword)
	if _, refused := RefusalMessage(err); err == nil || refused || errors.Is(err, errWrongOld) {
		if err == nil {
			// An API caller holds no browser session to keep: every
			// session opened with the old password ends.
			n, endErr := s.sess.endSessionsOf(ctx, u.ID, "", nil)
			if endErr != nil {
				s.log.Error("password change: end sessions", zap.String("user", u.Username), zap.Error(endErr))
			}
			s.log.Info("password changed", zap.String("user", u.Username), zap.Bool("self_service", true), zap.String("via", "api"), zap.Int("sessions_ended", n))
		}
		return err
	}
	return fmt.Errorf("%w: %w", ErrChangeUnavailable, err)
}
