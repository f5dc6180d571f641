package kerberos

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/dirbridge/dirbridge/store"
)

// Users is what resolution reads (store.Store satisfies it). Errors other
// than store.ErrNotFound are outages.
type Users interface {
	GetUser(ctx context.Context, id string) (store.User, error)
	FindUsers(ctx context.Context, key store.UserKey, value string) ([]store.User, error)
	GetIdPLink(ctx context.Context, issuer, subject string) (store.IdPLink, error)
	ListIdPLinks(ctx context.Context, userID string) ([]store.IdPLink, error)
}

// How a client principal finds its local user, in order:
//
//  1. The SID from a verified PAC, when an earlier Kerberos sign-in bound
//     it to a user (an IdP link with issuer "kerberos:REALM"): a renamed
//     account still resolves. The store does not keep AD's objectSid, so
//     the first sign-in matches by name (below) and binds the SID then.
//  2. The UPN — the PAC's, else name@REALM — among the users of the
//     realm's directory (store.User.Source).
//  3. The sAMAccountName — the PAC's, else the principal's name — among
//     the same users.
//
// Only the realm's own directory is searched: a local user or a user of
// another directory who happens to share the name is never matched. A
// name match whose user is bound to another SID is refused (a deleted and
// re-created account of the same name is another person). A matched user
// who is not active is refused as disabled.

// resolve finds the local user of t; key says what matched.
func resolve(ctx context.Context, users Users, realms map[string]string, t Ticket) (store.User, string, *Refusal) {
	ref := func(code, format string, args ...any) *Refusal {
		return &Refusal{Code: code, Principal: t.Principal(), Detail: fmt.Sprintf(format, args...)}
	}
	dir := realms[strings.ToUpper(t.Realm)]
	if t.SID != "" {
		l, err := users.GetIdPLink(ctx, issuer(t.Realm), t.SID)
		switch {
		case err == nil:
			u, err := users.GetUser(ctx, l.UserID)
			if err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return store.User{}, "", ref(CodeUnknownUser, "SID %s is linked to a user who no longer exists", t.SID)
				}
				return store.User{}, "", ref(CodeUnavailable, "read linked user: %v", err)
			}
			if u.State != store.StateActive {
				return store.User{}, "", ref(CodeDisabled, "%s is %s (%s)", u.Username, u.State, u.DeactivatedReason)
			}
			return u, "sid", nil
		case !errors.Is(err, store.ErrNotFound):
			return store.User{}, "", ref(CodeUnavailable, "read IdP link: %v", err)
		}
	}
	upn := firstNonEmpty(t.UPN, t.Name+"@"+t.Realm)
	sam := firstNonEmpty(t.SAM, t.Name)
	for _, try := range []struct {
		key   store.UserKey
		value string
	}{{store.KeyUPN, upn}, {store.KeySAM, sam}} {
		found, err := users.FindUsers(ctx, try.key, try.value)
		if err != nil {
			return store.User{}, "", ref(CodeUnavailable, "find user by %s: %v", try.key, err)
		}
		var active, inactive []store.User
		for _, u := range found {
			if u.Source != dir {
				continue
			}
			if try.key == store.KeySAM && !strings.EqualFold(u.SAMAccountName, try.value) {
				continue // the store may compare this key case-sensitively or not
			}
			if u.State == store.StateActive {
				active = append(active, u)
			} else {
				inactive = append(inactive, u)
			}
		}
		switch {
		case len(active) > 1:
			return store.User{}, "", ref(CodeAmbiguous, "%s %q names %d active users of directory %s", try.key, try.value, len(active), dir)
		case len(active) == 1:
			u := active[0]
			if r := sidConflict(ctx, users, t, u); r != nil {
				return store.User{}, "", r
			}
			return u, string(try.key), nil
		case len(inactive) > 0:
			u := inactive[0]
			return store.User{}, "", ref(CodeDisabled, "%s is %s (%s)", u.Username, u.State, u.DeactivatedReason)
		}
	}
	return store.User{}, "", ref(CodeUnknownUser, "no user of directory %s has UPN %q or sAMAccountName %q", dir, upn, sam)
}

// sidConflict refuses a name match whose user is bound to another SID of
// the realm.
func sidConflict(ctx context.Context, users Users, t Ticket, u store.User) *Refusal {
	if t.SID == "" {
		return nil
	}
	links, err := users.ListIdPLinks(ctx, u.ID)
	if err != nil {
		return &Refusal{Code: CodeUnavailable, Principal: t.Principal(), Detail: fmt.Sprintf("read IdP links: %v", err)}
	}
	for _, l := range links {
		if l.Issuer == issuer(t.Realm) && l.Subject != t.SID {
			return &Refusal{Code: CodeSIDChanged, Principal: t.Principal(),
				Detail: fmt.Sprintf("%s is bound to SID %s, the ticket carries %s", u.Username, l.Subject, t.SID)}
		}
	}
	return nil
}
