package privilege

import (
	"slices"
	"testing"

	"github.com/dirbridge/dirbridge/store"
)

func TestReachOf(t *testing.T) {
	teams := []store.Team{
		{Name: "Support"},
		{Name: "Floor 1", Parent: "Support", Supervisors: []string{"sup-1"}},
		{Name: "Floor 2", Parent: "Support"},
		{Name: "Night", Parent: "Floor 2"},
		{Name: "Sales"},
	}
	prof := func(sc store.Scope) *store.Profile {
		return &store.Profile{Name: "P", Privileges: []string{ManageUsers}, Scopes: map[string]store.Scope{ManageUsers: sc}}
	}
	cases := []struct {
		name   string
		holder store.User
		prof   *store.Profile
		all    bool
		teams  []string
	}{
		{"superuser", store.User{Superuser: true}, prof(store.Scope{Kind: store.ScopeOwnTeams}), true, nil},
		{"no scope on the privilege", store.User{}, &store.Profile{Privileges: []string{ManageUsers}}, true, nil},
		{"scope all", store.User{}, prof(store.Scope{Kind: store.ScopeAll}), true, nil},
		{"custom privileges are unscoped", store.User{CustomPrivileges: []string{ManageUsers}}, nil, true, nil},
		{"member of Floor 2: it and Night", store.User{ID: "u", Units: []string{"Floor 2"}}, prof(store.Scope{Kind: store.ScopeOwnTeams}), false, []string{"Floor 2", "Night"}},
		{"supervisor of Floor 1", store.User{ID: "sup-1"}, prof(store.Scope{Kind: store.ScopeOwnTeams}), false, []string{"Floor 1"}},
		{"member of Support: everything below", store.User{ID: "u", Units: []string{"Support"}}, prof(store.Scope{Kind: store.ScopeOwnTeams}), false, []string{"Floor 1", "Floor 2", "Night", "Support"}},
		{"in no team", store.User{ID: "u"}, prof(store.Scope{Kind: store.ScopeOwnTeams}), false, []string{}},
		{"assigned", store.User{ID: "u", Units: []string{"Sales"}}, prof(store.Scope{Kind: store.ScopeAssigned, Teams: []string{"Floor 2"}}), false, []string{"Floor 2", "Night"}},
		{"unknown kind reaches nobody", store.User{ID: "u", Units: []string{"Sales"}}, prof(store.Scope{Kind: "galaxy"}), false, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ReachOf(tc.holder, tc.prof, ManageUsers, teams)
			if r.All != tc.all || (!tc.all && !slices.Equal(r.Teams, tc.teams) && !(len(r.Teams) == 0 && len(tc.teams) == 0)) {
				t.Fatalf("ReachOf = %+v, want all=%v teams %q", r, tc.all, tc.teams)
			}
		})
	}
	r := ReachOf(store.User{ID: "u", Units: []string{"Floor 2"}}, prof(store.Scope{Kind: store.ScopeOwnTeams}), ManageUsers, teams)
	for units, want := range map[string]bool{"Night": true, "Floor 2": true, "Floor 1": false, "": false} {
		var us []string
		if units != "" {
			us = []string{units}
		}
		if r.Covers(us) != want {
			t.Errorf("Covers(%q) = %v", us, !want)
		}
	}
	if u := r.Union(Reach{Teams: []string{"Sales"}}); !slices.Equal(u.Teams, []string{"Floor 2", "Night", "Sales"}) || u.All {
		t.Errorf("Union = %+v", u)
	}
	if u := r.Union(Everyone); !u.All {
		t.Errorf("Union with Everyone = %+v", u)
	}
}
