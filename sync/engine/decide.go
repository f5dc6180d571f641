package engine

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// userCase is everything decideUser needs about one present user.
type userCase struct {
	read   *directory.User
	groups []string // the imported groups it is in, sorted anchors
	mapped *mapping.Result
	// stored is the directory's user with this anchor and entry its stored
	// entry; either may be nil.
	stored *store.User
	entry  *store.DirectoryEntry
	// blockMsgs say why the mapping blocked it; pinNotes which pinned
	// fields the mapping kept.
	blockMsgs, pinNotes []string
}

// userEnv is what decideUser consults beyond the user: the store's
// usernames and link targets, the group names, and the local users linked
// earlier in the run. decideUser reads it and never changes it.
type userEnv struct {
	dir       string
	now       time.Time
	linkBy    mapping.LinkBy
	profiles  map[string][]string // privileges by profile, to tell privileged local users
	names     *nameIndex
	groupName map[string]string
	linked    map[string]string // local user ID -> anchor linked to it earlier in this run
}

// userDecision is what a plan does with one present user: at most one of
// item, blocked, skipped or unchanged, and the user's entry.
type userDecision struct {
	entry     store.DirectoryEntry
	item      Item // Kind "": no item
	blocked   *Blocked
	skipped   *Blocked
	unchanged bool
	warns     []Warning
	// entryWithItem says entry is kept with a create's item (Apply writes
	// it with the new ID) rather than queued as the plan's own.
	entryWithItem bool
	// linked is the local user this decision links the directory user to.
	linked string
}

// decideUser decides one present user of a read: create, link, update,
// deactivate, reactivate, leave alone, skip or block. It is pure. The
// safety rules it keeps: a blocked mapping (collision, bad template)
// changes nobody; a rename never takes a username someone else holds; a
// new user is never created while disabled or expired, nor linked back
// after an administrator unmapped it; privileged local users are never
// linked (mapping.Link); pinned fields of a linked user are kept; and a
// user an administrator deactivated is never reactivated.
func decideUser(c userCase, env *userEnv) userDecision {
	d := newDecision(c, env)
	if c.mapped.Blocked {
		reason := strings.Join(c.blockMsgs, "; ")
		if reason == "" {
			reason = "blocked by the mapping"
		}
		id := ""
		if c.stored != nil {
			id = c.stored.ID
		}
		d.block(c, id, reason)
		return d
	}
	deact := deactivationReason(*c.read, c.groups, env.now)
	if c.stored == nil {
		return decideNew(c, env, d, deact)
	}
	return decideExisting(c, env, d, deact)
}

// newDecision is a decision with nothing decided yet but the user's
// entry as the read gives it.
func newDecision(c userCase, env *userEnv) userDecision {
	du := c.read
	d := userDecision{entry: store.DirectoryEntry{
		Directory: env.dir, Anchor: du.Anchor, Kind: store.EntryUser, DN: du.DN,
		Name: du.Username, Attributes: du.Attributes, Groups: c.groups, UpdatedAt: env.now,
	}}
	switch {
	case c.stored != nil:
		d.entry.UserID = c.stored.ID
	case c.entry != nil:
		d.entry.Unmapped = c.entry.Unmapped
	}
	return d
}

func (d *userDecision) block(c userCase, userID, reason string) {
	d.blocked = &Blocked{Anchor: c.read.Anchor, Username: c.mapped.Username, DN: c.read.DN, UserID: userID, Reason: reason}
}

// decideNew decides a user the directory has no local user for yet: skip
// it, create it, link it to a local user, or block it.
func decideNew(c userCase, env *userEnv, d userDecision, deact string) userDecision {
	du, r := c.read, c.mapped
	skip := func(reason string) userDecision {
		d.skipped = &Blocked{Anchor: du.Anchor, Username: r.Username, DN: du.DN, Reason: reason}
		return d
	}
	switch {
	case d.entry.Unmapped:
		// An administrator unlinked it: linking it again by username or
		// e-mail would undo that on the next run.
		return skip("unmapped by an administrator; map it or create a user for it by hand")
	case deact != "":
		return skip(deact + "; not created")
	}
	link, lw := mapping.Link(*r, env.names.candidates(r, env.dir, env.linkBy), env.linkBy, env.profiles)
	d.warns = lw
	switch link.Action {
	case mapping.LinkCreate:
		u := NewUser(r, du, env.dir)
		// A create's changes are every field it sets, and its groups
		// gained every group it is in; a first sync of a large directory
		// would hold millions of them. They are made when the plan is
		// encoded or summarised. Its entry is kept with it and written by
		// Apply with the new ID.
		var gained []string
		if c.entry != nil {
			gained, _ = groupDiff(c.entry, c.groups, env.groupName)
		}
		why := causes{profile: r.ProfileCause, superuser: r.SuperuserCause, units: r.UnitCauses, unitsPinned: r.UnitsPinned}
		d.item = newItem(u, d.entry, why, env.groupName, gained, c.entry == nil)
		d.entryWithItem = true
		return d
	case mapping.LinkExisting:
		return decideLink(c, env, d, link)
	}
	d.block(c, link.UserID, link.Reason)
	return d
}

// decideLink links a new directory user to the local user mapping.Link
// chose, keeping the local user's pinned profile and units.
func decideLink(c userCase, env *userEnv, d userDecision, link mapping.LinkDecision) userDecision {
	du, r := c.read, c.mapped
	target := env.names.others[link.UserID]
	if target == nil {
		d.block(c, link.UserID, "link target "+link.UserID+" is not a known user")
		return d
	}
	if other, taken := env.linked[target.ID]; taken {
		d.block(c, target.ID, fmt.Sprintf("local user %s is already linked in this run to %s; link by hand", target.Username, other))
		return d
	}
	gained, _ := groupDiff(c.entry, c.groups, env.groupName)
	u := *target
	fill(&u, *r, *du, env.dir)
	if r.ProfilePinned || target.PinnedProfile {
		u.Profile = target.Profile
	}
	if r.UnitsPinned || target.PinnedUnits {
		u.Units = target.Units
	}
	d.item = Item{Kind: KindLink, Anchor: du.Anchor, Username: u.Username, UserID: target.ID, DN: du.DN,
		Reason: link.Reason, User: &u, GroupsGained: gained, Notes: c.pinNotes, Changes: diffUser(*target, u, *r)}
	d.entry.UserID = target.ID
	d.linked = target.ID
	return d
}

// decideExisting decides a user the directory already has: update,
// deactivate, reactivate, or leave it unchanged. A rename onto a username
// someone else holds is blocked.
func decideExisting(c userCase, env *userEnv, d userDecision, deact string) userDecision {
	du, r, s := c.read, c.mapped, c.stored
	if !strings.EqualFold(s.Username, r.Username) {
		if h := firstOther(env.names.byName[strings.ToLower(r.Username)], s.ID); h != nil {
			reason := fmt.Sprintf("rename %s -> %s: username already belongs to %s", s.Username, r.Username, describe(h, env.dir))
			if h.Source == env.dir && env.names.renamedAway[h.ID] {
				reason += ", which gives it up in this run; the rename is made by the next run"
			}
			d.block(c, s.ID, reason)
			return d
		}
	}
	// u stays on the stack unless the user changes: most of a large
	// directory's users are unchanged on any run.
	u := *s
	fill(&u, *r, *du, env.dir)
	kind, reason, note := stateChange(s, &u, deact)
	changes := diffUser(*s, u, *r)
	gained, lost := groupDiff(c.entry, c.groups, env.groupName)
	switch {
	case kind != "":
	case len(changes) > 0:
		kind = KindUpdate
	case len(gained) > 0 || len(lost) > 0:
		kind = KindUpdate // only the entry changed: Apply leaves the row (and its Version) alone
	}
	notes := c.pinNotes
	if note != "" {
		notes = append(slices.Clip(notes), note)
	}
	if kind == "" {
		d.unchanged = true
		return d
	}
	row := u
	d.item = Item{Kind: kind, Anchor: du.Anchor, Username: u.Username, UserID: s.ID, DN: du.DN, Reason: reason,
		Changes: changes, Notes: notes, GroupsGained: gained, GroupsLost: lost, User: &row,
		entryOnly: kind == KindUpdate && len(changes) == 0}
	return d
}

// stateChange sets u's state and reason for the deactivation reason deact
// (empty: the directory has it active) given the stored user was. It
// returns the item kind and reason the change makes, or a note when the
// sync leaves the state alone.
func stateChange(was, u *store.User, deact string) (kind Kind, reason, note string) {
	switch {
	case deact != "":
		u.State = store.StateInactive
		if was.State == store.StateActive {
			u.DeactivatedReason = deact
			return KindDeactivate, deact, ""
		}
		if IsSyncReason(was.DeactivatedReason) {
			u.DeactivatedReason = deact // still inactive; the reason may have moved on
		}
	case was.State == store.StateActive:
		u.DeactivatedReason = ""
	case IsSyncReason(was.DeactivatedReason):
		u.State, u.DeactivatedReason = store.StateActive, ""
		return KindReactivate, "was " + was.DeactivatedReason, ""
	default:
		return "", "", fmt.Sprintf("inactive (%s); the sync does not reactivate a user it did not deactivate", orNone(was.DeactivatedReason))
	}
	return "", "", ""
}

// nameIndex is who holds which usernames and e-mail addresses in the
// store, and which of the directory's users give theirs up in this run (a
// new user may then take it: Apply writes updates before creates).
type nameIndex struct {
	byName      map[string][]*store.User // folded username -> holders
	byEmail     map[string][]*store.User // folded e-mail -> users without an anchor
	others      map[string]*store.User   // users of other sources, by ID: link targets
	renamedAway map[string]bool          // user IDs
}

func indexNames(cur *Current, st storedIndex, rd *readIndex, results mapped) *nameIndex {
	n := &nameIndex{
		byName:      make(map[string][]*store.User, len(cur.Users)+len(cur.Others)),
		byEmail:     map[string][]*store.User{},
		others:      make(map[string]*store.User, len(cur.Others)),
		renamedAway: map[string]bool{},
	}
	for i := range cur.Users {
		k := strings.ToLower(cur.Users[i].Username)
		n.byName[k] = append(n.byName[k], &cur.Users[i])
	}
	for i := range cur.Others {
		u := &cur.Others[i]
		n.others[u.ID] = u
		k := strings.ToLower(u.Username)
		n.byName[k] = append(n.byName[k], u)
		if u.Anchor == "" && u.Email != "" {
			ke := strings.ToLower(u.Email)
			n.byEmail[ke] = append(n.byEmail[ke], u)
		}
	}
	for i := range rd.present {
		r := results.at(i)
		if r == nil {
			continue // dropped: the stored user's own name (dropUnchanged)
		}
		// Only a rename that will surely be made frees a name: one onto a
		// name nobody else holds (decideExisting blocks the others).
		if c := st.users[r.Anchor]; c != nil && !r.Blocked && !strings.EqualFold(c.Username, r.Username) &&
			firstOther(n.byName[strings.ToLower(r.Username)], c.ID) == nil {
			n.renamedAway[c.ID] = true
		}
	}
	return n
}

// candidates are the local users a new directory user mapped to r may be
// linked to: those holding its username (except this directory's users
// renamed away in this run) and, linking by e-mail, unlinked users with
// its address.
func (n *nameIndex) candidates(r *mapping.Result, dir string, linkBy mapping.LinkBy) []store.User {
	var cands []store.User
	for _, h := range n.byName[strings.ToLower(r.Username)] {
		if h.Source == dir && n.renamedAway[h.ID] {
			continue
		}
		cands = append(cands, *h)
	}
	if linkBy == mapping.LinkByEmail && r.Email != "" {
		for _, h := range n.byEmail[strings.ToLower(r.Email)] {
			if !slices.ContainsFunc(cands, func(u store.User) bool { return u.ID == h.ID }) {
				cands = append(cands, *h)
			}
		}
	}
	return cands
}
