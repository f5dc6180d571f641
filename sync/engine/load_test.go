package engine

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// TestLoadAffectedPlansAsLoadCurrent pins that an incremental plan made on
// LoadAffected's partial load equals the one made on the whole directory:
// renames onto taken names, a new user taking another directory's name,
// a disabled user, a deleted one, memberships known only from a stored
// group the read did not touch, and linking by e-mail.
func TestLoadAffectedPlansAsLoadCurrent(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	m := testMapper(t)

	alice, bob, carol := dirUser("a-1", "Alice", gAgents), dirUser("b-2", "Bob", gAgents, gSup), dirUser("c-3", "Carol", gAgents)
	dave, hal := dirUser("d-4", "Dave", gSup), dirUser("h-8", "Hal", gAgents)
	full := snapshot(true, alice, bob, carol, dave, hal)
	p, _ := NewPlan(Current{Directory: "corp"}, full, m, t0)
	if _, err := Apply(ctx, st, p); err != nil {
		t.Fatal(err)
	}
	err := st.Tx(ctx, func(tx store.Tx) error {
		for _, u := range []store.User{
			{Username: "erin", Source: store.SourceLocal, Email: "erin@corp.example.com"},
			{Username: "frank", Source: "other", Anchor: "f-6"},
			{Username: "ivy", Source: store.SourceLocal, Email: "Ivy@corp.example.com"},
		} {
			if err := tx.CreateUser(ctx, &u); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	renamed := alice
	renamed.Username = "Erin" // onto a local user's name
	disabled := carol
	disabled.Disabled = true
	quiet := bob
	quiet.Groups, quiet.DisplayName = nil, "Robert" // groups only from the stored group entries
	gina := dirUser("g-7", "Frank", gAgents)        // another directory's name
	ivy := dirUser("i-9", "Ivy2", gAgents)
	ivy.Email = "ivy@corp.example.com"
	deleted := directory.User{Anchor: dave.Anchor, Deleted: true}
	incr := directory.Snapshot{Complete: false, Cursor: "c2",
		Users: []directory.User{renamed, disabled, quiet, gina, ivy, deleted, {Anchor: "z-0", Deleted: true}}}

	// Only users with stored entries: the groups are read through those.
	known := directory.Snapshot{Complete: false, Cursor: "c2", Users: []directory.User{renamed, disabled, quiet, deleted}}
	for _, incr := range []directory.Snapshot{incr, known} {
		testLoadAffected(t, st, m, incr)
	}
}

func testLoadAffected(t *testing.T, st store.Store, m Mapper, incr directory.Snapshot) {
	ctx := context.Background()
	for _, linkBy := range []mapping.LinkBy{mapping.LinkByUsername, mapping.LinkByEmail} {
		want, err := LoadCurrent(ctx, st, "corp", linkBy)
		if err != nil {
			t.Fatal(err)
		}
		wantPlan, wantWarns := NewPlan(want, incr, m, t0)
		got, err := LoadAffected(ctx, st, "corp", linkBy, incr, m)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Users) >= len(want.Users) || len(got.Entries) >= len(want.Entries) {
			t.Errorf("%s: loaded %d users and %d entries of %d and %d", linkBy, len(got.Users), len(got.Entries), len(want.Users), len(want.Entries))
		}
		gotPlan, gotWarns := NewPlan(got, incr, m, t0)
		if a, b := planText(t, gotPlan), planText(t, wantPlan); a != b {
			t.Errorf("%s: plan on the partial load\n%s\nwant\n%s", linkBy, a, b)
		}
		if len(gotWarns) != len(wantWarns) {
			t.Errorf("%s: warnings %v, want %v", linkBy, gotWarns, wantWarns)
		}
		if wantPlan.Counts.Deactivated != 2 || len(wantPlan.Blocked) == 0 || wantPlan.Counts.Updated == 0 {
			t.Errorf("%s: the scenario lost its point: %s", linkBy, wantPlan.Summary())
		}
	}
}

func TestLoadAffectedNoChange(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	m := testMapper(t)
	full := snapshot(true, dirUser("a-1", "Alice", gAgents), dirUser("b-2", "Bob", gAgents, gSup), dirUser("c-3", "Carol", gAgents),
		dirUser("d-4", "Dave", gSup), dirUser("h-8", "Hal", gAgents))
	p, _ := NewPlan(Current{Directory: "corp"}, full, m, t0)
	if _, err := Apply(ctx, st, p); err != nil {
		t.Fatal(err)
	}
	// Nothing changed: nothing to load but counts, state and group names.
	got, err := LoadAffected(ctx, st, "corp", mapping.LinkByUsername, directory.Snapshot{Cursor: "c3"}, m)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Users) != 0 || len(got.Others) != 0 || len(got.Entries) != 2 || got.KnownBefore != 5 || got.ActiveBefore != 5 {
		t.Errorf("no-change load = %+v", got)
	}
	for _, e := range got.Entries {
		if e.Kind != store.EntryGroup || len(e.Groups) != 0 {
			t.Errorf("no-change load entry %+v", e)
		}
	}
}

// planText is everything a plan decides, as comparable text.
func planText(t *testing.T, p Plan) string {
	t.Helper()
	b, err := json.MarshalIndent(struct {
		Plan    Plan
		Users   []store.User
		Entries []store.DirectoryEntry
		Remove  []string
		State   store.DirectoryState
	}{p, itemUsers(p), slices.Collect(p.EntriesToWrite()), p.RemoveEntries, p.State}, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func itemUsers(p Plan) []store.User {
	out := make([]store.User, len(p.Items))
	for i, it := range p.Items {
		out[i] = it.Row()
	}
	return out
}
