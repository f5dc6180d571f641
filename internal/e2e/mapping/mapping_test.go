package mappinge2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/engine"
)

var (
	alice = ldapUser{uid: "alice"}
	bob   = ldapUser{uid: "bob"}
	carol = ldapUser{uid: "carol"}
)

// TestGroupMovesChangeProfileAndUnits: a user moved between groups gets
// the other profile and units, and the plan — JSON and summary — names
// the rule behind each change.
func TestGroupMovesChangeProfileAndUnits(t *testing.T) {
	e := newEnv(t, organisation(alice, bob))
	_, p := e.sync(true, false)
	if p.Counts.Created != 5 {
		t.Fatalf("first sync: %+v\n%s", p.Counts, p.Summary())
	}
	// Nesting: carol is an agent through Night-Shift, and gets its unit.
	if it, _ := item(p, "carol"); change(it, "profile") != `profile "" -> Agent: rule 3 (group CC-Agents)` ||
		!strings.Contains(change(it, "units"), "+Night: rule 1 (group Night-Shift)") {
		t.Fatalf("carol's creation: %+v", it.Changes)
	}
	if u := e.user("carol"); u.Profile != "Agent" || !slices.Equal(u.Units, []string{"Night", "Floor 1"}) {
		t.Fatalf("carol: %s %v", u.Profile, u.Units)
	}

	// alice is promoted: out of CC-Agents, into CC-Supervisors.
	e.move(alice, "CC-Agents", "CC-Supervisors")
	_, dry := e.sync(true, true)
	it, ok := item(dry, "alice")
	wantProfile := "profile Agent -> Supervisor: rule 2 (group CC-Supervisors)"
	wantUnits := "units Floor 1 -> Floor 2: +Floor 2: rule 2 (group CC-Supervisors); -Floor 1: no matching rule"
	if !ok || it.Kind != engine.KindUpdate || change(it, "profile") != wantProfile || change(it, "units") != wantUnits {
		t.Fatalf("dry run: %+v", it)
	}
	if sum := dry.Summary(); !strings.Contains(sum, "update alice\n    "+wantProfile+"\n    "+wantUnits+"\n") {
		t.Fatalf("summary lacks the causes:\n%s", sum)
	}
	if u := e.user("alice"); u.Profile != "Agent" {
		t.Fatalf("dry run changed alice: %s", u.Profile)
	}

	// alice is signed in with her Agent privileges; the promotion must end
	// that session (she signs in again as a Supervisor), and carol's stays.
	ctx := context.Background()
	now := time.Now()
	for _, se := range []store.Session{{ID: "alice-agent", UserID: e.user("alice").ID}, {ID: "carol-agent", UserID: e.user("carol").ID}} {
		se.Method, se.CreatedAt, se.LastSeenAt, se.ExpiresAt = "saml", now, now, now.Add(time.Hour)
		if err := e.st.Tx(ctx, func(tx store.Tx) error { return tx.CreateSession(ctx, se) }); err != nil {
			t.Fatal(err)
		}
	}

	// The real run (incremental: the group change alone must be seen).
	run, p := e.sync(false, false)
	if run.Full {
		t.Fatal("expected an incremental run")
	}
	if it, _ := item(p, "alice"); change(it, "profile") != wantProfile {
		t.Fatalf("incremental run: %+v\n%s", p.Items, p.Summary())
	}
	if u := e.user("alice"); u.Profile != "Supervisor" || !slices.Equal(u.Units, []string{"Floor 2"}) {
		t.Fatalf("alice: %s %v", u.Profile, u.Units)
	}
	if _, err := e.st.GetSession(ctx, "alice-agent"); err == nil {
		t.Fatal("alice keeps the session she signed in with as an Agent")
	}
	if _, err := e.st.GetSession(ctx, "carol-agent"); err != nil {
		t.Fatalf("carol's session (no profile change): %v", err)
	}

	// carol leaves Night-Shift for CC-Agents directly: the unit goes, the
	// profile stays.
	e.move(carol, "Night-Shift", "CC-Agents")
	_, p = e.sync(true, false)
	it, _ = item(p, "carol")
	if change(it, "profile") != "" || change(it, "units") != "units Night, Floor 1 -> Floor 1: -Night: no matching rule" {
		t.Fatalf("carol's move: %+v", it.Changes)
	}
	if u := e.user("carol"); u.Profile != "Agent" || !slices.Equal(u.Units, []string{"Floor 1"}) {
		t.Fatalf("carol: %s %v", u.Profile, u.Units)
	}
	if u := e.user("bob"); u.Profile != "Agent" || u.Version != 1 {
		t.Fatalf("bob was touched: %+v", u)
	}
}

// TestCollisionsAndPrivilegedUsersAreReported: two directory users mapping
// to one username are both blocked and listed, privileged local users are
// never linked automatically, and everyone else proceeds.
func TestCollisionsAndPrivilegedUsersAreReported(t *testing.T) {
	dave1, dave2 := ldapUser{uid: "dave"}, ldapUser{uid: "dave", ou: "contractors"}
	e := newEnv(t, organisation(alice, dave1, dave2, ldapUser{uid: "root"}, ldapUser{uid: "boss"},
		ldapUser{uid: "gina"}, ldapUser{uid: "lou"}))
	e.localUser(store.User{Username: "root", Superuser: true})
	e.localUser(store.User{Username: "boss", Profile: "Breakglass"})
	e.localUser(store.User{Username: "gina", CustomPrivileges: []string{"grant_all"}})
	lou := e.localUser(store.User{Username: "lou", Email: "lou@example.org"})

	for round := range 2 { // reported again on the next run, never merged
		_, p := e.sync(true, false)
		blocked := map[string]string{}
		for _, b := range p.Blocked {
			blocked[b.DN] = b.Reason
		}
		if len(blocked) != 5 {
			t.Fatalf("round %d: blocked %v\n%s", round, blocked, p.Summary())
		}
		if r := blocked[dave1.dn()]; !strings.Contains(r, `username "dave" is also produced for `+dave2.dn()) {
			t.Errorf("dave1: %s", r)
		}
		if r := blocked[dave2.dn()]; !strings.Contains(r, `username "dave" is also produced for `+dave1.dn()) {
			t.Errorf("dave2: %s", r)
		}
		for _, name := range []string{"root", "boss", "gina"} {
			if r := blocked[ldapUser{uid: name}.dn()]; !strings.Contains(r, "local user "+name+" is privileged") {
				t.Errorf("%s: %q", name, r)
			}
		}
		sum := p.Summary()
		if !strings.Contains(sum, "blocked dave (") || !strings.Contains(sum, "blocked boss (") {
			t.Errorf("summary does not list the blocked users:\n%s", sum)
		}
		if round == 0 {
			// The rest proceeds: alice, carol, nina, sue created; lou linked.
			if p.Counts.Created != 4 || p.Counts.Updated != 1 {
				t.Fatalf("counts: %+v\n%s", p.Counts, sum)
			}
			if it, _ := item(p, "lou"); it.Kind != engine.KindLink || it.UserID != lou.ID || !strings.Contains(it.Reason, "linked by username") {
				t.Fatalf("lou: %+v", it)
			}
		}
	}
	for _, name := range []string{"root", "boss", "gina"} {
		if u := e.user(name); u.Source != store.SourceLocal || u.Anchor != "" || u.Version != 1 {
			t.Errorf("privileged %s was touched: %+v", name, u)
		}
	}
	if u := e.user("lou"); u.ID != lou.ID || u.Source != dirName || u.Profile != "Agent" {
		t.Errorf("lou: %+v", u)
	}
	if _, err := e.st.GetUserByUsername(t.Context(), "dave"); err == nil {
		t.Error("a colliding user was created")
	}

	// An administrator links boss by hand and pins the profile, so the
	// directory's rules do not take Breakglass away.
	e.call("POST", "/api/v1/directories/corp/entries/"+e.anchor(ldapUser{uid: "boss"}.dn())+"/map", admin.MapRequest{User: "boss"}, 200, nil)
	pin := true
	e.call("PATCH", "/api/v1/users/boss", admin.UserPatch{PinnedProfile: &pin}, 200, nil)
	_, p := e.sync(true, false)
	if it, ok := item(p, "boss"); !ok || change(it, "profile") != "" || !slices.ContainsFunc(it.Notes, func(n string) bool {
		return strings.Contains(n, `profile pinned to "Breakglass"; rules would give "Agent"`)
	}) {
		t.Fatalf("boss after the manual link: %+v\n%s", it, p.Summary())
	}
	if u := e.user("boss"); u.Source != dirName || u.Profile != "Breakglass" || !slices.Equal(u.Units, []string{"Floor 1"}) {
		t.Fatalf("boss: %+v", u)
	}

	// Linked by hand, a local superuser is the directory's from then on:
	// the dry run shows the rules taking the flag away, and why.
	e.call("POST", "/api/v1/directories/corp/entries/"+e.anchor(ldapUser{uid: "root"}.dn())+"/map", admin.MapRequest{User: "root"}, 200, nil)
	_, p = e.sync(true, true)
	if it, _ := item(p, "root"); change(it, "superuser") != "superuser true -> false: "+mapping.NoSuperuserRule {
		t.Fatalf("root linked by hand: %+v", it.Changes)
	}
}

// TestPinnedFieldsAreLeftAloneUntilUnpinned: the sync keeps an
// administrator's pinned profile and units, says so in the plan, and
// returns them to the rules once unpinned.
func TestPinnedFieldsAreLeftAloneUntilUnpinned(t *testing.T) {
	e := newEnv(t, organisation(alice, bob))
	e.sync(true, false)
	yes, no := true, false
	sup, vip := "Supervisor", []string{"VIP"}
	e.call("PATCH", "/api/v1/users/alice", admin.UserPatch{Profile: &sup, PinnedProfile: &yes}, 200, nil)
	e.call("PATCH", "/api/v1/users/bob", admin.UserPatch{Units: &vip, PinnedUnits: &yes}, 200, nil)

	_, p := e.sync(true, false)
	if len(p.Items) != 0 {
		t.Fatalf("pinned users changed: %+v", p.Items)
	}
	sum := p.Summary()
	for _, w := range []string{
		`user alice (` + e.anchor(alice.dn()) + `): profile pinned to "Supervisor"; rules would give "Agent" (rule 3 (group CC-Agents))`,
		`user bob (` + e.anchor(bob.dn()) + `): units pinned to [VIP]; rules would give [Floor 1]`,
	} {
		if !slices.ContainsFunc(p.Warnings, func(x string) bool { return strings.Contains(x, w) }) || !strings.Contains(sum, w) {
			t.Errorf("plan does not say %q:\n%s", w, sum)
		}
	}

	// alice joins Night-Shift: her units follow the rules, her profile
	// stays pinned, and the item says so.
	e.move(alice, "", "Night-Shift")
	_, p = e.sync(true, false)
	it, _ := item(p, "alice")
	if change(it, "profile") != "" || !strings.Contains(change(it, "units"), "+Night: rule 1 (group Night-Shift)") ||
		!slices.ContainsFunc(it.Notes, func(n string) bool {
			return strings.Contains(n, `profile pinned to "Supervisor"`) && strings.Contains(n, "left alone")
		}) {
		t.Fatalf("alice with a pinned profile: %+v", it)
	}
	if u := e.user("alice"); u.Profile != "Supervisor" || !slices.Equal(u.Units, []string{"Night", "Floor 1"}) {
		t.Fatalf("alice: %s %v", u.Profile, u.Units)
	}

	// Unpinned, the rules decide again.
	e.call("PATCH", "/api/v1/users/alice", admin.UserPatch{PinnedProfile: &no}, 200, nil)
	e.call("PATCH", "/api/v1/users/bob", admin.UserPatch{PinnedUnits: &no}, 200, nil)
	_, p = e.sync(true, false)
	if it, _ := item(p, "alice"); change(it, "profile") != "profile Supervisor -> Agent: rule 3 (group CC-Agents)" {
		t.Fatalf("alice unpinned: %+v", it.Changes)
	}
	if it, _ := item(p, "bob"); change(it, "units") != "units VIP -> Floor 1: +Floor 1: rule 3 (group CC-Agents); -VIP: no matching rule" {
		t.Fatalf("bob unpinned: %+v", it.Changes)
	}
	if u := e.user("alice"); u.Profile != "Agent" || u.PinnedProfile {
		t.Fatalf("alice: %+v", u)
	}
	if u := e.user("bob"); !slices.Equal(u.Units, []string{"Floor 1"}) {
		t.Fatalf("bob: %v", u.Units)
	}
	if ev := e.audit("user.update"); len(ev) != 4 {
		t.Fatalf("pin changes audited %d times, want 4", len(ev))
	}
}

// TestMapUnmapRemapAndCreateThroughTheAPI: an administrator's map, unmap,
// remap and bulk create, each audited, and what the next sync makes of
// them.
func TestMapUnmapRemapAndCreateThroughTheAPI(t *testing.T) {
	dave1, dave2 := ldapUser{uid: "dave"}, ldapUser{uid: "dave", ou: "contractors"}
	ed := ldapUser{uid: "ed", disabled: true}
	lou := ldapUser{uid: "lou"}
	e := newEnv(t, organisation(alice, lou, dave1, dave2, ed))
	_, p := e.sync(true, false)
	if p.Counts.Created != 5 || len(p.Blocked) != 2 || len(p.Skipped) != 1 {
		t.Fatalf("first sync: %+v blocked %d skipped %d\n%s", p.Counts, len(p.Blocked), len(p.Skipped), p.Summary())
	}
	entries := "/api/v1/directories/corp/entries"
	louAnchor, edAnchor := e.anchor(lou.dn()), e.anchor(ed.dn())

	var unmapped admin.DirectoryEntryList
	e.call("GET", entries+"?kind=user&mapped=false", nil, 200, &unmapped)
	if len(unmapped.Items) != 3 { // the two daves and ed
		t.Fatalf("unmapped: %+v", unmapped.Items)
	}

	// Bulk create: ed (skipped by the sync as disabled) is created through
	// the mapping; a dave is refused as a collision, not merged.
	var res admin.CreateEntriesResult
	e.call("POST", entries+"/create", admin.CreateEntriesRequest{Anchors: []string{edAnchor, e.anchor(dave1.dn())}}, 200, &res)
	if res.Created != 1 || res.Items[0].Status != admin.EntryCreated || res.Items[1].Code != string(mapping.WarnCollision) {
		t.Fatalf("bulk create: %+v", res)
	}
	if u := e.user("ed"); u.Source != dirName || u.Anchor != edAnchor || u.Profile != "Agent" || !slices.Equal(u.Units, []string{"Floor 1"}) {
		t.Fatalf("ed: %+v", u)
	}
	// The sync owns the created user from now on: linked by its anchor,
	// not created twice, and deactivated as the directory says.
	_, p = e.sync(true, false)
	if it, _ := item(p, "ed"); it.Kind != engine.KindDeactivate || it.Reason != engine.ReasonDisabled || p.Counts.Created != 0 {
		t.Fatalf("sync after create: %+v\n%s", it, p.Summary())
	}

	// Unmap lou: the local user stays, as a local account.
	e.call("POST", entries+"/"+louAnchor+"/unmap", nil, 200, nil)
	louUser := e.user("lou")
	if louUser.Source != store.SourceLocal || louUser.Anchor != "" || !louUser.MustChangePassword {
		t.Fatalf("lou after unmap: %+v", louUser)
	}
	// The unmap sticks: the next full sync neither links lou back by
	// username nor creates a second lou, and says why.
	_, p = e.sync(true, false)
	if it, ok := item(p, "lou"); ok {
		t.Fatalf("sync after unmap touched lou: %+v\n%s", it, p.Summary())
	}
	skipped := false
	for _, b := range p.Skipped {
		skipped = skipped || (b.Anchor == louAnchor && strings.Contains(b.Reason, "unmapped by an administrator"))
	}
	if !skipped || e.user("lou").Source != store.SourceLocal {
		t.Fatalf("sync after unmap: lou not reported as unmapped by an administrator\n%s", p.Summary())
	}
	// Creating lou again is refused: a local user holds the name.
	e.call("POST", entries+"/create", admin.CreateEntriesRequest{Anchors: []string{louAnchor}}, 200, &res)
	if res.Created != 0 || res.Items[0].Code != admin.RefusedLocalUserExists {
		t.Fatalf("create lou: %+v", res)
	}
	// Map back, then remap to another local user.
	e.call("POST", entries+"/"+louAnchor+"/map", admin.MapRequest{User: "lou"}, 200, nil)
	other := e.localUser(store.User{Username: "lou.other"})
	var ent admin.DirectoryEntry
	e.call("POST", entries+"/"+louAnchor+"/remap", admin.MapRequest{User: "lou.other"}, 200, &ent)
	if ent.UserID != other.ID || e.user("lou").Source != store.SourceLocal || e.user("lou.other").Anchor != louAnchor {
		t.Fatalf("remap: %+v", ent)
	}

	for action, want := range map[string]int{"entry.create": 3, "entry.unmap": 1, "entry.map": 1, "entry.remap": 1} {
		ev := e.audit(action)
		if len(ev) != want {
			t.Errorf("%s audited %d times, want %d: %+v", action, len(ev), want, ev)
		}
		for _, x := range ev {
			if x.Actor != "admin" {
				t.Errorf("%s by %q", action, x.Actor)
			}
		}
	}
	if ev := e.audit("entry.create"); !slices.ContainsFunc(ev, func(x store.AuditEvent) bool {
		return x.Outcome == store.OutcomeFailure && strings.HasPrefix(x.Reason, "username_collision:")
	}) {
		t.Errorf("refused create not audited with its reason: %+v", ev)
	}
}
