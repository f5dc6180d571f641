package engine

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// Warning is a problem found while planning, returned as data so a dry run
// can show it. It is the mapping package's type: most warnings come from
// there, and one type keeps callers from converting.
type Warning = mapping.Warning

// Mapper maps the users of one read. *mapping.Mapper implements it; tests
// may use their own. MapAll must be pure: the plan must be repeatable.
type Mapper interface {
	// MapAll maps users given every imported group (stored ones included for
	// an incremental read) and the directory's existing users by anchor. It
	// returns one Result per user, in order, with blocking warnings for the
	// users it blocks.
	MapAll(users []directory.User, groups []directory.Group, existing map[string]*store.User) ([]mapping.Result, []mapping.Warning)
}

// Current is what the store holds that a plan for one directory needs. The
// Runner loads it with LoadCurrent; tests build it by hand.
type Current struct {
	Directory string
	// Users are every user whose Source is Directory.
	Users []store.User
	// Others are every other user (local users and other directories'),
	// for linking and username collisions.
	Others []store.User
	// Entries are the directory's stored entries, users and groups.
	Entries []store.DirectoryEntry
	State   store.DirectoryState
	// Profiles maps profile name to privileges, to tell privileged local
	// users (never linked automatically).
	Profiles map[string][]string
	// LinkBy says how new imported users are matched to local users.
	LinkBy mapping.LinkBy
	// Partial is set by LoadAffected: Users, Others and Entries then hold
	// only what an incremental read touches, and ActiveBefore and
	// KnownBefore give the directory's user counts.
	Partial      bool
	ActiveBefore int
	KnownBefore  int
}

// Kind is what a plan item does.
type Kind string

// Plan item kinds. Unchanged users are counted, not listed.
const (
	KindCreate     Kind = "create"
	KindLink       Kind = "link" // an existing local user becomes this directory's user
	KindUpdate     Kind = "update"
	KindReactivate Kind = "reactivate"
	KindDeactivate Kind = "deactivate"
)

// Deactivation reasons the sync gives. Only users the sync itself
// deactivated are reactivated by it: a user an administrator deactivated
// stays inactive whatever the directory says.
const (
	ReasonLeftGroups = "left all imported groups"
	ReasonDisabled   = "disabled in directory"
	ReasonExpired    = "account expired"
	ReasonDeleted    = "deleted in directory"
)

// IsSyncReason reports whether reason is one the sync gives.
func IsSyncReason(reason string) bool {
	switch reason {
	case ReasonLeftGroups, ReasonDisabled, ReasonExpired, ReasonDeleted:
		return true
	}
	return false
}

// Change is one changed field of a user, with what caused it when the
// mapping rules decided it.
type Change struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
	Cause string `json:"cause,omitempty"`
}

// String renders `profile Agent -> Supervisor: rule 2 (group CC-Supervisors)`.
func (c Change) String() string {
	s := fmt.Sprintf("%s %s -> %s", c.Field, show(c.Old), show(c.New))
	if c.Cause != "" {
		s += ": " + c.Cause
	}
	return s
}

func show(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

// Item is one user the plan creates, links, updates, deactivates or
// reactivates.
type Item struct {
	Kind     Kind   `json:"kind"`
	Anchor   string `json:"anchor"`
	Username string `json:"username"`
	UserID   string `json:"user_id,omitempty"`
	DN       string `json:"dn,omitempty"`
	// Reason says why a user is deactivated, or how a link was made.
	Reason  string   `json:"reason,omitempty"`
	Changes []Change `json:"changes,omitempty"`
	// Notes say what the sync leaves alone and why (pinned fields, a user
	// an administrator deactivated).
	Notes        []string `json:"notes,omitempty"`
	GroupsGained []string `json:"groups_gained,omitempty"`
	GroupsLost   []string `json:"groups_lost,omitempty"`

	// User is the row Apply writes for anything but a create (with the
	// Version read, so a concurrent change makes Apply fail instead of
	// overwriting it). Row gives it for every kind.
	User *store.User `json:"-"`
	// entryOnly is set when only group memberships (the entry) changed:
	// Apply then leaves the user row (and its Version) alone.
	entryOnly bool
	// row, set on creates instead of User, holds the new user and its
	// entry; ChangeList and GroupsGainedList make a create's lists from it.
	row *newRow
}

// causes are the mapping's reasons a create's changes name.
type causes struct {
	profile, superuser string
	units              map[string][]string
	unitsPinned        bool
}

// ChangeList returns the item's changes. A create's are made here from
// its user: a plan keeps them unbuilt (Changes empty) so a first sync of a
// large directory does not hold a dozen per user; JSON encoding and
// Summary call this.
func (it Item) ChangeList() []Change {
	if it.Changes != nil || it.row == nil {
		return it.Changes
	}
	c := it.row.causes
	return diffUser(store.User{}, it.Row(), mapping.Result{ProfileCause: c.profile, SuperuserCause: c.superuser,
		UnitCauses: c.units, UnitsPinned: c.unitsPinned})
}

// MarshalJSON encodes the item with its lists made (see ChangeList and
// GroupsGainedList).
func (it Item) MarshalJSON() ([]byte, error) {
	type plain Item // without this method
	it.Changes, it.GroupsGained = it.ChangeList(), it.GroupsGainedList()
	return json.Marshal(plain(it))
}

// Blocked is an imported user the plan neither creates nor updates.
type Blocked struct {
	Anchor   string `json:"anchor"`
	Username string `json:"username,omitempty"`
	DN       string `json:"dn,omitempty"`
	// UserID is the local user concerned (linked, or in the way), if any.
	UserID string `json:"user_id,omitempty"`
	Reason string `json:"reason"`
}

// Plan is the pure diff of one read against the store. Items are in a fixed
// order (deactivations, updates, links, reactivations, creates; by username
// within a kind) so a plan prints the same way twice.
type Plan struct {
	Directory   string          `json:"directory"`
	Complete    bool            `json:"complete"`
	GeneratedAt time.Time       `json:"generated_at"`
	Read        directory.Stats `json:"read"`
	UsersRead   int             `json:"users_read"`
	GroupsRead  int             `json:"groups_read"`
	// ActiveBefore and KnownBefore count the directory's users in the store
	// before the run (active / all).
	ActiveBefore int              `json:"active_before"`
	KnownBefore  int              `json:"known_before"`
	Counts       store.SyncCounts `json:"counts"`
	Items        []Item           `json:"items"`
	Blocked      []Blocked        `json:"blocked,omitempty"`
	// Skipped are imported users not created because they are not
	// eligible (disabled, expired); their entries are still recorded.
	Skipped        []Blocked `json:"skipped,omitempty"`
	Warnings       []string  `json:"warnings,omitempty"`
	EntriesChanged int       `json:"entries_changed"`
	EntriesRemoved int       `json:"entries_removed"`
	// MassDeactivationApproved is set when an administrator approved this
	// plan beyond the deactivation limits.
	MassDeactivationApproved bool `json:"mass_deactivation_approved,omitempty"`
	// Truncated is set on a copy whose Items were cut for storage.
	Truncated int `json:"items_truncated,omitempty"`

	// RunID names the run in audit events; the Runner sets it.
	RunID string `json:"run_id,omitempty"`
	// Actor is who the audit events name; the Runner sets it.
	Actor string `json:"-"`

	// Entries are the directory entries to write (only those that
	// changed), in anchor order. Entries of users created by this plan get
	// their UserID in Apply.
	Entries []store.DirectoryEntry `json:"-"`
	// RemoveEntries are anchors of entries to delete (full reads only).
	RemoveEntries []string `json:"-"`
	// State is the directory state written on success.
	State store.DirectoryState `json:"-"`
}

var kindRank = map[Kind]int{KindDeactivate: 0, KindUpdate: 1, KindLink: 2, KindReactivate: 3, KindCreate: 4}

// NewPlan diffs a read against the store's state of its directory. It is
// pure: no I/O, no clock (now is passed), the same inputs give the same plan.
//
// Identity is the anchor: a user whose username, UPN, DN or OU changed is
// updated, never created again. An incomplete (incremental) snapshot never
// deactivates anyone for being absent from it; users it contains may still
// be deactivated for what it says about them (disabled, expired, deleted,
// no imported group left).
func NewPlan(cur Current, snap directory.Snapshot, mapper Mapper, now time.Time) (Plan, []Warning) {
	now = now.UTC()
	dir := cur.Directory
	p := Plan{
		Directory: dir, Complete: snap.Complete, GeneratedAt: now, Read: snap.Stats,
		UsersRead: len(snap.Users), GroupsRead: len(snap.Groups), KnownBefore: len(cur.Users),
	}
	var warns []Warning
	warnf := func(anchor, username, format string, args ...any) {
		warns = append(warns, Warning{Directory: dir, Anchor: anchor, Username: username, Message: fmt.Sprintf(format, args...)})
	}
	if cur.Partial && snap.Complete {
		// Leavers are found by what the store holds and the read lacks;
		// a partial Current does not hold them all. Deactivating nobody
		// for absence is the safe reading (the Runner never gets here).
		warnf("", "", "complete read planned against a partial store load: absent users are left alone")
		snap.Complete = false
		p.Complete = false
	}

	byAnchor := make(map[string]*store.User, len(cur.Users))
	for i := range cur.Users {
		u := &cur.Users[i]
		if u.State == store.StateActive {
			p.ActiveBefore++
		}
		if u.Anchor != "" {
			byAnchor[u.Anchor] = u
		}
	}
	if cur.Partial {
		p.ActiveBefore, p.KnownBefore = cur.ActiveBefore, cur.KnownBefore
	}
	userEntries := make(map[string]*store.DirectoryEntry, len(cur.Entries))
	groupEntries := map[string]*store.DirectoryEntry{}
	for i := range cur.Entries {
		e := &cur.Entries[i]
		if e.Kind == store.EntryGroup {
			groupEntries[e.Anchor] = e
		} else {
			userEntries[e.Anchor] = e
		}
	}

	// Groups: those read, plus (incremental only) the stored ones the read
	// did not touch, so rules and memberships see every imported group. A
	// full read is the whole truth: a group it lacks is no longer imported.
	groups := planGroups(cur, snap)
	groupName := make(map[string]string, len(groups)+len(groupEntries))
	readGroup := make(map[string]bool, len(snap.Groups))
	for _, g := range snap.Groups {
		readGroup[g.Anchor] = true
		groupName[g.Anchor] = nameOf(g.Name, g.DN, g.Anchor)
	}
	for _, e := range groupEntries {
		if !readGroup[e.Anchor] {
			groupName[e.Anchor] = nameOf(e.Name, e.DN, e.Anchor)
		}
	}

	// Split the read: deleted users, and present ones (first of a repeated
	// anchor wins, a repeat is a reader bug worth a warning).
	// Usually every user read is present: the read's own slice is then
	// used as is rather than copied (users are large, and many).
	present := snap.Users[:0:0]
	// seen holds every anchor read: a present user's position in present,
	// -1 for a deleted one.
	seen := make(map[string]int32, len(snap.Users))
	isSeen := func(a string) bool { _, ok := seen[a]; return ok }
	var deleted []directory.User
	for i, u := range snap.Users {
		skip := true
		switch {
		case u.Anchor == "":
			warnf("", u.Username, "directory user %s has no anchor; skipped", nameOf(u.Username, u.DN, ""))
		case isSeen(u.Anchor):
			warnf(u.Anchor, u.Username, "read twice; the first copy is used")
		case u.Deleted:
			seen[u.Anchor] = -1
			deleted = append(deleted, u)
		default:
			skip = false
		}
		switch {
		case !skip && len(present) == i:
			present = snap.Users[:i+1] // still the read's own prefix
		case !skip:
			present = append(present, u)
		case len(present) == i:
			// The first user left out: from here present is a copy.
			present = append(make([]directory.User, 0, len(snap.Users)), present...)
		}
		if !skip {
			seen[u.Anchor] = int32(len(present) - 1)
		}
	}

	// Sized once for what is surely coming (an item per new user; items
	// are large, and a first sync of a large directory has one per user),
	// not for every user: a run that changes little stays small.
	news := 0
	for i := range present {
		u := &present[i]
		c := byAnchor[u.Anchor]
		if c == nil {
			news++
			continue
		}
		shareRead(c, userEntries[u.Anchor], u)
	}
	// The stored groups' member lists name the users read: the same
	// strings, a copy each as loaded (a large directory's groups list
	// hundreds of thousands of members).
	for _, e := range groupEntries {
		for j, m := range e.Groups {
			if i, ok := seen[m]; ok && i >= 0 {
				e.Groups[j] = present[i].Anchor
			}
		}
	}
	// The groups listing each present user as a member, by the user's
	// position (looked up in seen, not grown per member: groups list
	// 450,000 members on a large directory).
	// Only what the user's own Groups lack is kept: a reader that fills
	// both from one membership (the LDAP reader does) leaves nothing here.
	memberOf := make([][]string, len(present))
	lacking := false
	listed := listedIn(groups, present)
	for gi, g := range groups {
		if slices.Equal(g.Members, listed[gi]) {
			continue // every member lists the group itself
		}
		for _, m := range g.Members {
			if i, ok := seen[m]; ok && i >= 0 && !slices.Contains(present[i].Groups, g.Anchor) {
				memberOf[i] = append(memberOf[i], g.Anchor)
				lacking = true
			}
		}
	}
	mapGroups := groups
	if !lacking {
		// Every member list is in the users' own Groups already: the
		// mapper need not go through them again for every chunk it maps.
		mapGroups = withoutMembers(groups)
	}
	results, mw := mapUserChunks(mapper, present, mapGroups, byAnchor, mapWorkers(len(present)))
	warns = append(warns, mw...)
	// Made after the mapping, which holds much of its own while it runs:
	// a large first sync's items are tens of megabytes. Entries are sized
	// for the groups and a few users: a new user's entry is kept with its
	// item, and most others' are as stored.
	p.Items = make([]Item, 0, news+len(deleted)+len(present)/64)
	p.Entries = make([]store.DirectoryEntry, 0, len(snap.Groups)+len(present)/64)
	blockMsg := map[string][]string{}
	pinNotes := map[string][]string{}
	for _, w := range mw {
		switch {
		case w.Blocking && w.Anchor != "":
			blockMsg[w.Anchor] = append(blockMsg[w.Anchor], w.Message)
		case w.Code == mapping.WarnPinned && w.Anchor != "":
			pinNotes[w.Anchor] = append(pinNotes[w.Anchor], w.Message+" (left alone)")
		}
	}

	// Usernames held in the store, and which of this directory's users give
	// theirs up in this run (a new user may then take it: Apply writes
	// updates before creates).
	holders := make(map[string][]*store.User, len(cur.Users)+len(cur.Others))
	emails := map[string][]*store.User{}
	othersByID := make(map[string]*store.User, len(cur.Others))
	for i := range cur.Users {
		k := strings.ToLower(cur.Users[i].Username)
		holders[k] = append(holders[k], &cur.Users[i])
	}
	for i := range cur.Others {
		u := &cur.Others[i]
		othersByID[u.ID] = u
		k := strings.ToLower(u.Username)
		holders[k] = append(holders[k], u)
		if u.Anchor == "" && u.Email != "" {
			ke := strings.ToLower(u.Email)
			emails[ke] = append(emails[ke], u)
		}
	}
	renamedAway := map[string]bool{}
	for i := range present {
		r := results.at(i)
		// Only a rename that will surely be made frees a name: one onto a
		// name nobody else holds (the main loop blocks the others).
		if c := byAnchor[r.Anchor]; c != nil && !r.Blocked && !strings.EqualFold(c.Username, r.Username) &&
			firstOther(holders[strings.ToLower(r.Username)], c.ID) == nil {
			renamedAway[c.ID] = true
		}
	}
	linked := map[string]string{} // local user ID -> anchor linked to it in this run

	for i := range present {
		results.done(i) // a large read's results go a chunk at a time
		r := *results.at(i)
		du := present[i]
		gs := userGroupAnchors(du, memberOf[i])
		entry := store.DirectoryEntry{
			Directory: dir, Anchor: du.Anchor, Kind: store.EntryUser, DN: du.DN,
			Name: du.Username, Attributes: du.Attributes, Groups: gs, UpdatedAt: now,
		}
		c := byAnchor[du.Anchor]
		old := userEntries[du.Anchor]
		if c != nil {
			entry.UserID = c.ID
		} else if old != nil {
			entry.Unmapped = old.Unmapped
		}
		// A new user's groups gained are all its groups: a create makes
		// them when asked (see GroupsGainedList), a link here.
		var gained, lost []string
		if c != nil || old != nil {
			gained, lost = groupDiff(old, gs, groupName)
		}

		block := func(userID, reason string) {
			p.Blocked = append(p.Blocked, Blocked{Anchor: du.Anchor, Username: r.Username, DN: du.DN, UserID: userID, Reason: reason})
		}
		if r.Blocked {
			reason := strings.Join(blockMsg[du.Anchor], "; ")
			if reason == "" {
				reason = "blocked by the mapping"
			}
			id := ""
			if c != nil {
				id = c.ID
			}
			block(id, reason)
			p.addEntry(entry, old)
			continue
		}
		deact := deactivationReason(du, gs, now)

		if c == nil {
			if entry.Unmapped {
				// An administrator unlinked it: linking it again by username
				// or e-mail would undo that on the next run.
				p.Skipped = append(p.Skipped, Blocked{Anchor: du.Anchor, Username: r.Username, DN: du.DN,
					Reason: "unmapped by an administrator; map it or create a user for it by hand"})
				p.addEntry(entry, old)
				continue
			}
			if deact != "" {
				p.Skipped = append(p.Skipped, Blocked{Anchor: du.Anchor, Username: r.Username, DN: du.DN, Reason: deact + "; not created"})
				p.addEntry(entry, old)
				continue
			}
			var cands []store.User
			for _, h := range holders[strings.ToLower(r.Username)] {
				if h.Source == dir && renamedAway[h.ID] {
					continue
				}
				cands = append(cands, *h)
			}
			if cur.LinkBy == mapping.LinkByEmail && r.Email != "" {
				for _, h := range emails[strings.ToLower(r.Email)] {
					if !slices.ContainsFunc(cands, func(u store.User) bool { return u.ID == h.ID }) {
						cands = append(cands, *h)
					}
				}
			}
			d, lw := mapping.Link(r, cands, cur.LinkBy, cur.Profiles)
			warns = append(warns, lw...)
			switch d.Action {
			case mapping.LinkCreate:
				u := store.User{State: r.State}
				if u.State == "" {
					u.State = store.StateActive
				}
				fill(&u, r, du, dir)
				// A create's changes are every field it sets, and its
				// groups gained every group it is in; a first sync of a
				// large directory would hold millions of them. They are
				// made when the plan is encoded or summarised. Its entry
				// is kept with it and written by Apply with the new ID.
				why := causes{profile: r.ProfileCause, superuser: r.SuperuserCause, units: r.UnitCauses, unitsPinned: r.UnitsPinned}
				p.Items = append(p.Items, newItem(u, entry, why, groupName, gained, old == nil))
				p.EntriesChanged++
			case mapping.LinkExisting:
				target := othersByID[d.UserID]
				if target == nil {
					block(d.UserID, "link target "+d.UserID+" is not a known user")
					p.addEntry(entry, old)
					continue
				}
				if other, taken := linked[target.ID]; taken {
					block(target.ID, fmt.Sprintf("local user %s is already linked in this run to %s; link by hand", target.Username, other))
					p.addEntry(entry, old)
					continue
				}
				linked[target.ID] = du.Anchor
				if old == nil {
					gained, _ = groupDiff(nil, gs, groupName)
				}
				u := *target
				fill(&u, r, du, dir)
				if r.ProfilePinned || target.PinnedProfile {
					u.Profile = target.Profile
				}
				if r.UnitsPinned || target.PinnedUnits {
					u.Units = target.Units
				}
				it := Item{Kind: KindLink, Anchor: du.Anchor, Username: u.Username, UserID: target.ID, DN: du.DN,
					Reason: d.Reason, User: &u, GroupsGained: gained, Notes: pinNotes[du.Anchor]}
				it.Changes = diffUser(*target, u, r)
				p.Items = append(p.Items, it)
				entry.UserID = target.ID
				p.addEntry(entry, old)
			default:
				block(d.UserID, d.Reason)
				p.addEntry(entry, old)
			}
			continue
		}

		// An existing user: a rename must not take a name someone else holds.
		if !strings.EqualFold(c.Username, r.Username) {
			if h := firstOther(holders[strings.ToLower(r.Username)], c.ID); h != nil {
				reason := fmt.Sprintf("rename %s -> %s: username already belongs to %s", c.Username, r.Username, describe(h, dir))
				if h.Source == dir && renamedAway[h.ID] {
					reason += ", which gives it up in this run; the rename is made by the next run"
				}
				block(c.ID, reason)
				p.addEntry(entry, old)
				continue
			}
		}
		u := *c
		fill(&u, r, du, dir)
		it := Item{Anchor: du.Anchor, Username: u.Username, UserID: c.ID, DN: du.DN,
			GroupsGained: gained, GroupsLost: lost, Notes: pinNotes[du.Anchor]}
		switch {
		case deact != "":
			u.State = store.StateInactive
			if c.State == store.StateActive {
				u.DeactivatedReason = deact
				it.Kind, it.Reason = KindDeactivate, deact
			} else if IsSyncReason(c.DeactivatedReason) {
				u.DeactivatedReason = deact // still inactive; the reason may have moved on
			}
		case c.State == store.StateActive:
			u.DeactivatedReason = ""
		case IsSyncReason(c.DeactivatedReason):
			u.State, u.DeactivatedReason = store.StateActive, ""
			it.Kind, it.Reason = KindReactivate, "was "+c.DeactivatedReason
		default:
			it.Notes = append(it.Notes, fmt.Sprintf("inactive (%s); the sync does not reactivate a user it did not deactivate", orNone(c.DeactivatedReason)))
		}
		it.User = &u
		it.Changes = diffUser(*c, u, r)
		if it.Kind == "" && len(it.Changes) > 0 {
			it.Kind = KindUpdate
		}
		if it.Kind == "" && (len(gained) > 0 || len(lost) > 0) {
			it.Kind, it.entryOnly = KindUpdate, true
		}
		if it.Kind == "" {
			p.Counts.Unchanged++
		} else {
			p.Items = append(p.Items, it)
		}
		p.addEntry(entry, old)
	}

	// Deleted users: deactivated, their entries removed.
	for _, du := range deleted {
		if c := byAnchor[du.Anchor]; c != nil && c.State == store.StateActive {
			u := *c
			u.State, u.DeactivatedReason = store.StateInactive, ReasonDeleted
			_, lost := groupDiff(userEntries[du.Anchor], nil, groupName)
			p.Items = append(p.Items, Item{Kind: KindDeactivate, Anchor: du.Anchor, Username: c.Username, UserID: c.ID,
				DN: c.DN, Reason: ReasonDeleted, User: &u, GroupsLost: lost,
				Changes: diffUser(*c, u, mapping.Result{})})
		}
		if userEntries[du.Anchor] != nil {
			p.RemoveEntries = append(p.RemoveEntries, du.Anchor)
		}
	}

	// A full read is the whole membership: whoever it lacks has left every
	// imported group. An incremental read says nothing about the absent.
	if snap.Complete {
		for i := range cur.Users {
			c := &cur.Users[i]
			if c.Anchor == "" || isSeen(c.Anchor) {
				continue
			}
			if c.State == store.StateActive {
				u := *c
				u.State, u.DeactivatedReason = store.StateInactive, ReasonLeftGroups
				_, lost := groupDiff(userEntries[c.Anchor], nil, groupName)
				p.Items = append(p.Items, Item{Kind: KindDeactivate, Anchor: c.Anchor, Username: c.Username, UserID: c.ID,
					DN: c.DN, Reason: ReasonLeftGroups, User: &u, GroupsLost: lost,
					Changes: diffUser(*c, u, mapping.Result{})})
			}
		}
		for a := range userEntries {
			if !isSeen(a) {
				p.RemoveEntries = append(p.RemoveEntries, a)
			}
		}
		for a := range groupEntries {
			if !readGroup[a] {
				p.RemoveEntries = append(p.RemoveEntries, a)
			}
		}
	}

	// Group entries: the groups read, with their resolved members.
	for _, g := range snap.Groups {
		e := store.DirectoryEntry{Directory: dir, Anchor: g.Anchor, Kind: store.EntryGroup, DN: g.DN,
			Name: g.Name, Groups: sortedCopy(g.Members), UpdatedAt: now}
		p.addEntry(e, groupEntries[g.Anchor])
	}

	// Entries in anchor order: the store's key order, so a large first
	// write appends to its indexes instead of inserting all over them.
	slices.SortStableFunc(p.Entries, func(a, b store.DirectoryEntry) int { return strings.Compare(a.Anchor, b.Anchor) })
	sort.Strings(p.RemoveEntries)
	p.RemoveEntries = slices.Compact(p.RemoveEntries)
	p.EntriesRemoved = len(p.RemoveEntries)
	sort.SliceStable(p.Items, func(i, j int) bool {
		a, b := p.Items[i], p.Items[j]
		if kindRank[a.Kind] != kindRank[b.Kind] {
			return kindRank[a.Kind] < kindRank[b.Kind]
		}
		return a.Username < b.Username
	})
	for _, it := range p.Items {
		switch it.Kind {
		case KindCreate:
			p.Counts.Created++
		case KindUpdate, KindLink:
			p.Counts.Updated++
		case KindDeactivate:
			p.Counts.Deactivated++
		case KindReactivate:
			p.Counts.Reactivated++
		}
	}
	for _, w := range warns {
		p.Warnings = append(p.Warnings, w.String())
	}

	p.State = store.DirectoryState{Directory: dir, Cursor: snap.Cursor, LastFullAt: cur.State.LastFullAt,
		LastSuccessAt: now, UpdatedAt: now}
	if snap.Complete {
		p.State.LastFullAt = now
	}
	return p, warns
}

// planGroups is every imported group a plan maps against: those read and,
// for an incomplete read only, the stored ones it did not touch, so rules
// and memberships see every imported group. A complete read is the whole
// truth: a group it lacks is no longer imported.
func planGroups(cur Current, snap directory.Snapshot) []directory.Group {
	groups := slices.Clone(snap.Groups)
	if snap.Complete {
		return groups
	}
	read := make(map[string]bool, len(snap.Groups))
	for _, g := range snap.Groups {
		read[g.Anchor] = true
	}
	for _, e := range cur.Entries {
		if e.Kind == store.EntryGroup && !read[e.Anchor] {
			read[e.Anchor] = true
			groups = append(groups, directory.Group{Anchor: e.Anchor, DN: e.DN, Name: e.Name, Members: e.Groups})
		}
	}
	return groups
}

// listedIn returns, for each of groups, the anchors of the present users
// whose own Groups name it, in the users' order. A reader that fills both
// from one membership (the LDAP reader does) lists each group's members
// in that order: comparing the lists then settles, string by string, what
// a lookup of each member by anchor would (450,000 members of a large
// directory: ~30 ms instead of ~300).
func listedIn(groups []directory.Group, present []directory.User) [][]string {
	at := make(map[string]int, len(groups))
	for i, g := range groups {
		at[g.Anchor] = i
	}
	listed := make([][]string, len(groups))
	for i := range present {
		u := &present[i]
		for _, g := range u.Groups {
			if gi, ok := at[g]; ok {
				listed[gi] = append(listed[gi], u.Anchor)
			}
		}
	}
	return listed
}

// withoutMembers is groups with their member lists left out.
func withoutMembers(groups []directory.Group) []directory.Group {
	out := slices.Clone(groups)
	for i := range out {
		out[i].Members = nil
	}
	return out
}

// addEntry queues e for writing unless the stored entry old already says
// the same: a no-change run then writes (almost) nothing.
func (p *Plan) addEntry(e store.DirectoryEntry, old *store.DirectoryEntry) {
	if old != nil && old.Kind == e.Kind && old.DN == e.DN && old.Name == e.Name && old.UserID == e.UserID && old.Unmapped == e.Unmapped &&
		slices.Equal(old.Groups, e.Groups) && sameAttrs(old.Attributes, e.Attributes) {
		return
	}
	p.Entries = append(p.Entries, e)
	p.EntriesChanged++
}

// shareRead points the stored user's and entry's strings at the read's
// where they are equal. Loaded from the store, each is a copy of its own;
// on a large directory that is tens of megabytes held twice while the
// plan is made, for users most of whom did not change. Only which copy
// holds a value changes, never a value, so the plan is the same.
func shareRead(c *store.User, e *store.DirectoryEntry, u *directory.User) {
	share := func(dst *string, src string) {
		if *dst == src {
			*dst = src
		}
	}
	share(&c.Anchor, u.Anchor)
	share(&c.DN, u.DN)
	share(&c.UPN, u.UPN)
	share(&c.SAMAccountName, u.Username)
	share(&c.Username, u.Username)
	share(&c.Email, u.Email)
	share(&c.DisplayName, u.DisplayName)
	share(&c.FirstName, u.FirstName)
	share(&c.LastName, u.LastName)
	if e != nil {
		share(&e.Anchor, u.Anchor)
		share(&e.DN, u.DN)
		share(&e.Name, u.Username)
		share(&e.UserID, c.ID)
		if slices.Equal(e.Groups, u.Groups) {
			e.Groups = u.Groups
		}
	}
}

// deactivationReason says why a present user must be inactive, or "".
func deactivationReason(u directory.User, groups []string, now time.Time) string {
	switch {
	case u.Deleted:
		return ReasonDeleted
	case u.Disabled:
		return ReasonDisabled
	case !u.AccountExpiresAt.IsZero() && !u.AccountExpiresAt.After(now):
		return ReasonExpired
	case len(groups) == 0:
		return ReasonLeftGroups
	}
	return ""
}

// fill sets the fields the directory and the mapping own.
func fill(u *store.User, r mapping.Result, du directory.User, dir string) {
	u.Username = r.Username
	u.DisplayName = r.DisplayName
	u.FirstName = r.FirstName
	u.LastName = r.LastName
	u.Email = r.Email
	if r.Language != "" { // a language set locally survives a template that gives none
		u.Language = r.Language
	}
	u.Source, u.Anchor = dir, du.Anchor
	u.DN, u.UPN, u.SAMAccountName = du.DN, du.UPN, du.Username
	u.Profile = r.Profile
	if !sameSet(u.Units, r.Units) { // keep the stored order when only the order differs
		u.Units = slices.Clone(r.Units)
	}
	u.Superuser = r.Superuser
	if r.Fields != nil {
		u.Fields = r.Fields
	}
	u.PasswordChangedAt = sec(du.Password.ChangedAt)
	u.PasswordExpiresAt = sec(du.Password.ExpiresAt)
	u.PasswordNeverExpires = du.Password.NeverExpires
	u.MustChangePassword = du.Password.MustChange
	u.AccountExpiresAt = sec(du.AccountExpiresAt)
}

// diffUser lists what changes from a to b, with the mapping's causes.
func diffUser(a, b store.User, r mapping.Result) []Change {
	var ch []Change
	str := func(field, x, y, cause string) {
		if x != y {
			ch = append(ch, Change{Field: field, Old: x, New: y, Cause: cause})
		}
	}
	tm := func(field string, x, y time.Time) {
		if !sec(x).Equal(sec(y)) {
			ch = append(ch, Change{Field: field, Old: fmtTime(x), New: fmtTime(y)})
		}
	}
	bl := func(field string, x, y bool, cause string) {
		if x != y {
			ch = append(ch, Change{Field: field, Old: strconv.FormatBool(x), New: strconv.FormatBool(y), Cause: cause})
		}
	}
	str("source", a.Source, b.Source, "")
	str("username", a.Username, b.Username, "")
	str("display_name", a.DisplayName, b.DisplayName, "")
	str("first_name", a.FirstName, b.FirstName, "")
	str("last_name", a.LastName, b.LastName, "")
	str("email", a.Email, b.Email, "")
	str("language", a.Language, b.Language, "")
	str("dn", a.DN, b.DN, "")
	str("upn", a.UPN, b.UPN, "")
	str("sam_account_name", a.SAMAccountName, b.SAMAccountName, "")
	str("state", string(a.State), string(b.State), "")
	str("deactivated_reason", a.DeactivatedReason, b.DeactivatedReason, "")
	str("profile", a.Profile, b.Profile, r.ProfileCause)
	if !sameSet(a.Units, b.Units) {
		ch = append(ch, Change{Field: "units", Old: strings.Join(a.Units, ", "), New: strings.Join(b.Units, ", "), Cause: unitCause(a.Units, b.Units, r)})
	}
	bl("superuser", a.Superuser, b.Superuser, r.SuperuserCause)
	for _, k := range slices.Sorted(maps.Keys(unionKeys(a.Fields, b.Fields))) {
		str("fields."+k, a.Fields[k], b.Fields[k], "")
	}
	tm("password_changed_at", a.PasswordChangedAt, b.PasswordChangedAt)
	tm("password_expires_at", a.PasswordExpiresAt, b.PasswordExpiresAt)
	bl("password_never_expires", a.PasswordNeverExpires, b.PasswordNeverExpires, "")
	bl("must_change_password", a.MustChangePassword, b.MustChangePassword, "")
	tm("account_expires_at", a.AccountExpiresAt, b.AccountExpiresAt)
	return ch
}

// unitCause names, for each unit added, the rules that added it, and lists
// the units removed.
func unitCause(old, now []string, r mapping.Result) string {
	var parts []string
	for _, u := range now {
		if !containsFold(old, u) {
			c := strings.Join(r.UnitCauses[u], ", ")
			if c == "" {
				c = "rules"
			}
			parts = append(parts, fmt.Sprintf("+%s: %s", u, c))
		}
	}
	for _, u := range old {
		if !containsFold(now, u) {
			parts = append(parts, fmt.Sprintf("-%s: no matching rule", u))
		}
	}
	if r.UnitsPinned {
		parts = append(parts, "pinned")
	}
	return strings.Join(parts, "; ")
}

// userGroupAnchors is the sorted union of u.Groups and memberOf, without
// repeats: u.Groups itself when it already is that (the plan's entries
// then share the read's lists, which nothing changes afterwards).
func userGroupAnchors(u directory.User, memberOf []string) []string {
	if len(memberOf) == 0 && u.Groups != nil && strictlySorted(u.Groups) {
		return u.Groups
	}
	out := make([]string, 0, len(u.Groups)+len(memberOf))
	out = append(out, u.Groups...)
	out = append(out, memberOf...)
	sort.Strings(out)
	return slices.Compact(out)
}

func strictlySorted(s []string) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] >= s[i] {
			return false
		}
	}
	return true
}

// groupDiff names the groups gained and lost between a stored entry and
// the anchors read (both sorted).
func groupDiff(old *store.DirectoryEntry, now []string, names map[string]string) (gained, lost []string) {
	var before []string
	if old != nil {
		before = old.Groups
	}
	for _, a := range now {
		if _, ok := slices.BinarySearch(before, a); !ok {
			gained = append(gained, nameOf(names[a], "", a))
		}
	}
	for _, a := range before {
		if _, ok := slices.BinarySearch(now, a); !ok {
			lost = append(lost, nameOf(names[a], "", a))
		}
	}
	return gained, lost
}

func firstOther(hs []*store.User, id string) *store.User {
	for _, h := range hs {
		if h.ID != id {
			return h
		}
	}
	return nil
}

func describe(u *store.User, dir string) string {
	switch u.Source {
	case store.SourceLocal, "":
		return "local user " + u.Username
	case dir:
		return fmt.Sprintf("user %s of this directory (%s)", u.Username, u.Anchor)
	}
	return fmt.Sprintf("user %s of directory %s", u.Username, u.Source)
}

func nameOf(name, dn, anchor string) string {
	switch {
	case name != "":
		return name
	case dn != "":
		return dn
	}
	return anchor
}

func orNone(s string) string {
	if s == "" {
		return "no reason recorded"
	}
	return s
}

func sec(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Second)
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return slices.Compact(out)
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !containsFold(b, x) {
			return false
		}
	}
	for _, x := range b {
		if !containsFold(a, x) {
			return false
		}
	}
	return true
}

func containsFold(s []string, x string) bool {
	return slices.ContainsFunc(s, func(y string) bool { return strings.EqualFold(x, y) })
}

func unionKeys(a, b map[string]string) map[string]bool {
	out := make(map[string]bool, len(a)+len(b))
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func sameAttrs(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !slices.Equal(v, w) {
			return false
		}
	}
	return true
}
