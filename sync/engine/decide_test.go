package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// local is a local user (no directory) named name.
func local(id, name string) store.User {
	return store.User{ID: id, Username: name, Email: name + "@corp.example.com", State: store.StateActive,
		Source: store.SourceLocal, Profile: "Agent", Version: 1}
}

// decideCase is one row of TestDecideUser: a directory user as read, what
// the store holds about it and around it, and what decideUser must do.
type decideCase struct {
	name   string
	read   directory.User
	stored *store.User           // the directory's user with this anchor
	entry  *store.DirectoryEntry // its stored entry
	others []store.User          // local users and other directories' users
	linked map[string]string     // local user ID -> anchor linked earlier in the run

	kind      Kind   // the item's kind; "" for none
	blocked   string // a substring of the block reason; "" for not blocked
	skipped   string // a substring of the skip reason; "" for not skipped
	unchanged bool
	check     func(t *testing.T, d userDecision)
}

// decideUserCases enumerate the safety rules decideUser keeps (see its
// doc comment and DESIGN.md's security invariants).
func decideUserCases() []decideCase {
	alice := dirUser("a-1", "Alice", gAgents)
	stAlice := synced("u1", alice, "Agent", "Floor 1")
	entAlice := entryOf(alice, "u1")
	with := func(u store.User, f func(*store.User)) *store.User { f(&u); return &u }
	disabled := alice
	disabled.Disabled = true
	expired := alice
	expired.AccountExpiresAt = t0.Add(-time.Hour)
	noGroups := dirUser("a-1", "Alice")
	renamed := dirUser("a-1", "Bob", gAgents)
	unmapped := store.DirectoryEntry{Directory: "corp", Anchor: "a-1", Kind: store.EntryUser, Name: "Alice", Unmapped: true}
	privileged := func(name string, f func(*store.User)) decideCase {
		return decideCase{name: "privileged local user is never linked: " + name, read: alice,
			others: []store.User{*with(local("l1", "alice"), f)}, blocked: "privileged"}
	}
	return []decideCase{
		{name: "new eligible user is created", read: alice, kind: KindCreate, check: func(t *testing.T, d userDecision) {
			if !d.entryWithItem || d.item.Row().Profile != "Agent" || d.item.Row().State != store.StateActive {
				t.Errorf("create row %+v, entry kept with item %v", d.item.Row(), d.entryWithItem)
			}
		}},
		{name: "new disabled user is not created", read: disabled, skipped: ReasonDisabled},
		{name: "new expired user is not created", read: expired, skipped: ReasonExpired},
		{name: "new user in no imported group is not created", read: noGroups, skipped: ReasonLeftGroups},
		{name: "user an administrator unmapped is not linked again", read: alice, entry: &unmapped,
			others: []store.User{local("l1", "alice")}, skipped: "unmapped by an administrator"},
		{name: "unprivileged local user is linked", read: alice, others: []store.User{local("l1", "alice")}, kind: KindLink,
			check: func(t *testing.T, d userDecision) {
				if d.linked != "l1" || d.entry.UserID != "l1" || d.item.User.Source != "corp" || d.item.User.Anchor != "a-1" {
					t.Errorf("link to %q, entry user %q, row %+v", d.linked, d.entry.UserID, d.item.User)
				}
			}},
		{name: "linking keeps the local user's pinned profile and units", read: alice,
			others: []store.User{*with(local("l1", "alice"), func(u *store.User) {
				u.Profile, u.PinnedProfile, u.Units, u.PinnedUnits = "Special", true, []string{"Lab"}, true
			})}, kind: KindLink,
			check: func(t *testing.T, d userDecision) {
				if u := d.item.User; u.Profile != "Special" || len(u.Units) != 1 || u.Units[0] != "Lab" {
					t.Errorf("linked row profile %q units %v; want the pinned Special [Lab]", u.Profile, u.Units)
				}
			}},
		privileged("superuser", func(u *store.User) { u.Superuser = true }),
		privileged("emergency account", func(u *store.User) { u.Emergency = true }),
		privileged("profile with grant_all", func(u *store.User) { u.Profile = "Admin" }),
		privileged("custom bypass_sso", func(u *store.User) { u.CustomPrivileges = []string{privilege.BypassSSO} }),
		{name: "a local user is linked once per run", read: alice, others: []store.User{local("l1", "alice")},
			linked: map[string]string{"l1": "z-9"}, blocked: "already linked in this run"},
		{name: "another directory's user keeps its username", read: alice,
			others:  []store.User{*with(local("o1", "alice"), func(u *store.User) { u.Source, u.Anchor = "other", "x-1" })},
			blocked: "already belongs"},
		{name: "unchanged user is left alone", read: alice, stored: &stAlice, entry: &entAlice, unchanged: true},
		{name: "pinned profile and units are kept", read: dirUser("a-1", "Alice", gAgents, gSup),
			stored: with(stAlice, func(u *store.User) { u.PinnedProfile, u.PinnedUnits = true, true }), entry: &entAlice,
			kind: KindUpdate, check: func(t *testing.T, d userDecision) {
				if u := d.item.User; u.Profile != "Agent" || len(u.Units) != 1 || u.Units[0] != "Floor 1" {
					t.Errorf("row profile %q units %v; want the pinned Agent [Floor 1]", u.Profile, u.Units)
				}
				if len(d.item.Changes) != 0 || len(d.item.Notes) == 0 {
					t.Errorf("changes %v, notes %v; want none, and notes on the pins", d.item.Changes, d.item.Notes)
				}
			}},
		{name: "disabled in the directory is deactivated", read: disabled, stored: &stAlice, entry: &entAlice, kind: KindDeactivate,
			check: wantState(store.StateInactive, ReasonDisabled)},
		{name: "left every imported group is deactivated", read: noGroups, stored: &stAlice, entry: &entAlice, kind: KindDeactivate,
			check: wantState(store.StateInactive, ReasonLeftGroups)},
		{name: "deactivated by the sync is reactivated", read: alice, entry: &entAlice, kind: KindReactivate,
			stored: with(stAlice, func(u *store.User) { u.State, u.DeactivatedReason = store.StateInactive, ReasonDisabled }),
			check:  wantState(store.StateActive, "")},
		{name: "deactivated by an administrator stays inactive", read: alice, entry: &entAlice, unchanged: true,
			stored: with(stAlice, func(u *store.User) { u.State, u.DeactivatedReason = store.StateInactive, "left the company" })},
		{name: "rename onto a local user's name is blocked", read: renamed, stored: &stAlice, entry: &entAlice,
			others: []store.User{local("l1", "bob")}, blocked: "username already belongs to local user bob"},
		{name: "rename onto a privileged user's name is blocked", read: renamed, stored: &stAlice, entry: &entAlice,
			others: []store.User{*with(local("l1", "bob"), func(u *store.User) { u.Superuser = true })}, blocked: "rename"},
		{name: "the sync never touches the emergency flag or custom privileges", read: dirUser("a-1", "Alice", gAgents, gSup),
			entry: &entAlice, kind: KindUpdate,
			stored: with(stAlice, func(u *store.User) { u.Emergency, u.CustomPrivileges = true, []string{privilege.GrantAll} }),
			check: func(t *testing.T, d userDecision) {
				if u := d.item.User; !u.Emergency || len(u.CustomPrivileges) != 1 {
					t.Errorf("row emergency %v custom %v; want them as stored", u.Emergency, u.CustomPrivileges)
				}
			}},
		{name: "a blocked mapping changes nobody", read: dirUser("a-1", "", gAgents), stored: &stAlice, entry: &entAlice,
			blocked: "empty username"},
	}
}

func wantState(state store.UserState, reason string) func(t *testing.T, d userDecision) {
	return func(t *testing.T, d userDecision) {
		t.Helper()
		if u := d.item.User; u.State != state || u.DeactivatedReason != reason {
			t.Errorf("row state %s (%q); want %s (%q)", u.State, u.DeactivatedReason, state, reason)
		}
	}
}

// TestDecideUser is decideUser's table against the safety rules.
func TestDecideUser(t *testing.T) {
	m := testMapper(t)
	groups := snapshot(true).Groups
	for _, tc := range decideUserCases() {
		t.Run(tc.name, func(t *testing.T) {
			cur := Current{Directory: "corp", Others: tc.others, LinkBy: "username",
				Profiles: map[string][]string{"Agent": nil, "Admin": {privilege.GrantAll}}}
			existing := map[string]*store.User{}
			if tc.stored != nil {
				cur.Users = []store.User{*tc.stored}
				existing[tc.read.Anchor] = &cur.Users[0]
			}
			results, warns := m.MapAll([]directory.User{tc.read}, groups, existing)
			notes := notesOf(warns)
			st := indexStored(&cur)
			env := &userEnv{dir: "corp", now: t0, linkBy: cur.LinkBy, profiles: cur.Profiles,
				names: indexNames(&cur, st, &readIndex{}, mapped{}), groupName: map[string]string{gAgents: "CC-Agents", gSup: "CC-Supervisors"},
				linked: tc.linked}
			c := userCase{read: &tc.read, groups: userGroupAnchors(tc.read, nil), mapped: &results[0],
				stored: st.users[tc.read.Anchor], entry: tc.entry,
				blockMsgs: notes.block[tc.read.Anchor], pinNotes: notes.pin[tc.read.Anchor]}
			d := decideUser(c, env)

			if d.item.Kind != tc.kind {
				t.Errorf("item kind %q; want %q", d.item.Kind, tc.kind)
			}
			switch {
			case tc.blocked == "" && d.blocked != nil:
				t.Errorf("blocked: %s", d.blocked.Reason)
			case tc.blocked != "" && (d.blocked == nil || !strings.Contains(d.blocked.Reason, tc.blocked)):
				t.Errorf("blocked %+v; want a reason with %q", d.blocked, tc.blocked)
			}
			switch {
			case tc.skipped == "" && d.skipped != nil:
				t.Errorf("skipped: %s", d.skipped.Reason)
			case tc.skipped != "" && (d.skipped == nil || !strings.Contains(d.skipped.Reason, tc.skipped)):
				t.Errorf("skipped %+v; want a reason with %q", d.skipped, tc.skipped)
			}
			if d.unchanged != tc.unchanged {
				t.Errorf("unchanged %v; want %v", d.unchanged, tc.unchanged)
			}
			if d.blocked != nil || d.skipped != nil {
				if d.item.Kind != "" || d.linked != "" {
					t.Errorf("a blocked or skipped user has item %q, link %q", d.item.Kind, d.linked)
				}
			}
			if d.entry.Anchor != tc.read.Anchor || d.entry.Kind != store.EntryUser {
				t.Errorf("entry %+v; want the user's own", d.entry)
			}
			if tc.check != nil && d.item.Kind != "" {
				tc.check(t, d)
			}
		})
	}
}

// TestSafetyRulesAbsentUsers pins the rules about users a read lacks:
// an incremental read deactivates nobody for being absent, a complete read
// planned against a partial store load neither, and a complete read that
// returned nobody is refused by Check whatever the limits.
func TestSafetyRulesAbsentUsers(t *testing.T) {
	alice, bob := dirUser("a-1", "Alice", gAgents), dirUser("b-2", "Bob", gAgents)
	full := Current{Directory: "corp",
		Users:   []store.User{synced("u1", alice, "Agent", "Floor 1"), synced("u2", bob, "Agent", "Floor 1")},
		Entries: []store.DirectoryEntry{entryOf(alice, "u1"), entryOf(bob, "u2")}}
	partial := full
	partial.Partial, partial.ActiveBefore, partial.KnownBefore = true, 2, 2
	open := Limits{MaxCount: -1, MaxPercent: 100, AllowMassDeactivation: true}
	for _, tc := range []struct {
		name        string
		cur         Current
		snap        directory.Snapshot
		deactivated int
		refused     bool
	}{
		{name: "incremental read without the users", cur: full, snap: snapshot(false)},
		{name: "incremental read with one of them", cur: full, snap: snapshot(false, alice)},
		{name: "complete read against a partial load", cur: partial, snap: snapshot(true, alice)},
		{name: "complete read that lacks one", cur: full, snap: snapshot(true, alice), deactivated: 1},
		{name: "complete read that returned nobody", cur: full, snap: snapshot(true), deactivated: 2, refused: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := NewPlan(tc.cur, tc.snap, testMapper(t), t0)
			if p.Counts.Deactivated != tc.deactivated {
				t.Errorf("deactivated %d; want %d:\n%s", p.Counts.Deactivated, tc.deactivated, p.Summary())
			}
			if err := Check(p, open, p.ActiveBefore); (err != nil) != tc.refused {
				t.Errorf("Check with mass deactivation approved: %v; want refused %v", err, tc.refused)
			}
		})
	}
}
