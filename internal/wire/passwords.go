package wire

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/sso"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/directory"
	"github.com/dirbridge/dirbridge/sync/ldap"
)

// AdminPasswords is the admin API's admin.PasswordChanger: the caller's
// own change goes through the sign-in service (the change form's checks,
// lock-out and writes), a directory user's reset through its directory's
// source as the service account. It translates their errors into admin's,
// so admin depends on neither sso nor sync/ldap.
func AdminPasswords(signin *sso.Service, sources map[string]*ldap.Source) admin.PasswordChanger {
	return adminPasswords{signin: signin, sources: sources}
}

type adminPasswords struct {
	signin  *sso.Service
	sources map[string]*ldap.Source
}

func (p adminPasswords) ChangeOwnPassword(ctx context.Context, userID, oldPassword, newPassword string, ip netip.Addr) error {
	err := p.signin.ChangeOwnPassword(ctx, userID, oldPassword, newPassword, ip)
	if msg, ok := sso.RefusalMessage(err); ok {
		return &admin.PasswordRefusedError{Message: msg}
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sso.ErrWrongPassword):
		return fmt.Errorf("%w: %w", admin.ErrWrongPassword, err)
	case errors.Is(err, sso.ErrThrottled):
		return admin.ErrThrottled
	}
	return fmt.Errorf("%w: %w", admin.ErrPasswordUnavailable, err)
}

func (p adminPasswords) ResetDirectoryPassword(ctx context.Context, u store.User, newPassword string, mustChange bool) error {
	if u.Source == store.SourceIdP {
		// No local password either: the IdP's factors are the only way in.
		return &admin.PasswordRefusedError{Message: "This user exists only through the identity provider and gets no password here."}
	}
	src := p.sources[u.Source]
	if src == nil {
		return fmt.Errorf("%w: %q", admin.ErrNoDirectory, u.Source)
	}
	err := src.ResetPassword(ctx, sso.DirectoryAccount(u), newPassword, mustChange)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, directory.ErrPasswordPolicy):
		return &admin.PasswordRefusedError{Message: policyMessage(err)}
	case errors.Is(err, directory.ErrMustChangeNotSet):
		return fmt.Errorf("%w: %w", admin.ErrMustChangeNotSet, err)
	case errors.Is(err, directory.ErrNoSuchUser):
		return fmt.Errorf("%w: %w", admin.ErrNotInDirectory, err)
	case errors.Is(err, directory.ErrUnavailable):
		return fmt.Errorf("%w: %w", admin.ErrPasswordUnavailable, err)
	}
	return err
}

// policyMessage is the directory's refusal without the source's prefix
// (directory, operation, user): "New password refused by the directory's
// policy: ...".
func policyMessage(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, directory.ErrPasswordPolicy.Error()); i >= 0 {
		msg = msg[i:]
	}
	return strings.ToUpper(msg[:1]) + msg[1:]
}
