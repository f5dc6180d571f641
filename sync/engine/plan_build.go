package engine

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// NewPlan diffs a read against the store's state of its directory. It does
// no I/O and reads no clock (now is passed): the same inputs give the same
// plan.
//
// It is not pure in two ways, both for the memory of large directories.
// It takes cur over: cur's strings and stored member lists are pointed at
// equal strings of the read (see shareWithRead), so values never change
// but cur must not be used elsewhere while it runs. And it maps a large
// read on several goroutines (see mapUserChunks), which have all ended
// when it returns. snap is only read; a caller that lets go of its own
// copy lets NewPlan free the parts it is done with (the groups' member
// lists) while it goes on.
//
// Identity is the anchor: a user whose username, UPN, DN or OU changed is
// updated, never created again. An incomplete (incremental) snapshot never
// deactivates anyone for being absent from it; users it contains may still
// be deactivated for what it says about them (disabled, expired, deleted,
// no imported group left). Each present user is decided by decideUser.
func NewPlan(cur Current, snap directory.Snapshot, mapper Mapper, now time.Time) (Plan, []Warning) {
	b := newPlanner(cur, snap, now)
	st := indexStored(&b.cur)
	b.p.ActiveBefore = st.active
	if b.cur.Partial {
		b.p.ActiveBefore, b.p.KnownBefore = b.cur.ActiveBefore, b.cur.KnownBefore
	}
	groups := planGroups(b.cur, b.snap)
	names, readGroup := groupNames(b.snap.Groups, st.groupEntries)
	rd := splitRead(b.snap.Users, b.warnf)
	news := shareWithRead(st, &rd)
	memberOf, mapGroups := resolveMemberships(groups, &rd)
	// Entries are sized for the groups and a few users: a new user's entry
	// is kept with its item, and most others' are as stored. The groups'
	// own are planned first: the read's member lists (450,000 anchors on a
	// large directory) are then let go of here, unless the mapping needs
	// them (mapGroups keeps them then).
	b.p.Entries = make([]store.DirectoryEntry, 0, len(b.snap.Groups)+len(rd.present)/64)
	b.planGroupEntries(st.groupEntries)
	b.snap.Groups = nil

	env := &userEnv{dir: b.cur.Directory, now: b.now, linkBy: b.cur.LinkBy, profiles: b.cur.Profiles,
		groupName: names, linked: map[string]string{}}
	results, mw := mapUserChunks(mapper, rd.present, mapGroups, st.users, mapWorkers(len(rd.present)), dropUnchanged(&rd, st, memberOf, env))
	b.warns = append(b.warns, mw...)
	// Made after the mapping, which holds much of its own while it runs:
	// a large first sync's items are tens of megabytes. Sized once for
	// what is surely coming (an item per new user), not for every user: a
	// run that changes little stays small.
	b.p.Items = make([]Item, 0, news+len(rd.deleted)+len(rd.present)/64)

	env.names = indexNames(&b.cur, st, &rd, results)
	b.decidePresent(&rd, st, results, memberOf, env, notesOf(mw))
	b.planDeleted(rd.deleted, st, names)
	b.planAbsent(&rd, st, readGroup, names)
	b.finish()
	return b.p, b.warns
}

// planner carries one NewPlan call through its stages.
type planner struct {
	p     Plan
	warns []Warning
	cur   Current
	snap  directory.Snapshot
	now   time.Time
}

func newPlanner(cur Current, snap directory.Snapshot, now time.Time) *planner {
	now = now.UTC()
	b := &planner{cur: cur, snap: snap, now: now, p: Plan{
		Directory: cur.Directory, Complete: snap.Complete, GeneratedAt: now, Read: snap.Stats,
		UsersRead: len(snap.Users), GroupsRead: len(snap.Groups), KnownBefore: len(cur.Users),
	}}
	if cur.Partial && snap.Complete {
		// Leavers are found by what the store holds and the read lacks;
		// a partial Current does not hold them all. Deactivating nobody
		// for absence is the safe reading (the Runner never gets here).
		b.warnf("", "", "complete read planned against a partial store load: absent users are left alone")
		b.snap.Complete, b.p.Complete = false, false
	}
	return b
}

func (b *planner) warnf(anchor, username, format string, args ...any) {
	b.warns = append(b.warns, Warning{Directory: b.cur.Directory, Anchor: anchor, Username: username, Message: fmt.Sprintf(format, args...)})
}

// storedIndex is the store's state of the directory, by anchor.
type storedIndex struct {
	users        map[string]*store.User // the directory's users
	userEntries  map[string]*store.DirectoryEntry
	groupEntries map[string]*store.DirectoryEntry
	active       int // the directory's active users
}

// indexStored indexes cur's users and entries; the index points into cur.
func indexStored(cur *Current) storedIndex {
	st := storedIndex{
		users:        make(map[string]*store.User, len(cur.Users)),
		userEntries:  make(map[string]*store.DirectoryEntry, len(cur.Entries)),
		groupEntries: map[string]*store.DirectoryEntry{},
	}
	for i := range cur.Users {
		u := &cur.Users[i]
		if u.State == store.StateActive {
			st.active++
		}
		if u.Anchor != "" {
			st.users[u.Anchor] = u
		}
	}
	for i := range cur.Entries {
		e := &cur.Entries[i]
		if e.Kind == store.EntryGroup {
			st.groupEntries[e.Anchor] = e
		} else {
			st.userEntries[e.Anchor] = e
		}
	}
	return st
}

// groupNames names every group a plan may mention (those read, and those
// stored that the read lacks), and says which were read.
func groupNames(read []directory.Group, stored map[string]*store.DirectoryEntry) (names map[string]string, wasRead map[string]bool) {
	names = make(map[string]string, len(read)+len(stored))
	wasRead = make(map[string]bool, len(read))
	for _, g := range read {
		wasRead[g.Anchor] = true
		names[g.Anchor] = nameOf(g.Name, g.DN, g.Anchor)
	}
	for _, e := range stored {
		if !wasRead[e.Anchor] {
			names[e.Anchor] = nameOf(e.Name, e.DN, e.Anchor)
		}
	}
	return names, wasRead
}

// readIndex is the read's users split into present and deleted ones.
type readIndex struct {
	present []directory.User
	deleted []directory.User
	// seen holds every anchor read: a present user's position in
	// present, -1 for a deleted one.
	seen map[string]int32
}

func (rd *readIndex) has(anchor string) bool { _, ok := rd.seen[anchor]; return ok }

// presentAt is the position in present of the user with anchor, if read
// and not deleted.
func (rd *readIndex) presentAt(anchor string) (int, bool) {
	i, ok := rd.seen[anchor]
	return int(i), ok && i >= 0
}

// splitRead splits the users read into deleted and present ones (the
// first of a repeated anchor wins; a repeat is a reader bug worth a
// warning). Usually every user read is present: the read's own slice is
// then used as is rather than copied (users are large, and many).
func splitRead(users []directory.User, warnf func(anchor, username, format string, args ...any)) readIndex {
	rd := readIndex{present: users[:0:0], seen: make(map[string]int32, len(users))}
	for i, u := range users {
		skip := true
		switch {
		case u.Anchor == "":
			warnf("", u.Username, "directory user %s has no anchor; skipped", nameOf(u.Username, u.DN, ""))
		case rd.has(u.Anchor):
			warnf(u.Anchor, u.Username, "read twice; the first copy is used")
		case u.Deleted:
			rd.seen[u.Anchor] = -1
			rd.deleted = append(rd.deleted, u)
		default:
			skip = false
		}
		switch {
		case !skip && len(rd.present) == i:
			rd.present = users[:i+1] // still the read's own prefix
		case !skip:
			rd.present = append(rd.present, u)
		case len(rd.present) == i:
			// The first user left out: from here present is a copy.
			rd.present = append(make([]directory.User, 0, len(users)), rd.present...)
		}
		if !skip {
			rd.seen[u.Anchor] = int32(len(rd.present) - 1)
		}
	}
	return rd
}

// shareWithRead points the stored state's strings at the read's equal
// ones (see shareRead) and returns how many users read are new. The
// stored groups' member lists name the users read: the same strings, a
// copy each as loaded (a large directory's groups list hundreds of
// thousands of members).
func shareWithRead(st storedIndex, rd *readIndex) (news int) {
	for i := range rd.present {
		u := &rd.present[i]
		c := st.users[u.Anchor]
		if c == nil {
			news++
			continue
		}
		shareRead(c, st.userEntries[u.Anchor], u)
	}
	for _, e := range st.groupEntries {
		for j, m := range e.Groups {
			if i, ok := rd.presentAt(m); ok {
				e.Groups[j] = rd.present[i].Anchor
			}
		}
	}
	return news
}

// resolveMemberships finds, for each present user by position, the groups
// listing it as a member that its own Groups lack (looked up in seen, not
// grown per member: groups list 450,000 members on a large directory). A
// reader that fills both from one membership (the LDAP reader does) leaves
// nothing here; the mapper is then given the groups without their member
// lists, which it need not go through again for every chunk it maps.
// memberOf is nil when no user lacks a group.
func resolveMemberships(groups []directory.Group, rd *readIndex) (memberOf [][]string, mapGroups []directory.Group) {
	same := listedInOrder(groups, rd.present)
	for gi, g := range groups {
		if same[gi] {
			continue // every member lists the group itself
		}
		for _, m := range g.Members {
			if i, ok := rd.presentAt(m); ok && !slices.Contains(rd.present[i].Groups, g.Anchor) {
				if memberOf == nil { // made only when some user lacks a group
					memberOf = make([][]string, len(rd.present))
				}
				memberOf[i] = append(memberOf[i], g.Anchor)
			}
		}
	}
	if memberOf == nil {
		return memberOf, withoutMembers(groups)
	}
	return memberOf, groups
}

// userNotes are the mapping's per-user messages a plan repeats: why a user
// is blocked, and which pinned fields the sync leaves alone.
type userNotes struct {
	block, pin map[string][]string
}

func notesOf(ws []Warning) userNotes {
	n := userNotes{block: map[string][]string{}, pin: map[string][]string{}}
	for _, w := range ws {
		switch {
		case w.Blocking && w.Anchor != "":
			n.block[w.Anchor] = append(n.block[w.Anchor], w.Message)
		case w.Code == mapping.WarnPinned && w.Anchor != "":
			n.pin[w.Anchor] = append(n.pin[w.Anchor], w.Message+" (left alone)")
		}
	}
	return n
}

// decidePresent decides every present user (decideUser) and records the
// decisions in the plan.
func (b *planner) decidePresent(rd *readIndex, st storedIndex, results mapped, memberOf [][]string, env *userEnv, notes userNotes) {
	for i := range rd.present {
		results.done(i) // a large read's results go a chunk at a time
		c := presentCase(rd, st, memberOf, i)
		c.mapped = results.at(i)
		if c.mapped == nil { // dropped as unchanged (dropUnchanged)
			d := newDecision(c, env)
			d.unchanged = true
			b.record(d, c.entry, env)
			continue
		}
		c.blockMsgs, c.pinNotes = notes.block[c.read.Anchor], notes.pin[c.read.Anchor]
		b.record(decideUser(c, env), c.entry, env)
	}
}

// presentCase is present user i's case without its mapping and notes.
func presentCase(rd *readIndex, st storedIndex, memberOf [][]string, i int) userCase {
	du := &rd.present[i]
	var lacking []string
	if memberOf != nil {
		lacking = memberOf[i]
	}
	return userCase{read: du, groups: userGroupAnchors(*du, lacking), stored: st.users[du.Anchor], entry: st.userEntries[du.Anchor]}
}

// dropUnchanged drops, as each chunk is mapped, the results of the users
// decideUser leaves unchanged: stored users whose mapped username is
// theirs (so the run's other users play no part in the decision, see
// decideExisting) and whom nothing blocks. decidePresent then records
// them unchanged without a result; a collision found after the mapping
// restores the result it blocks. env is read only, and its names (made
// from every result) are not needed for such users.
func dropUnchanged(rd *readIndex, st storedIndex, memberOf [][]string, env *userEnv) dropFunc {
	return func(i int, r *mapping.Result) bool {
		s := st.users[rd.present[i].Anchor]
		if s == nil || r.Blocked || !strings.EqualFold(s.Username, r.Username) {
			return false
		}
		c := presentCase(rd, st, memberOf, i)
		c.mapped = r
		return decideUser(c, env).unchanged
	}
}

// record adds one user's decision to the plan.
func (b *planner) record(d userDecision, old *store.DirectoryEntry, env *userEnv) {
	b.warns = append(b.warns, d.warns...)
	switch {
	case d.blocked != nil:
		b.p.Blocked = append(b.p.Blocked, *d.blocked)
	case d.skipped != nil:
		b.p.Skipped = append(b.p.Skipped, *d.skipped)
	case d.unchanged:
		b.p.Counts.Unchanged++
	case d.item.Kind != "":
		b.p.Items = append(b.p.Items, d.item)
	}
	if d.linked != "" {
		env.linked[d.linked] = d.entry.Anchor
	}
	if d.entryWithItem {
		b.p.EntriesChanged++ // written by Apply with the new user's ID
	} else {
		b.p.addEntry(d.entry, old)
	}
}

// planDeleted deactivates the users the read says were deleted and
// removes their entries.
func (b *planner) planDeleted(deleted []directory.User, st storedIndex, names map[string]string) {
	for _, du := range deleted {
		e := st.userEntries[du.Anchor]
		if c := st.users[du.Anchor]; c != nil && c.State == store.StateActive {
			b.p.Items = append(b.p.Items, deactivation(c, ReasonDeleted, e, names))
		}
		if e != nil {
			b.p.RemoveEntries = append(b.p.RemoveEntries, du.Anchor)
		}
	}
}

// planAbsent handles what the store holds and the read lacks. A complete
// read is the whole membership: whoever it lacks has left every imported
// group, and entries it lacks go. An incomplete one says nothing about the
// absent: nothing is done.
func (b *planner) planAbsent(rd *readIndex, st storedIndex, readGroup map[string]bool, names map[string]string) {
	if !b.snap.Complete {
		return
	}
	for _, c := range absentActive(b.cur.Users, rd.has) {
		b.p.Items = append(b.p.Items, deactivation(c, ReasonLeftGroups, st.userEntries[c.Anchor], names))
	}
	for a := range st.userEntries {
		if !rd.has(a) {
			b.p.RemoveEntries = append(b.p.RemoveEntries, a)
		}
	}
	for a := range st.groupEntries {
		if !readGroup[a] {
			b.p.RemoveEntries = append(b.p.RemoveEntries, a)
		}
	}
}

// absentActive is the active users among stored whose anchor a complete
// read lacks (users without an anchor are not the directory's to judge).
func absentActive(stored []store.User, read func(anchor string) bool) []*store.User {
	var out []*store.User
	for i := range stored {
		c := &stored[i]
		if c.Anchor != "" && !read(c.Anchor) && c.State == store.StateActive {
			out = append(out, c)
		}
	}
	return out
}

// deactivation is the item deactivating the stored user c for reason.
func deactivation(c *store.User, reason string, e *store.DirectoryEntry, names map[string]string) Item {
	u := *c
	u.State, u.DeactivatedReason = store.StateInactive, reason
	_, lost := groupDiff(e, nil, names)
	return Item{Kind: KindDeactivate, Anchor: c.Anchor, Username: c.Username, UserID: c.ID, DN: c.DN,
		Reason: reason, User: &u, GroupsLost: lost, Changes: diffUser(*c, u, mapping.Result{})}
}

// planGroupEntries queues the entries of the groups read, with their
// resolved members.
func (b *planner) planGroupEntries(stored map[string]*store.DirectoryEntry) {
	for _, g := range b.snap.Groups {
		e := store.DirectoryEntry{Directory: b.cur.Directory, Anchor: g.Anchor, Kind: store.EntryGroup, DN: g.DN,
			Name: g.Name, Groups: sortedCopy(g.Members), UpdatedAt: b.now}
		b.p.addEntry(e, stored[g.Anchor])
	}
}

// finish puts the plan in its fixed order and counts it.
func (b *planner) finish() {
	p := &b.p
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
	for _, w := range b.warns {
		p.Warnings = append(p.Warnings, w.String())
	}
	p.State = store.DirectoryState{Directory: b.cur.Directory, Cursor: b.snap.Cursor, LastFullAt: b.cur.State.LastFullAt,
		LastSuccessAt: b.now, UpdatedAt: b.now}
	if b.snap.Complete {
		p.State.LastFullAt = b.now
	}
}
