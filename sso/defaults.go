package sso

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/dirbridge/dirbridge/store"
)

// Built-in privileges sign-in checks itself.
const (
	PrivBypassSSO    = "bypass_sso"
	PrivPrivilegedIP = "privileged_ip_access"
)

// storePrivileges is the fallback PrivilegeResolver: a user's custom
// privileges, else their profile's. The daemon wires the privilege
// package's Effective instead; this keeps sso usable on its own.
type storePrivileges struct{ st store.Store }

func (p storePrivileges) Effective(ctx context.Context, u store.User) ([]string, error) {
	var privs []string
	switch {
	case u.CustomPrivileges != nil:
		privs = slices.Clone(u.CustomPrivileges)
	case u.Profile != "":
		prof, err := p.st.GetProfile(ctx, u.Profile)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("profile %q: %w", u.Profile, err)
		}
		privs = slices.Clone(prof.Privileges)
	}
	slices.Sort(privs)
	return slices.Compact(privs), nil
}

// defaultRules is the fallback password policy: the seed products' "longer
// than 8 characters", no history, no expiry.
type defaultRules struct{}

func (defaultRules) Check(_ store.User, pw string) error {
	if utf8.RuneCountInString(pw) < 9 {
		return errors.New("the password must be at least 9 characters long")
	}
	return nil
}
func (defaultRules) Describe() []string                        { return []string{"At least 9 characters."} }
func (defaultRules) History() int                              { return 0 }
func (defaultRules) ExpiresAt(store.User, time.Time) time.Time { return time.Time{} }
