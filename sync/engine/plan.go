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
			groups = append(groups, entryGroup(e))
		}
	}
	return groups
}

// listedInOrder reports, for each of groups, whether its member list is
// exactly the anchors of the present users whose own Groups name it, in
// the users' order. A reader that fills both from one membership (the
// LDAP reader does) lists each group's members in that order: walking
// both at once then settles, string by string, what a lookup of each
// member by anchor would (450,000 members of a large directory: ~30 ms
// instead of ~300). It keeps a cursor per group rather than building the
// lists: those came to 20 MB of garbage at the sync's busiest moment.
func listedInOrder(groups []directory.Group, present []directory.User) []bool {
	at := make(map[string]int, len(groups))
	for i, g := range groups {
		at[g.Anchor] = i
	}
	next := make([]int, len(groups)) // each group's next member to match
	same := make([]bool, len(groups))
	for i := range same {
		same[i] = true
	}
	for i := range present {
		u := &present[i]
		for _, g := range u.Groups {
			gi, ok := at[g]
			if !ok || !same[gi] {
				continue
			}
			if ms := groups[gi].Members; next[gi] < len(ms) && ms[next[gi]] == u.Anchor {
				next[gi]++
			} else {
				same[gi] = false
			}
		}
	}
	for gi := range groups {
		if next[gi] != len(groups[gi].Members) {
			same[gi] = false
		}
	}
	return same
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
		shareEntry(e, u)
		share(&e.UserID, c.ID)
	}
}

// shareEntry points a stored entry's strings at the read user's equal
// ones, as shareRead does.
func shareEntry(e *store.DirectoryEntry, u *directory.User) {
	for _, p := range [...]struct {
		dst *string
		src string
	}{{&e.Anchor, u.Anchor}, {&e.DN, u.DN}, {&e.Name, u.Username}} {
		if *p.dst == p.src {
			*p.dst = p.src
		}
	}
	if slices.Equal(e.Groups, u.Groups) {
		e.Groups = u.Groups
	}
}

// readSharer points the rows loaded for a complete read at the read's
// equal strings (shareRead) as each row arrives from the store: the
// store's copies of a large directory's users and entries (45 MB and
// 30 MB for 100,000 users, and 450,000 member anchors) are then garbage
// at once instead of being held beside the read's until NewPlan.
type readSharer struct {
	read   []directory.User
	at     map[string]int32  // read users by anchor
	groups map[string]string // read groups' anchors, by themselves
}

func newReadSharer(snap directory.Snapshot) *readSharer {
	s := &readSharer{read: snap.Users, at: make(map[string]int32, len(snap.Users)), groups: make(map[string]string, len(snap.Groups))}
	for i := range snap.Users {
		s.at[snap.Users[i].Anchor] = int32(i)
	}
	for _, g := range snap.Groups {
		s.groups[g.Anchor] = g.Anchor
	}
	return s
}

// user shares a loaded user's strings.
func (s *readSharer) user(u *store.User) {
	if j, ok := s.at[u.Anchor]; ok {
		shareRead(u, nil, &s.read[j])
	}
}

// entry shares a loaded entry's strings: a user entry's with its read
// user's, the anchors a group lists as members with the read users',
// the groups a user entry lists with the read groups'.
func (s *readSharer) entry(e *store.DirectoryEntry) {
	if e.Kind == store.EntryGroup {
		if a, ok := s.groups[e.Anchor]; ok {
			e.Anchor = a
		}
		for k, m := range e.Groups {
			if j, ok := s.at[m]; ok {
				e.Groups[k] = s.read[j].Anchor
			}
		}
		return
	}
	if j, ok := s.at[e.Anchor]; ok {
		shareEntry(e, &s.read[j])
	}
	for k, g := range e.Groups {
		if a, ok := s.groups[g]; ok {
			e.Groups[k] = a
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
	// Compared first: most users' fields are unchanged, and the sorted
	// union of their keys is a few allocations per user of a large read.
	if !maps.Equal(a.Fields, b.Fields) {
		for _, k := range slices.Sorted(maps.Keys(unionKeys(a.Fields, b.Fields))) {
			str("fields."+k, a.Fields[k], b.Fields[k], "")
		}
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
