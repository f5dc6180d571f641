package mapping

import (
	"fmt"
	"strings"

	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/store"
)

// LinkBy says how an imported user is matched to an existing local user.
type LinkBy string

// Link modes.
const (
	LinkByUsername LinkBy = "username"
	LinkByEmail    LinkBy = "email"
	LinkByNone     LinkBy = "none"
)

// ParseLinkBy parses a link_by setting; empty means username (the default).
func ParseLinkBy(s string) (LinkBy, error) {
	switch LinkBy(strings.ToLower(strings.TrimSpace(s))) {
	case "", LinkByUsername:
		return LinkByUsername, nil
	case LinkByEmail:
		return LinkByEmail, nil
	case LinkByNone:
		return LinkByNone, nil
	}
	return "", fmt.Errorf("link_by %q: want username, email or none", s)
}

// LinkAction is what to do with an imported user that has no local user
// holding its anchor yet.
type LinkAction string

// Link actions.
const (
	// LinkCreate: create a new local user.
	LinkCreate LinkAction = "create"
	// LinkExisting: link the imported entry to the local user UserID.
	LinkExisting LinkAction = "link"
	// LinkAlready: a local user already holds this directory and anchor.
	LinkAlready LinkAction = "already_linked"
	// LinkBlocked: neither create nor link; the warning says why and an
	// administrator decides (map by hand, rename, ...).
	LinkBlocked LinkAction = "blocked"
)

// LinkDecision is Link's answer.
type LinkDecision struct {
	Action LinkAction
	// UserID is the local user to link to (LinkExisting, LinkAlready) or
	// the one in the way (LinkBlocked), if any.
	UserID string
	Reason string
}

// IsPrivileged reports whether u is a privileged local user
// (privilege.Protected: a superuser, the emergency account, or a holder of
// bypass_sso or grant_all), its privileges being CustomPrivileges when set
// (they replace the profile's) or its profile's in profiles (profile name
// -> privileges). Such users are never linked automatically: a directory
// account taking over an administrator would hand the directory's
// operators the keys to dirbridge.
func IsPrivileged(u store.User, profiles map[string][]string) bool {
	privs := u.CustomPrivileges
	if privs == nil {
		privs = profiles[u.Profile]
	}
	return privilege.Protected(u, privilege.NewSet(privs...))
}

// Link decides whether the imported user r (of r.Directory, anchor
// r.Anchor) links to one of the existing local users, given the link mode
// and the profiles' privileges (for IsPrivileged).
//
//   - A user already holding r's directory and anchor: LinkAlready.
//   - username: an unlinked user (no anchor) with r's username,
//     case-insensitively, is linked.
//   - email: an unlinked user with r's e-mail is linked; several such users
//     block (ambiguous); so does r's username being held by another user.
//   - none: nothing is linked.
//
// In every mode a username held by a user that is not linked to (and
// cannot be linked to) r blocks r, and a privileged match is never linked:
// both come back as LinkBlocked with a blocking Warning.
func Link(r Result, locals []store.User, by LinkBy, profiles map[string][]string) (LinkDecision, []Warning) {
	block := func(code WarningCode, id, format string, args ...any) (LinkDecision, []Warning) {
		msg := fmt.Sprintf(format, args...)
		return LinkDecision{Action: LinkBlocked, UserID: id, Reason: msg}, []Warning{{
			Code: code, Directory: r.Directory, Anchor: r.Anchor, Username: r.Username,
			Blocking: true, Message: msg,
		}}
	}
	for _, u := range locals {
		if u.Anchor != "" && u.Anchor == r.Anchor && strings.EqualFold(u.Source, r.Directory) {
			return LinkDecision{Action: LinkAlready, UserID: u.ID, Reason: "already linked"}, nil
		}
	}
	holder, held := findUsername(locals, r.Username)

	var match *store.User
	switch by {
	case LinkByEmail:
		if r.Email != "" {
			var found []store.User
			for _, u := range locals {
				if u.Anchor == "" && strings.EqualFold(u.Email, r.Email) {
					found = append(found, u)
				}
			}
			if len(found) > 1 {
				return block(WarnAmbiguousLink, "", "%d local users have e-mail %s; link by hand", len(found), r.Email)
			}
			if len(found) == 1 {
				match = &found[0]
			}
		}
	case LinkByNone:
	default: // username
		if held && holder.Anchor == "" {
			match = &holder
		}
	}

	if match != nil {
		if held && holder.ID != match.ID {
			return block(WarnLocalCollision, holder.ID, "e-mail %s matches local user %s but username %q belongs to another user", r.Email, match.Username, r.Username)
		}
		if IsPrivileged(*match, profiles) {
			return block(WarnPrivilegedLink, match.ID, "local user %s is privileged (superuser, bypass_sso or grant_all) and is never linked automatically; link by hand", match.Username)
		}
		return LinkDecision{Action: LinkExisting, UserID: match.ID, Reason: fmt.Sprintf("linked by %s to local user %s", byName(by), match.Username)}, nil
	}
	if held {
		where := "a local user"
		if holder.Anchor != "" {
			where = fmt.Sprintf("a user of directory %s", holder.Source)
		}
		return block(WarnLocalCollision, holder.ID, "username %q already belongs to %s (%s) not linked to this entry", r.Username, where, holder.Username)
	}
	return LinkDecision{Action: LinkCreate, Reason: "no matching local user"}, nil
}

func findUsername(locals []store.User, name string) (store.User, bool) {
	if name == "" {
		return store.User{}, false
	}
	for _, u := range locals {
		if strings.EqualFold(u.Username, name) {
			return u, true
		}
	}
	return store.User{}, false
}

func byName(by LinkBy) string {
	if by == "" {
		return string(LinkByUsername)
	}
	return string(by)
}
