package storetest

import (
	"context"
	"slices"
	"testing"

	"github.com/dirbridge/dirbridge/store"
)

// testTeams pins teams (parents, loops, deletion), profile scopes and the
// users-in-teams filter a scoped administrator's list uses, through every
// way a user's units are written.
func testTeams(t *testing.T, s store.Store) {
	ctx := context.Background()
	tx(t, s, func(tx store.Tx) error {
		for _, tm := range []store.Team{
			{Name: "Support", Description: "All of support"},
			{Name: "Floor 1", Parent: "Support", Supervisors: []string{"u-sup"}},
			{Name: "Floor 2", Parent: "Support"},
			{Name: "Night", Parent: "Floor 2"},
		} {
			if err := tx.PutTeam(ctx, tm); err != nil {
				return err
			}
		}
		return nil
	})
	teams, err := s.ListTeams(ctx)
	noErr(t, "ListTeams", err)
	var names []string
	for _, tm := range teams {
		names = append(names, tm.Name)
	}
	equal(t, "ListTeams", names, []string{"Floor 1", "Floor 2", "Night", "Support"})
	f1, err := s.GetTeam(ctx, "Floor 1")
	noErr(t, "GetTeam", err)
	if f1.Parent != "Support" || !slices.Equal(f1.Supervisors, []string{"u-sup"}) || f1.CreatedAt.IsZero() {
		t.Fatalf("GetTeam(Floor 1) = %+v", f1)
	}
	_, err = s.GetTeam(ctx, "nope")
	isErr(t, "GetTeam(nope)", err, store.ErrNotFound)

	// Refused writes: a missing parent, a loop, deleting a team with
	// subteams; the transaction goes on after each.
	tx(t, s, func(tx store.Tx) error {
		isErr(t, "PutTeam(missing parent)", tx.PutTeam(ctx, store.Team{Name: "X", Parent: "ghost"}), store.ErrNotFound)
		isErr(t, "PutTeam(loop)", tx.PutTeam(ctx, store.Team{Name: "Support", Parent: "Night"}), store.ErrConflict)
		isErr(t, "PutTeam(self)", tx.PutTeam(ctx, store.Team{Name: "Night", Parent: "Night"}), store.ErrConflict)
		isErr(t, "DeleteTeam(with subteams)", tx.DeleteTeam(ctx, "Floor 2"), store.ErrConflict)
		isErr(t, "DeleteTeam(missing)", tx.DeleteTeam(ctx, "ghost"), store.ErrNotFound)
		noErr(t, "DeleteTeam(leaf)", tx.DeleteTeam(ctx, "Night"))
		return tx.PutTeam(ctx, store.Team{Name: "Floor 2", Parent: "Support", Description: "moved on"})
	})
	f2, err := s.GetTeam(ctx, "Floor 2")
	noErr(t, "GetTeam(Floor 2)", err)
	equal(t, "Floor 2 description", f2.Description, "moved on")

	// Profile scopes round-trip.
	scopes := map[string]store.Scope{
		"manage_users":   {Kind: store.ScopeOwnTeams},
		"view_audit_log": {Kind: store.ScopeAssigned, Teams: []string{"Floor 1", "Floor 2"}},
	}
	tx(t, s, func(tx store.Tx) error {
		return tx.PutProfile(ctx, store.Profile{Name: "Supervisor", Privileges: []string{"manage_users", "view_audit_log"}, Scopes: scopes,
			MayGrant: []string{"app_take_calls"}})
	})
	p, err := s.GetProfile(ctx, "Supervisor")
	noErr(t, "GetProfile", err)
	equal(t, "profile scopes", p.Scopes, scopes)
	equal(t, "profile may_grant", p.MayGrant, []string{"app_take_calls"})
	tx(t, s, func(tx store.Tx) error {
		return tx.PutProfile(ctx, store.Profile{Name: "Plain", Privileges: []string{"x"}})
	})
	plain, err := s.GetProfile(ctx, "Plain")
	noErr(t, "GetProfile(Plain)", err)
	equal(t, "unset may_grant", plain.MayGrant == nil, true)

	// Users in teams: created one by one, in bulk, updated, deleted.
	one := mustCreateUser(t, s, store.User{Username: "one", Source: store.SourceLocal, State: store.StateActive, Units: []string{"Floor 1"}})
	mustCreateUser(t, s, store.User{Username: "two", Source: store.SourceLocal, State: store.StateActive, Units: []string{"Floor 2", "Floor 1"}})
	mustCreateUser(t, s, store.User{Username: "none", Source: store.SourceLocal, State: store.StateActive})
	bulk := []store.User{
		{Username: "bulk-a", Source: "corp", Anchor: "b-a", State: store.StateActive, Units: []string{"Floor 2"}},
		{Username: "bulk-b", Source: "corp", Anchor: "b-b", State: store.StateActive, Units: []string{"HQ"}},
	}
	tx(t, s, func(tx store.Tx) error {
		return tx.CreateUsers(ctx, bulk)
	})
	in := func(teams ...string) []string {
		t.Helper()
		users, err := s.ListUsers(ctx, store.UserFilter{InTeams: true, Teams: teams})
		noErr(t, "ListUsers(InTeams)", err)
		n, err := s.CountUsers(ctx, store.UserFilter{InTeams: true, Teams: teams})
		noErr(t, "CountUsers(InTeams)", err)
		var out []string
		for _, u := range users {
			out = append(out, u.Username)
		}
		if n != len(out) {
			t.Fatalf("CountUsers(InTeams %q) = %d, ListUsers %d", teams, n, len(out))
		}
		return out
	}
	equal(t, "in Floor 1", in("Floor 1"), []string{"one", "two"})
	equal(t, "in Floor 1 or 2", in("Floor 1", "Floor 2"), []string{"bulk-a", "one", "two"})
	equal(t, "in nothing", in(), []string(nil))
	equal(t, "in HQ", in("HQ"), []string{"bulk-b"})
	equal(t, "case matters", in("floor 1"), []string(nil))
	users, err := s.ListUsers(ctx, store.UserFilter{InTeams: true, Teams: []string{"Floor 1", "Floor 2"}, Limit: 1, Offset: 1})
	noErr(t, "ListUsers(InTeams, page)", err)
	if len(users) != 1 || users[0].Username != "one" {
		t.Fatalf("second page: %+v", users)
	}

	// Moving a user between teams moves them in the filter at once.
	one.Units = []string{"HQ"}
	tx(t, s, func(tx store.Tx) error { return tx.UpdateUser(ctx, &one) })
	equal(t, "in Floor 1 after the move", in("Floor 1"), []string{"two"})
	equal(t, "in HQ after the move", in("HQ"), []string{"bulk-b", "one"})
	tx(t, s, func(tx store.Tx) error { return tx.DeleteUser(ctx, one.ID) })
	equal(t, "in HQ after the delete", in("HQ"), []string{"bulk-b"})
}
