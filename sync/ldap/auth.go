package ldap

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"
	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/sync/directory"
)

var adSubcodes = map[string]error{
	"52e": directory.ErrInvalidCredentials,
	"525": directory.ErrInvalidCredentials, // no such user: told as a wrong password
	"530": directory.ErrLogonTimeRestricted,
	"531": directory.ErrWorkstationRestricted,
	"532": directory.ErrPasswordExpired,
	"533": directory.ErrAccountDisabled,
	"701": directory.ErrAccountExpired,
	"773": directory.ErrMustChangePassword,
	"775": directory.ErrAccountLocked,
}

// classifyBind turns a user bind's error into the package's outcomes.
func classifyBind(err error) error {
	if err == nil {
		return nil
	}
	if isNetworkError(err) {
		return fmt.Errorf("%w: %w", directory.ErrUnavailable, err)
	}
	if goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) {
		if sentinel, ok := adSubcodes[errSubcode(err)]; ok {
			return sentinel
		}
		// Generic LDAP (and AD without a sub-code): a wrong password.
		return directory.ErrInvalidCredentials
	}
	return err
}

// findUser looks an account up by sign-in name with the service account:
// sAMAccountName or userPrincipalName on AD, uid or mail on generic LDAP.
// With an anchor, only the entry carrying it counts: after a rename or a
// reused name the name can belong to another object, which is then treated
// as unknown (nil, nil) rather than bound or reset.
func (s *Source) findUser(ctx context.Context, sr *searcher, acct directory.Account, withMemberOf bool) (*goldap.Entry, error) {
	sc := s.schema()
	esc := goldap.EscapeFilter(acct.Login)
	var f string
	if s.cfg.Kind == KindAD {
		f = "(&" + sc.userFilter + "(|(sAMAccountName=" + esc + ")(userPrincipalName=" + esc + ")))"
	} else {
		f = "(&" + sc.userFilter + "(|(uid=" + esc + ")(mail=" + esc + ")))"
	}
	var found []*goldap.Entry
	err := sr.paged(ctx, "user lookup", s.cfg.UserBaseDN, f, s.userAttrs(withMemberOf), func(e *goldap.Entry) error {
		if acct.Anchor != "" {
			a, err := s.anchorOf(e, sc)
			if err != nil || !strings.EqualFold(a, acct.Anchor) {
				s.log.Warn("sign-in name belongs to another directory object than the user's anchor",
					zap.String("user", acct.Login), zap.String("anchor", acct.Anchor), zap.String("found", a), zap.String("dn", e.DN))
				return nil
			}
		}
		found = append(found, e)
		if len(found) > 1 {
			return errStop
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		return found[0], nil
	default:
		return nil, fmt.Errorf("user %q: more than one entry matches", acct.Login)
	}
}

// Authenticate checks acct's password with a simple bind as the user on a
// fresh connection (the service account finds the user first). Only the
// entry carrying acct.Anchor is bound: a name that now belongs to another
// object answers as an unknown user.
//
// Errors: directory.ErrInvalidCredentials for a wrong password or an
// unknown user; directory.ErrPasswordExpired, directory.ErrAccountDisabled,
// directory.ErrAccountExpired, directory.ErrMustChangePassword,
// directory.ErrAccountLocked, directory.ErrLogonTimeRestricted,
// directory.ErrWorkstationRestricted for AD's refusals of a correct
// password; anything else (wrapping directory.ErrUnavailable for an outage)
// is not the user's fault and must not count toward lock-out. Check with
// errors.Is.
func (s *Source) Authenticate(ctx context.Context, acct directory.Account, password string) (directory.User, error) {
	username := acct.Login
	if password == "" || username == "" {
		// An empty password makes a simple bind "unauthenticated" and
		// succeed (RFC 4513 5.1.2): never let it through.
		return directory.User{}, directory.ErrInvalidCredentials
	}
	c, server, err := s.serviceConn(ctx)
	if err != nil {
		return directory.User{}, s.errf("authenticate %q: %w", username, err)
	}
	defer closeOnCancel(ctx, c)()
	if !s.secure(server) && !s.cfg.AllowPlainPassthrough {
		return directory.User{}, s.errf("authenticate %q: %w", username, directory.ErrInsecureConnection)
	}
	sr := &searcher{s: s, c: c}
	e, err := s.findUser(ctx, sr, acct, true)
	if err != nil {
		return directory.User{}, s.errf("authenticate %q: %w", username, err)
	}
	if e == nil {
		s.log.Debug("sign-in for unknown user", zap.String("user", username))
		return directory.User{}, directory.ErrInvalidCredentials
	}
	uc, err := s.dial(ctx, server, dialFull)
	if err != nil {
		return directory.User{}, s.errf("authenticate %q: %w", username, err)
	}
	defer closeOnCancel(ctx, uc)()
	if err := classifyBind(uc.Bind(e.DN, password)); err != nil {
		if errors.Is(err, directory.ErrInvalidCredentials) {
			return directory.User{}, err
		}
		return directory.User{}, s.errf("authenticate %q: %w", username, err)
	}
	u, err := s.toUser(e, s.schema())
	if err != nil {
		return directory.User{}, s.errf("authenticate %q: %w", username, err)
	}
	// Sign-in uses the expiry the sync stored; no policy is read here.
	s.takePolicyDN(&u)
	// Direct group DNs for the sign-in's Identity; the imported groups'
	// anchors (User.Groups) are the sync's business.
	if mo := e.GetAttributeValues("memberOf"); len(mo) > 0 {
		if u.Attributes == nil {
			u.Attributes = map[string][]string{}
		}
		u.Attributes["memberOf"] = mo
	}
	return u, nil
}

// LookupAccount reads acct's entry as the service account: the live state
// (disabled, account expiry, names) for a sign-in that proves no password
// to the directory, such as a client certificate. Only the entry carrying
// acct.Anchor counts.
//
// Errors: directory.ErrNoSuchUser when no entry (with that anchor) has the
// name; directory.ErrUnavailable (wrapped) for an outage.
func (s *Source) LookupAccount(ctx context.Context, acct directory.Account) (directory.User, error) {
	if acct.Login == "" {
		return directory.User{}, directory.ErrNoSuchUser
	}
	c, _, err := s.serviceConn(ctx)
	if err != nil {
		return directory.User{}, s.errf("look up %q: %w", acct.Login, err)
	}
	defer closeOnCancel(ctx, c)()
	sr := &searcher{s: s, c: c}
	e, err := s.findUser(ctx, sr, acct, false)
	if err != nil {
		return directory.User{}, s.errf("look up %q: %w", acct.Login, err)
	}
	if e == nil {
		return directory.User{}, s.errf("look up %q: %w", acct.Login, directory.ErrNoSuchUser)
	}
	sc := s.schema()
	u, err := s.toUser(e, sc)
	if err != nil {
		return directory.User{}, s.errf("look up %q: %w", acct.Login, err)
	}
	s.takePolicyDN(&u)
	if s.cfg.DisabledFilter != "" && !u.Disabled {
		// As the read decides it: the entry matches the disabled filter.
		f := "(&" + sc.userFilter + s.cfg.DisabledFilter + ")"
		err := sr.paged(ctx, "disabled check", e.DN, f, []string{"1.1"}, func(*goldap.Entry) error {
			u.Disabled = true
			return nil
		})
		if err != nil {
			return directory.User{}, s.errf("look up %q: disabled check: %w", acct.Login, err)
		}
	}
	return u, nil
}

// ChangePassword is the user's own change: the old password is required.
// AD: unicodePwd delete(old)/add(new), done with the service account's
// connection so a user whose password has expired (and so cannot bind) can
// still change it — AD checks the old value itself. Generic LDAP: the
// Password Modify extended operation, bound as the user.
//
// Errors: directory.ErrInvalidCredentials for a wrong old password,
// directory.ErrPasswordPolicy (with the directory's words) for a refused
// new one.
func (s *Source) ChangePassword(ctx context.Context, acct directory.Account, oldPassword, newPassword string) error {
	if oldPassword == "" {
		return directory.ErrInvalidCredentials
	}
	return s.changePassword(ctx, acct, oldPassword, newPassword, false)
}

// SetPassword is an administrator's reset, done as the service account
// (which needs the right to reset passwords). Errors as ChangePassword.
func (s *Source) SetPassword(ctx context.Context, acct directory.Account, newPassword string) error {
	return s.changePassword(ctx, acct, "", newPassword, true)
}

func (s *Source) changePassword(ctx context.Context, acct directory.Account, oldPassword, newPassword string, reset bool) error {
	username := acct.Login
	what := "change password"
	if reset {
		what = "reset password"
	}
	if newPassword == "" {
		return s.errf("%s %q: %w: empty password", what, username, directory.ErrPasswordPolicy)
	}
	c, server, err := s.serviceConn(ctx)
	if err != nil {
		return s.errf("%s %q: %w", what, username, err)
	}
	defer closeOnCancel(ctx, c)()
	if !s.secure(server) {
		return s.errf("%s %q: %w", what, username, directory.ErrInsecureConnection)
	}
	sr := &searcher{s: s, c: c}
	e, err := s.findUser(ctx, sr, acct, false)
	if err != nil {
		return s.errf("%s %q: %w", what, username, err)
	}
	if e == nil {
		if reset {
			return s.errf("%s %q: no such user", what, username)
		}
		return directory.ErrInvalidCredentials
	}
	if s.cfg.Kind == KindAD {
		req := goldap.NewModifyRequest(e.DN, nil)
		if reset {
			req.Replace("unicodePwd", []string{encodeUnicodePwd(newPassword)})
		} else {
			req.Delete("unicodePwd", []string{encodeUnicodePwd(oldPassword)})
			req.Add("unicodePwd", []string{encodeUnicodePwd(newPassword)})
		}
		if err := classifyPasswordChange(c.Modify(req)); err != nil {
			if errors.Is(err, directory.ErrInvalidCredentials) {
				return err
			}
			return s.errf("%s %q: %w", what, username, err)
		}
		s.log.Info("directory password changed", zap.String("user", username), zap.Bool("reset", reset))
		return nil
	}
	pc := c
	if !reset {
		uc, err := s.dial(ctx, server, dialFull)
		if err != nil {
			return s.errf("%s %q: %w", what, username, err)
		}
		defer closeOnCancel(ctx, uc)()
		if err := classifyBind(uc.Bind(e.DN, oldPassword)); err != nil {
			if errors.Is(err, directory.ErrInvalidCredentials) {
				return err
			}
			return s.errf("%s %q: %w", what, username, err)
		}
		pc = uc
	}
	pm, ok := pc.(passwordModifier)
	if !ok {
		return s.errf("%s %q: connection cannot send Password Modify", what, username)
	}
	if _, err := pm.PasswordModify(goldap.NewPasswordModifyRequest(e.DN, oldPassword, newPassword)); err != nil {
		if err := classifyPasswordChange(err); errors.Is(err, directory.ErrInvalidCredentials) {
			return err
		} else {
			return s.errf("%s %q: %w", what, username, err)
		}
	}
	s.log.Info("directory password changed", zap.String("user", username), zap.Bool("reset", reset))
	return nil
}

// classifyPasswordChange turns a directory's refusal into a readable error.
// AD answers 0000052D (constraint violation) for complexity, length,
// history and minimum age, and 00000056 for a wrong old password.
func classifyPasswordChange(err error) error {
	if err == nil {
		return nil
	}
	if isNetworkError(err) {
		return fmt.Errorf("%w: %w", directory.ErrUnavailable, err)
	}
	var le *goldap.Error
	if !errors.As(err, &le) {
		return err
	}
	msg := ""
	if le.Err != nil {
		msg = le.Err.Error()
	}
	upper := strings.ToUpper(msg)
	switch {
	case strings.Contains(upper, "00000056") || le.ResultCode == goldap.LDAPResultInvalidCredentials:
		return directory.ErrInvalidCredentials
	case strings.Contains(upper, "0000052D"):
		return fmt.Errorf("%w: the new password does not meet the length, complexity or history requirements, or the password was changed too recently", directory.ErrPasswordPolicy)
	case le.ResultCode == goldap.LDAPResultConstraintViolation, le.ResultCode == goldap.LDAPResultUnwillingToPerform:
		if msg == "" {
			msg = goldap.LDAPResultCodeMap[le.ResultCode]
		}
		return fmt.Errorf("%w: %s", directory.ErrPasswordPolicy, msg)
	case le.ResultCode == goldap.LDAPResultInsufficientAccessRights:
		return fmt.Errorf("not allowed to change this password: %w", err)
	}
	return err
}

// GroupInfo describes a directory group for choosing what to import.
type GroupInfo struct {
	Name        string `json:"name"`
	DN          string `json:"dn"`
	Anchor      string `json:"anchor"`
	MemberCount int    `json:"member_count"` // direct members (on AD with those whose primary group it is)
}

// ListGroups lists the directory's groups whose name contains search (all
// groups when search is empty), sorted by name, for
// `dirbridge directory groups`.
func (s *Source) ListGroups(ctx context.Context, search string) ([]GroupInfo, error) {
	c, _, err := s.serviceConn(ctx)
	if err != nil {
		return nil, s.errf("list groups: %w", err)
	}
	defer closeOnCancel(ctx, c)()
	sc := s.schema()
	sr := &searcher{s: s, c: c}
	f := sc.groupFilter
	if search != "" {
		var ors strings.Builder
		for _, a := range sc.nameAttrs {
			ors.WriteString("(" + a + "=*" + goldap.EscapeFilter(search) + "*)")
		}
		f = "(&" + f + "(|" + ors.String() + "))"
	}
	var out []GroupInfo
	var partial []int
	var entries []*goldap.Entry
	err = sr.paged(ctx, "list groups", s.cfg.GroupBaseDN, f, s.groupAttrs(sc, true), func(e *goldap.Entry) error {
		g, incomplete, err := s.readGroupEntry(e, sc)
		if err != nil {
			return err
		}
		if incomplete {
			partial = append(partial, len(out))
			entries = append(entries, e)
		}
		out = append(out, GroupInfo{Name: g.name, DN: g.dn, Anchor: g.anchor, MemberCount: len(g.members)})
		return nil
	})
	if err != nil {
		return nil, s.errf("list groups: %w", err)
	}
	for j, i := range partial {
		g := &groupRec{dn: entries[j].DN}
		if err := sr.completeMembers(ctx, g, sc); err != nil {
			return nil, s.errf("list groups: %w", err)
		}
		out[i].MemberCount = len(g.members)
	}
	if err := sr.addPrimaryCounts(ctx, sc, f, out); err != nil {
		return nil, s.errf("list groups: %w", err)
	}
	slices.SortFunc(out, func(a, b GroupInfo) int {
		return cmp.Or(strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)), strings.Compare(a.DN, b.DN))
	})
	return out, nil
}
