package engine

import (
	"strings"

	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// EntryUser is the directory user a stored user entry was recorded from,
// as far as the entry keeps it: the login name, DN, imported-group
// anchors and the attributes listed under directories[].attributes. The
// standard fields are taken from those attributes when present, under the
// names the readers read them by and the mapping's templates see them
// as. What the entry does not keep (password and account expiry, the
// disabled flag), the next sync fills in.
func EntryUser(e store.DirectoryEntry) directory.User {
	get := func(name string) string {
		for k, v := range e.Attributes {
			if strings.EqualFold(k, name) && len(v) > 0 {
				return v[0]
			}
		}
		return ""
	}
	return directory.User{
		Anchor: e.Anchor, DN: e.DN, Username: e.Name, Groups: e.Groups, Attributes: e.Attributes,
		UPN: get("userPrincipalName"), Email: get("mail"), DisplayName: get("displayName"),
		FirstName: get("givenName"), LastName: get("sn"),
	}
}

// entryGroup is the imported group a stored group entry records.
func entryGroup(e store.DirectoryEntry) directory.Group {
	return directory.Group{Anchor: e.Anchor, DN: e.DN, Name: e.Name, Members: e.Groups}
}

// NewUser is the local user a sync creates for the directory user du of
// directory dir mapped to r (without an ID: the store gives it).
func NewUser(r *mapping.Result, du *directory.User, dir string) store.User {
	u := store.User{State: r.State}
	if u.State == "" {
		u.State = store.StateActive
	}
	fill(&u, *r, *du, dir)
	return u
}

// MappedEntry is one stored user entry mapped as a sync maps the user it
// was read as.
type MappedEntry struct {
	Entry  store.DirectoryEntry
	Result mapping.Result
	// User is the local user a sync would create for it (NewUser).
	User store.User
	// Blocking are the mapping's warnings that block it (Result.Blocked);
	// Notes its other remarks about it.
	Blocking []Warning
	Notes    []string
}

// MapEntries maps the user entries of one directory that no local user
// holds (UserID empty) the way a sync maps the users it reads: through
// the directory's Mapper, against the imported groups its group entries
// record, all together, so a username two of them map to blocks both as
// it would in a sync. It returns them by anchor, and the warnings about
// the rules themselves. It is pure.
func MapEntries(m Mapper, entries []store.DirectoryEntry) (map[string]*MappedEntry, []Warning) {
	var users []directory.User
	var groups []directory.Group
	var unmapped []store.DirectoryEntry
	for _, e := range entries {
		switch {
		case e.Kind == store.EntryGroup:
			groups = append(groups, entryGroup(e))
		case e.Kind == store.EntryUser && e.UserID == "":
			unmapped = append(unmapped, e)
			users = append(users, EntryUser(e))
		}
	}
	results, warns := m.MapAll(users, groups, nil)
	out := make(map[string]*MappedEntry, len(users))
	for i := range users {
		dir := unmapped[i].Directory
		if dir == "" {
			dir = results[i].Directory
		}
		out[users[i].Anchor] = &MappedEntry{Entry: unmapped[i], Result: results[i], User: NewUser(&results[i], &users[i], dir)}
	}
	var rules []Warning
	for _, w := range warns {
		me := out[w.Anchor]
		switch {
		case w.Anchor == "":
			rules = append(rules, w)
		case me == nil: // about a user entry not mapped here
		case w.Blocking:
			me.Blocking = append(me.Blocking, w)
		default:
			me.Notes = append(me.Notes, w.Message)
		}
	}
	return out, rules
}
