package engine

import (
	"cmp"
	"iter"
	"math"
	"slices"
	"time"

	"github.com/dirbridge/dirbridge/store"
)

// newRow is a create as a plan keeps it: what the read and the mapping give
// the new user and its directory entry. A first sync of a large directory
// creates a user per entry read; a store.User and a store.DirectoryEntry
// apiece, most of their fields empty, were the largest thing it held
// (100,000 creates: 95 MB, against 35 MB this way).
type newRow struct {
	dir                                                           string
	displayName, firstName, lastName, email, language, profile    string
	upn, sam                                                      string
	state                                                         store.UserState
	units                                                         []string
	fields                                                        map[string]string
	passwordChanged, passwordExpires, accountExpires              int64 // Unix seconds; noTime for none
	superuser, passwordNeverExpires, mustChangePassword, lazyGain bool

	// The entry: its group anchors and attributes, and the group names
	// by anchor, from which GroupsGained is made when it is asked for.
	groups []string
	attrs  map[string][]string
	names  map[string]string

	causes causes
}

// noTime stands for the zero time.Time in a newRow.
const noTime = math.MinInt64

func packTime(t time.Time) int64 {
	if t.IsZero() {
		return noTime
	}
	return t.Unix()
}

func unpackTime(s int64) time.Time {
	if s == noTime {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

// newItem makes the create of user u (filled by fill, so its times are
// whole seconds in UTC) with the entry e.
func newItem(u store.User, e store.DirectoryEntry, c causes, names map[string]string, gained []string, lazyGain bool) Item {
	return Item{Kind: KindCreate, Anchor: u.Anchor, Username: u.Username, DN: u.DN, GroupsGained: gained, row: &newRow{
		dir: u.Source, displayName: u.DisplayName, firstName: u.FirstName, lastName: u.LastName, email: u.Email,
		language: u.Language, profile: u.Profile, upn: u.UPN, sam: u.SAMAccountName, state: u.State,
		units: u.Units, fields: u.Fields, superuser: u.Superuser,
		passwordChanged: packTime(u.PasswordChangedAt), passwordExpires: packTime(u.PasswordExpiresAt),
		accountExpires: packTime(u.AccountExpiresAt), passwordNeverExpires: u.PasswordNeverExpires,
		mustChangePassword: u.MustChangePassword, lazyGain: lazyGain,
		groups: e.Groups, attrs: e.Attributes, names: names, causes: c,
	}}
}

// Row is the user row Apply writes for the item: for a create, made from
// what the plan kept (without an ID: the store gives it); otherwise the user as
// planned, with the Version it was read at.
func (it Item) Row() store.User {
	n := it.row
	if n == nil {
		if it.User == nil {
			return store.User{}
		}
		return *it.User
	}
	return store.User{
		Username: it.Username, DisplayName: n.displayName, FirstName: n.firstName, LastName: n.lastName,
		Email: n.email, Language: n.language, State: n.state, Source: n.dir, Anchor: it.Anchor, DN: it.DN,
		UPN: n.upn, SAMAccountName: n.sam, Profile: n.profile, Units: n.units, Superuser: n.superuser, Fields: n.fields,
		PasswordChangedAt: unpackTime(n.passwordChanged), PasswordExpiresAt: unpackTime(n.passwordExpires),
		PasswordNeverExpires: n.passwordNeverExpires, MustChangePassword: n.mustChangePassword,
		AccountExpiresAt: unpackTime(n.accountExpires),
	}
}

// entry is a create's directory entry, for the user of ID id, written at.
func (n *newRow) entry(it *Item, id string, at time.Time) store.DirectoryEntry {
	return store.DirectoryEntry{Directory: n.dir, Anchor: it.Anchor, Kind: store.EntryUser, DN: it.DN, Name: n.sam,
		Attributes: n.attrs, Groups: n.groups, UserID: id, UpdatedAt: at}
}

// GroupsGainedList returns the names of the groups the item's user
// gains. A new user's are made here from its entry (a plan keeps them
// unbuilt: a first sync would hold a list per user); JSON encoding and
// Summary call this.
func (it Item) GroupsGainedList() []string {
	if it.row == nil || !it.row.lazyGain {
		return it.GroupsGained
	}
	gained, _ := groupDiff(nil, it.row.groups, it.row.names)
	return gained
}

// EntriesToWrite yields every directory entry Apply writes, in anchor
// order: Entries merged with the entries of the users the plan creates,
// which it keeps with their items (their UserID is empty until Apply has
// created the users).
func (p *Plan) EntriesToWrite() iter.Seq[store.DirectoryEntry] {
	return p.entriesToWrite(nil)
}

// entriesToWrite is EntriesToWrite with the new users' IDs by item index
// (nil: none yet).
func (p *Plan) entriesToWrite(ids []string) iter.Seq[store.DirectoryEntry] {
	return func(yield func(store.DirectoryEntry) bool) {
		var creates []int32
		for i := range p.Items {
			if p.Items[i].row != nil {
				creates = append(creates, int32(i))
			}
		}
		slices.SortFunc(creates, func(a, b int32) int { return cmp.Compare(p.Items[a].Anchor, p.Items[b].Anchor) })
		created := func(i int32) store.DirectoryEntry {
			id := ""
			if ids != nil {
				id = ids[i]
			}
			it := &p.Items[i]
			return it.row.entry(it, id, p.GeneratedAt)
		}
		j := 0
		for _, e := range p.Entries {
			for ; j < len(creates) && p.Items[creates[j]].Anchor < e.Anchor; j++ {
				if !yield(created(creates[j])) {
					return
				}
			}
			if !yield(e) {
				return
			}
		}
		for ; j < len(creates); j++ {
			if !yield(created(creates[j])) {
				return
			}
		}
	}
}
