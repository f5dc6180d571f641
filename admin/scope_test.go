package admin_test

import (
	"errors"
	"testing"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/store"
)

// TestAuthorizeScope adds the scope dimension to the matrix: a supervisor
// whose manage_users reaches Floor 2 (and its subteam Night) acts on the
// users there as the plain matrix allows, and on nobody else — refused as
// out of scope, so the API can answer as if they did not exist.
func TestAuthorizeScope(t *testing.T) {
	user := func(id string, units ...string) store.User {
		return store.User{ID: id, Username: id, State: store.StateActive, Units: units}
	}
	floor2 := privilege.Reach{Teams: []string{"Floor 2", "Night"}, Scopes: []string{store.ScopeOwnTeams}}
	supervisor := admin.Principal{User: user("sup", "Floor 2"), Privs: privilege.NewSet(privilege.ManageUsers),
		Reach: map[string]privilege.Reach{privilege.ManageUsers: floor2}}
	viewer := admin.Principal{User: user("viewer", "Floor 2"), Privs: privilege.NewSet(privilege.ViewUsers, privilege.ManageUsers),
		Reach: map[string]privilege.Reach{privilege.ManageUsers: floor2, privilege.ViewUsers: privilege.Everyone}}
	targets := map[string]store.User{
		"in Floor 2":           user("t1", "Floor 2"),
		"in Night (subteam)":   user("t2", "Night"),
		"in Floor 1":           user("t3", "Floor 1"),
		"in no team":           user("t4"),
		"in Floor 1 and Night": user("t5", "Floor 1", "Night"),
		"in Floor 2, case off": user("t6", "floor 2"),
	}
	inScope := map[string]bool{"in Floor 2": true, "in Night (subteam)": true, "in Floor 1 and Night": true}
	for name, tu := range targets {
		target := admin.Principal{User: tu}
		for _, a := range admin.Actions() {
			err := admin.Authorize(supervisor, target, a)
			var ref *admin.Refusal
			switch {
			case inScope[name] && err != nil:
				t.Errorf("supervisor -> %s: %s refused: %v", name, a, err)
			case !inScope[name] && (err == nil || !errors.As(err, &ref) || !ref.OutOfScope):
				t.Errorf("supervisor -> %s: %s: %v, want an out-of-scope refusal", name, a, err)
			}
			// view_users reaching everyone lets the same holder read anyone,
			// but change only those manage_users reaches.
			err = admin.Authorize(viewer, target, a)
			want := inScope[name] || a == admin.ActView
			if (err == nil) != want {
				t.Errorf("viewer -> %s: %s: allowed=%v, want %v (%v)", name, a, err == nil, want, err)
			}
		}
	}
	// Oneself is always in reach for self-service, in a team or not.
	for _, a := range []admin.Action{admin.ActView, admin.ActListKeys, admin.ActCreateKey} {
		if err := admin.Authorize(admin.Principal{User: user("lonely"), Privs: supervisor.Privs, Reach: supervisor.Reach}, admin.Principal{User: user("lonely")}, a); err != nil {
			t.Errorf("self %s: %v", a, err)
		}
	}
}
