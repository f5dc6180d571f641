package engine

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/directory"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

const (
	gAgents = "g-agents"
	gSup    = "g-sup"
)

func testMapper(t testing.TB) *mapping.Mapper {
	t.Helper()
	m, err := mapping.NewMapper(mapping.Config{
		Directory: "corp",
		Rules: []mapping.Rule{
			{Group: "CC-Supervisors", Profile: "Supervisor", Units: []string{"Floor 2"}},
			{Group: "CC-Agents", Profile: "Agent", Units: []string{"Floor 1"}},
		},
		Templates: mapping.Templates{Username: "{{lower .username}}"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// dirUser is a directory user in the given groups.
func dirUser(anchor, name string, groups ...string) directory.User {
	return directory.User{
		Anchor: anchor, DN: "CN=" + name + ",OU=Staff,DC=corp,DC=example,DC=com", Username: name,
		UPN: name + "@corp.example.com", Email: name + "@corp.example.com", DisplayName: name,
		Groups: groups,
	}
}

func snapshot(complete bool, users ...directory.User) directory.Snapshot {
	s := directory.Snapshot{Complete: complete, Users: users, Cursor: "c1", Groups: []directory.Group{
		{Anchor: gAgents, Name: "CC-Agents", DN: "CN=CC-Agents,OU=Groups,DC=corp,DC=example,DC=com"},
		{Anchor: gSup, Name: "CC-Supervisors", DN: "CN=CC-Supervisors,OU=Groups,DC=corp,DC=example,DC=com"},
	}}
	for i := range s.Groups {
		for _, u := range users {
			for _, g := range u.Groups {
				if g == s.Groups[i].Anchor {
					s.Groups[i].Members = append(s.Groups[i].Members, u.Anchor)
				}
			}
		}
	}
	return s
}

// synced is the store user a previous sync of du (in Agents) left behind.
func synced(id string, du directory.User, profile string, units ...string) store.User {
	return store.User{
		ID: id, Username: strings.ToLower(du.Username), DisplayName: du.DisplayName, Email: du.Email,
		State: store.StateActive, Source: "corp", Anchor: du.Anchor, DN: du.DN, UPN: du.UPN,
		SAMAccountName: du.Username, Profile: profile, Units: units, Version: 1,
	}
}

func entryOf(du directory.User, userID string) store.DirectoryEntry {
	return store.DirectoryEntry{Directory: "corp", Anchor: du.Anchor, Kind: store.EntryUser, DN: du.DN,
		Name: du.Username, Groups: du.Groups, UserID: userID}
}

func findItem(p Plan, anchor string) *Item {
	for i := range p.Items {
		if p.Items[i].Anchor == anchor {
			return &p.Items[i]
		}
	}
	return nil
}

func TestPlan(t *testing.T) {
	alice := dirUser("a-1", "Alice", gAgents)
	bob := dirUser("b-2", "Bob", gAgents)
	carol := dirUser("c-3", "Carol", gAgents)

	type want struct {
		counts  store.SyncCounts
		kind    map[string]Kind   // anchor -> kind
		reason  map[string]string // anchor -> reason
		change  []string          // substrings of some change's String()
		blocked []string          // anchors
		notes   []string          // substrings of some note
	}
	tests := []struct {
		name string
		cur  Current
		snap directory.Snapshot
		want want
	}{
		{
			name: "create",
			snap: snapshot(true, alice),
			want: want{counts: store.SyncCounts{Created: 1}, kind: map[string]Kind{"a-1": KindCreate},
				change: []string{`profile "" -> Agent: rule 2 (group CC-Agents)`, "username", "units"}},
		},
		{
			name: "unchanged",
			cur:  Current{Users: []store.User{synced("u1", alice, "Agent", "Floor 1")}, Entries: []store.DirectoryEntry{entryOf(alice, "u1")}},
			snap: snapshot(true, alice),
			want: want{counts: store.SyncCounts{Unchanged: 1}},
		},
		{
			name: "profile change names its rule",
			cur:  Current{Users: []store.User{synced("u1", alice, "Agent", "Floor 1")}, Entries: []store.DirectoryEntry{entryOf(alice, "u1")}},
			snap: snapshot(true, dirUser("a-1", "Alice", gAgents, gSup)),
			want: want{counts: store.SyncCounts{Updated: 1}, kind: map[string]Kind{"a-1": KindUpdate},
				change: []string{"profile Agent -> Supervisor: rule 1 (group CC-Supervisors)", "+Floor 2: rule 1 (group CC-Supervisors)"}},
		},
		{
			name: "rename and OU move keep the same user",
			cur:  Current{Users: []store.User{synced("u1", alice, "Agent", "Floor 1")}, Entries: []store.DirectoryEntry{entryOf(alice, "u1")}},
			snap: snapshot(true, directory.User{Anchor: "a-1", Username: "Alice2", DN: "CN=Alice2,OU=Moved,DC=corp,DC=example,DC=com",
				UPN: "alice2@corp.example.com", Email: alice.Email, DisplayName: alice.DisplayName, Groups: []string{gAgents}}),
			want: want{counts: store.SyncCounts{Updated: 1}, kind: map[string]Kind{"a-1": KindUpdate},
				change: []string{"username alice -> alice2", "dn CN=Alice,OU=Staff", "upn Alice@corp.example.com -> alice2@"}},
		},
		{
			name: "deactivation reasons",
			cur: Current{Users: []store.User{
				synced("u1", alice, "Agent", "Floor 1"), synced("u2", bob, "Agent", "Floor 1"),
				synced("u3", carol, "Agent", "Floor 1"), synced("u4", dirUser("d-4", "Dave"), "Agent", "Floor 1"),
				synced("u5", dirUser("e-5", "Eve"), "Agent", "Floor 1"),
			}, Entries: []store.DirectoryEntry{entryOf(alice, "u1"), entryOf(bob, "u2"), entryOf(carol, "u3")}},
			snap: snapshot(true,
				func() directory.User { u := alice; u.Disabled = true; return u }(),
				func() directory.User { u := bob; u.AccountExpiresAt = t0.Add(-time.Hour); return u }(),
				carol,
				func() directory.User { u := dirUser("e-5", "Eve"); u.Deleted = true; return u }(),
			),
			want: want{counts: store.SyncCounts{Deactivated: 4, Unchanged: 1},
				reason: map[string]string{"a-1": ReasonDisabled, "b-2": ReasonExpired, "d-4": ReasonLeftGroups, "e-5": ReasonDeleted}},
		},
		{
			name: "a user with no imported group left is deactivated even by an incremental read",
			cur:  Current{Users: []store.User{synced("u1", alice, "Agent", "Floor 1")}, Entries: []store.DirectoryEntry{entryOf(alice, "u1")}},
			snap: snapshot(false, dirUser("a-1", "Alice")),
			want: want{counts: store.SyncCounts{Deactivated: 1}, reason: map[string]string{"a-1": ReasonLeftGroups}},
		},
		{
			name: "incremental read never deactivates the absent",
			cur: Current{Users: []store.User{
				synced("u1", alice, "Agent", "Floor 1"), synced("u2", bob, "Agent", "Floor 1"), synced("u3", carol, "Agent", "Floor 1"),
			}, Entries: []store.DirectoryEntry{entryOf(alice, "u1"), entryOf(bob, "u2"), entryOf(carol, "u3")}},
			snap: snapshot(false, alice),
			want: want{counts: store.SyncCounts{Unchanged: 1}},
		},
		{
			name: "full read deactivates the absent",
			cur: Current{Users: []store.User{
				synced("u1", alice, "Agent", "Floor 1"), synced("u2", bob, "Agent", "Floor 1"),
			}, Entries: []store.DirectoryEntry{entryOf(alice, "u1"), entryOf(bob, "u2")}},
			snap: snapshot(true, alice),
			want: want{counts: store.SyncCounts{Deactivated: 1, Unchanged: 1}, reason: map[string]string{"b-2": ReasonLeftGroups}},
		},
		{
			name: "reactivate what the sync deactivated, not what an admin did",
			cur: Current{Users: []store.User{
				func() store.User {
					u := synced("u1", alice, "Agent", "Floor 1")
					u.State, u.DeactivatedReason = store.StateInactive, ReasonDisabled
					return u
				}(),
				func() store.User {
					u := synced("u2", bob, "Agent", "Floor 1")
					u.State, u.DeactivatedReason = store.StateInactive, "deactivated by admin"
					return u
				}(),
			}, Entries: []store.DirectoryEntry{entryOf(alice, "u1"), entryOf(bob, "u2")}},
			snap: snapshot(true, alice, bob),
			want: want{counts: store.SyncCounts{Reactivated: 1, Unchanged: 1}, kind: map[string]Kind{"a-1": KindReactivate},
				change: []string{"state inactive -> active"}},
		},
		{
			name: "pinned profile is left alone and said so",
			cur: Current{Users: []store.User{func() store.User {
				u := synced("u1", alice, "Special", "Floor 1")
				u.PinnedProfile = true
				return u
			}()}, Entries: []store.DirectoryEntry{entryOf(alice, "u1")}},
			snap: snapshot(true, dirUser("a-1", "Alice", gAgents, gSup)),
			want: want{counts: store.SyncCounts{Updated: 1}, kind: map[string]Kind{"a-1": KindUpdate},
				change: []string{"units"}, notes: []string{`profile pinned to "Special"`, "left alone"}},
		},
		{
			name: "two directory users mapping to one username are both blocked",
			snap: snapshot(true, alice, dirUser("a-9", "ALICE", gAgents), bob),
			want: want{counts: store.SyncCounts{Created: 1}, blocked: []string{"a-1", "a-9"}},
		},
		{
			name: "local user is linked, privileged local user is not",
			cur: Current{LinkBy: mapping.LinkByUsername, Profiles: map[string][]string{"Admin": {"grant_all"}}, Others: []store.User{
				{ID: "l1", Username: "alice", Source: store.SourceLocal, State: store.StateActive, Version: 3},
				{ID: "l2", Username: "bob", Source: store.SourceLocal, State: store.StateActive, Profile: "Admin"},
				{ID: "o3", Username: "carol", Source: "other", Anchor: "x", State: store.StateActive},
			}},
			snap: snapshot(true, alice, bob, carol),
			want: want{counts: store.SyncCounts{Updated: 1}, kind: map[string]Kind{"a-1": KindLink},
				change: []string{"source local -> corp"}, blocked: []string{"b-2", "c-3"}},
		},
		{
			name: "a rename onto a taken name is blocked",
			cur: Current{Users: []store.User{synced("u1", alice, "Agent", "Floor 1")},
				Others: []store.User{{ID: "l1", Username: "alice2", Source: store.SourceLocal}}},
			snap: snapshot(true, dirUser("a-1", "Alice2", gAgents)),
			want: want{blocked: []string{"a-1"}},
		},
		{
			name: "a new user takes the name a renamed user gives up",
			cur:  Current{Users: []store.User{synced("u1", alice, "Agent", "Floor 1")}, Entries: []store.DirectoryEntry{entryOf(alice, "u1")}},
			snap: snapshot(true, dirUser("a-1", "Alice.Old", gAgents), dirUser("n-1", "Alice", gAgents)),
			want: want{counts: store.SyncCounts{Created: 1, Updated: 1}, kind: map[string]Kind{"a-1": KindUpdate, "n-1": KindCreate}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cur.Directory = "corp"
			p, _ := NewPlan(tt.cur, tt.snap, testMapper(t), t0)
			if p.Counts != tt.want.counts {
				t.Errorf("counts = %+v, want %+v\n%s", p.Counts, tt.want.counts, p.Summary())
			}
			for a, k := range tt.want.kind {
				if it := findItem(p, a); it == nil || it.Kind != k {
					t.Errorf("item %s: got %+v, want kind %s", a, it, k)
				}
			}
			for a, r := range tt.want.reason {
				if it := findItem(p, a); it == nil || it.Kind != KindDeactivate || it.Reason != r {
					t.Errorf("item %s: got %+v, want deactivate: %s", a, it, r)
				}
			}
			var changes, notes []string
			for _, it := range p.Items {
				for _, c := range it.ChangeList() {
					changes = append(changes, c.String())
				}
				notes = append(notes, it.Notes...)
			}
			for _, w := range tt.want.change {
				if !containsSub(changes, w) {
					t.Errorf("no change %q in %q", w, changes)
				}
			}
			for _, w := range tt.want.notes {
				if !containsSub(notes, w) {
					t.Errorf("no note %q in %q", w, notes)
				}
			}
			var blocked []string
			for _, b := range p.Blocked {
				blocked = append(blocked, b.Anchor)
			}
			if fmt.Sprint(blocked) != fmt.Sprint(tt.want.blocked) && !(len(blocked) == 0 && len(tt.want.blocked) == 0) {
				t.Errorf("blocked = %v, want %v\n%s", blocked, tt.want.blocked, p.Summary())
			}
			// Whatever the plan, it prints.
			if _, err := p.JSON(0); err != nil {
				t.Error(err)
			}
			if !strings.Contains(p.Summary(), "Plan for directory corp") {
				t.Error("summary lacks its header")
			}
		})
	}
}

func containsSub(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// TestPlanIncrementalNeverDeactivatesAbsentees pins the rule the whole
// design leans on: whatever the store holds, an incomplete read with nobody
// in it deactivates nobody.
func TestPlanIncrementalNeverDeactivatesAbsentees(t *testing.T) {
	var cur Current
	cur.Directory = "corp"
	for i := range 100 {
		du := dirUser(fmt.Sprintf("a-%d", i), fmt.Sprintf("user%d", i), gAgents)
		cur.Users = append(cur.Users, synced(fmt.Sprintf("u%d", i), du, "Agent", "Floor 1"))
		cur.Entries = append(cur.Entries, entryOf(du, fmt.Sprintf("u%d", i)))
	}
	for _, snap := range []directory.Snapshot{
		{Complete: false},
		snapshot(false),
		snapshot(false, dirUser("a-0", "user0", gAgents)),
	} {
		p, _ := NewPlan(cur, snap, testMapper(t), t0)
		if p.Counts.Deactivated != 0 || len(p.RemoveEntries) != 0 {
			t.Fatalf("incremental plan deactivates %d, removes %d entries:\n%s", p.Counts.Deactivated, len(p.RemoveEntries), p.Summary())
		}
	}
}

func TestPlanCarriesPasswordInfo(t *testing.T) {
	du := dirUser("a-1", "Alice", gAgents)
	changed := time.Date(2026, 10, 1, 8, 30, 0, 123, time.UTC)
	du.Password = directory.PasswordInfo{ChangedAt: changed, ExpiresAt: changed.Add(90 * 24 * time.Hour), MustChange: true}
	du.AccountExpiresAt = t0.Add(365 * 24 * time.Hour)
	p, _ := NewPlan(Current{Directory: "corp"}, snapshot(true, du), testMapper(t), t0)
	if len(p.Items) != 1 {
		t.Fatalf("items = %+v", p.Items)
	}
	u := p.Items[0].Row()
	if !u.PasswordChangedAt.Equal(changed.Truncate(time.Second)) || !u.PasswordExpiresAt.Equal(changed.Add(90*24*time.Hour).Truncate(time.Second)) ||
		!u.MustChangePassword || u.PasswordNeverExpires || !u.AccountExpiresAt.Equal(du.AccountExpiresAt) {
		t.Errorf("password info not carried: %+v", u)
	}
	if u.Profile != "Agent" || u.Units[0] != "Floor 1" || u.State != store.StateActive || u.Source != "corp" || u.Anchor != "a-1" {
		t.Errorf("user = %+v", u)
	}

	// Applying the plan's own result gives a no-change plan.
	u.ID, u.Version = "u1", 1
	entries := slices.Collect(p.EntriesToWrite())
	if entries[0].Anchor != "a-1" {
		t.Fatalf("entries = %+v", entries)
	}
	entries[0].UserID = "u1"
	cur := Current{Directory: "corp", Users: []store.User{u}, Entries: entries}
	p2, _ := NewPlan(cur, snapshot(true, du), testMapper(t), t0.Add(time.Hour))
	if p2.Counts != (store.SyncCounts{Unchanged: 1}) || len(p2.Entries) != 0 {
		t.Errorf("second plan not idle: %+v entries %d\n%s", p2.Counts, len(p2.Entries), p2.Summary())
	}
}

func TestPlanJSONTruncates(t *testing.T) {
	var users []directory.User
	for i := range 20 {
		users = append(users, dirUser(fmt.Sprintf("a-%d", i), fmt.Sprintf("user%d", i), gAgents))
	}
	p, _ := NewPlan(Current{Directory: "corp"}, snapshot(true, users...), testMapper(t), t0)
	b, err := p.JSON(5)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Items     []json.RawMessage `json:"items"`
		Truncated int               `json:"items_truncated"`
		Counts    store.SyncCounts  `json:"counts"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Items) != 5 || got.Truncated != 15 || got.Counts.Created != 20 || len(p.Items) != 20 {
		t.Errorf("items %d truncated %d counts %+v", len(got.Items), got.Truncated, got.Counts)
	}
}

func BenchmarkPlan100k(b *testing.B) {
	const n = 100_000
	var users []directory.User
	var cur Current
	cur.Directory = "corp"
	for i := range n {
		g := gAgents
		if i%10 == 0 {
			g = gSup
		}
		du := dirUser(fmt.Sprintf("anchor-%06d", i), fmt.Sprintf("user%06d", i), g)
		du.Attributes = map[string][]string{"sAMAccountName": {du.Username}, "mail": {du.Email}}
		users = append(users, du)
		prof, unit := "Agent", "Floor 1"
		if g == gSup {
			prof, unit = "Supervisor", "Floor 2"
		}
		u := synced(fmt.Sprintf("u%06d", i), du, prof, unit)
		cur.Users = append(cur.Users, u)
		e := entryOf(du, u.ID)
		e.Attributes = du.Attributes
		cur.Entries = append(cur.Entries, e)
	}
	snap := snapshot(true, users...)
	for _, g := range snap.Groups {
		cur.Entries = append(cur.Entries, store.DirectoryEntry{Directory: "corp", Anchor: g.Anchor, Kind: store.EntryGroup,
			DN: g.DN, Name: g.Name, Groups: sortedCopy(g.Members)})
	}
	// A few changes so the plan has something to say.
	snap.Users[5].DisplayName = "Renamed"
	snap.Users[7].Disabled = true
	m := testMapper(b)
	b.ResetTimer()
	b.ReportAllocs()
	for b.Loop() {
		p, _ := NewPlan(cur, snap, m, t0)
		if p.Counts.Unchanged != n-2 || p.Counts.Updated != 1 || p.Counts.Deactivated != 1 {
			b.Fatalf("counts %+v", p.Counts)
		}
	}
}

func TestPlanSummary(t *testing.T) {
	alice, bob := dirUser("a-1", "Alice", gAgents), dirUser("b-2", "Bob", gAgents)
	cur := Current{Directory: "corp",
		Users:   []store.User{synced("u1", alice, "Agent", "Floor 1"), synced("u2", bob, "Agent", "Floor 1")},
		Entries: []store.DirectoryEntry{entryOf(alice, "u1"), entryOf(bob, "u2")}}
	p, _ := NewPlan(cur, snapshot(true, dirUser("a-1", "Alice", gAgents, gSup), dirUser("n-3", "Nina", gAgents)), testMapper(t), t0)
	got := p.Summary()
	for _, want := range []string{
		"Plan for directory corp (full read; 2 users and 2 groups read)",
		"create 1, update 1, deactivate 1, reactivate 0, unchanged 0; blocked 0, skipped 0",
		"deactivate bob: left all imported groups\n",
		"    groups lost: CC-Agents\n",
		"update alice\n    profile Agent -> Supervisor: rule 1 (group CC-Supervisors)\n",
		"    groups gained: CC-Supervisors\n",
		"create nina\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	// Deactivations come first: they are what an administrator checks.
	if strings.Index(got, "deactivate bob") > strings.Index(got, "update alice") {
		t.Errorf("deactivations not first:\n%s", got)
	}
}

func TestPlanLinkByEmail(t *testing.T) {
	alice := dirUser("a-1", "Alice", gAgents)
	cur := Current{Directory: "corp", LinkBy: mapping.LinkByEmail, Others: []store.User{
		{ID: "l1", Username: "asmith", Email: "ALICE@corp.example.com", Source: store.SourceLocal, State: store.StateActive, Version: 2},
	}}
	p, _ := NewPlan(cur, snapshot(true, alice), testMapper(t), t0)
	it := findItem(p, "a-1")
	if it == nil || it.Kind != KindLink || it.UserID != "l1" || it.User.Username != "alice" || it.User.Version != 2 || it.User.Source != "corp" {
		t.Fatalf("link item = %+v\n%s", it, p.Summary())
	}
	if p.Entries[0].UserID != "l1" {
		t.Errorf("entry not mapped to the linked user: %+v", p.Entries[0])
	}

	// link_by none: the same local user blocks nothing (other username) and
	// a new user is created.
	cur.LinkBy = mapping.LinkByNone
	p, _ = NewPlan(cur, snapshot(true, alice), testMapper(t), t0)
	if it := findItem(p, "a-1"); it == nil || it.Kind != KindCreate {
		t.Fatalf("link_by none: %+v", it)
	}
}

func TestPlanSwapIsBlocked(t *testing.T) {
	alice, bob := dirUser("a-1", "Alice", gAgents), dirUser("b-2", "Bob", gAgents)
	cur := Current{Directory: "corp",
		Users:   []store.User{synced("u1", alice, "Agent", "Floor 1"), synced("u2", bob, "Agent", "Floor 1")},
		Entries: []store.DirectoryEntry{entryOf(alice, "u1"), entryOf(bob, "u2")}}
	swapped := snapshot(true, dirUser("a-1", "Bob", gAgents), dirUser("b-2", "Alice", gAgents))
	p, _ := NewPlan(cur, swapped, testMapper(t), t0)
	if len(p.Blocked) != 2 || len(p.Items) != 0 {
		t.Fatalf("swap: %s", p.Summary())
	}
}

// TestMapUsersParallel: spreading the mapping over goroutines gives what
// one MapAll call gives, collisions across chunks included.
func TestMapUsersParallel(t *testing.T) {
	var users []directory.User
	for i := range 40 {
		users = append(users, dirUser(fmt.Sprintf("a-%02d", i), fmt.Sprintf("user%02d", i), gAgents))
	}
	users[3].Username, users[20].Username, users[35].Username = "same", "Same", "SAME" // across chunks
	users[36].Username, users[37].Username = "twice", "Twice"                          // within a chunk
	users[10].Groups = nil                                                             // no rule matches
	m := testMapper(t)
	groups := snapshot(true, users...).Groups
	want, _ := m.MapAll(users, groups, nil)
	got, warns := mapUsers(m, users, groups, nil, 4)
	if len(got) != len(want) {
		t.Fatalf("%d results, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Username != want[i].Username || got[i].Blocked != want[i].Blocked || got[i].Profile != want[i].Profile {
			t.Errorf("result %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	blocking := 0
	for _, w := range warns {
		if w.Blocking {
			blocking++
		}
	}
	if blocking != 5 {
		t.Errorf("%d blocking warnings, want 5: %v", blocking, warns)
	}
}

// A reader may list a membership on the group only, or list a group's
// members in another order than its users: the plan still gives each
// member the group (and the rules that follow from it).
func TestPlanMembersListedOnGroupOnly(t *testing.T) {
	alice := dirUser("a-1", "Alice", gAgents)
	bob := dirUser("b-2", "Bob", gAgents)
	carol := dirUser("c-3", "Carol") // member of Supervisors by the group's list only
	snap := snapshot(true, alice, bob, carol)
	snap.Groups[0].Members = []string{"b-2", "a-1"}         // the users' order reversed
	snap.Groups[1].Members = []string{"c-3", "gone", "a-1"} // a-1 lacks it too; "gone" was not read
	p, _ := NewPlan(Current{Directory: "corp"}, snap, testMapper(t), t0)
	want := map[string]string{"a-1": "Supervisor", "b-2": "Agent", "c-3": "Supervisor"}
	for anchor, profile := range want {
		it := findItem(p, anchor)
		if it == nil || it.Kind != KindCreate || it.Row().Profile != profile {
			t.Errorf("%s: item %+v, want a create with profile %s", anchor, it, profile)
		}
	}
}

// TestMapUsersDropped: results a plan drops as unchanged are gone, the
// rest are as one MapAll call gives them, and a collision across chunks
// with a dropped user's name restores and blocks it too.
func TestMapUsersDropped(t *testing.T) {
	var users []directory.User
	for i := range 40 {
		users = append(users, dirUser(fmt.Sprintf("a-%02d", i), fmt.Sprintf("user%02d", i), gAgents))
	}
	users[35].Username = "user03" // a new user taking a stored user's name, in another chunk
	m := testMapper(t)
	groups := snapshot(true, users...).Groups
	want, _ := m.MapAll(users, groups, nil)
	existing := map[string]*store.User{}
	for i := range 30 { // users 30-39 are new
		existing[users[i].Anchor] = &store.User{ID: fmt.Sprint(i), Username: want[i].Username}
	}
	drop := func(i int, r *mapping.Result) bool {
		s := existing[users[i].Anchor]
		return s != nil && !r.Blocked && r.Username == s.Username && i%2 == 0 // even ones "unchanged"
	}
	got, warns := mapUserChunks(m, users, groups, existing, 4, drop)
	for i := range users {
		r := got.at(i)
		switch {
		case i == 3 || i == 35:
			if r == nil || !r.Blocked || r.Username != "user03" || r.DN != users[i].DN || r.Anchor != users[i].Anchor {
				t.Errorf("result %d: got %+v, want user03 blocked", i, r)
			}
		case i < 30 && i%2 == 0:
			if r != nil {
				t.Errorf("result %d: got %+v, want it dropped", i, r)
			}
		case r == nil || r.Username != want[i].Username || r.Blocked || r.Profile != want[i].Profile:
			t.Errorf("result %d: got %+v, want %+v", i, r, want[i])
		}
	}
	blocking := 0
	for _, w := range warns {
		if w.Blocking {
			blocking++
		}
	}
	if blocking != 2 {
		t.Errorf("%d blocking warnings, want 2: %v", blocking, warns)
	}
}

// TestListedInOrder pins the fast path of resolveMemberships: a group
// counts as listed in order only when its members are exactly the present
// users naming it, in the users' order.
func TestListedInOrder(t *testing.T) {
	users := func(groups ...[]string) []directory.User {
		out := make([]directory.User, len(groups))
		for i, g := range groups {
			out[i] = directory.User{Anchor: fmt.Sprintf("u%d", i), Groups: g}
		}
		return out
	}
	g := func(members ...string) []directory.Group { return []directory.Group{{Anchor: "g", Members: members}} }
	for _, tc := range []struct {
		name    string
		groups  []directory.Group
		present []directory.User
		want    bool
	}{
		{"same order", g("u0", "u1"), users([]string{"g"}, []string{"g"}), true},
		{"no members, no user names it", g(), users(nil, nil), true},
		{"other order", g("u1", "u0"), users([]string{"g"}, []string{"g"}), false},
		{"a member not present", g("u0", "x", "u1"), users([]string{"g"}, []string{"g"}), false},
		{"a trailing member not present", g("u0", "u1", "x"), users([]string{"g"}, []string{"g"}), false},
		{"a user names it, not listed", g("u0"), users([]string{"g"}, []string{"g"}), false},
		{"listed, the user does not name it", g("u0", "u1"), users([]string{"g"}, nil), false},
		{"other groups named too", g("u0"), users([]string{"h", "g"}), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := listedInOrder(tc.groups, tc.present)[0]; got != tc.want {
				t.Errorf("listedInOrder = %v, want %v", got, tc.want)
			}
		})
	}
}
