package admin_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/store"
)

// TestScopedSupervisor runs a supervisor whose manage_users reaches their
// own teams through the API: they see and manage the users of Floor 2 and
// its subteam Night, and nobody else exists for them.
func TestScopedSupervisor(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	root := e.token("root")

	// Teams through the API, by a superuser.
	e.do("POST", "/api/v1/teams", root, admin.TeamInput{Name: "Support"}, 201, nil)
	e.do("POST", "/api/v1/teams", root, admin.TeamInput{Name: "Floor 1", Parent: "Support"}, 201, nil)
	e.do("POST", "/api/v1/teams", root, admin.TeamInput{Name: "Floor 2", Parent: "Support"}, 201, nil)
	e.do("POST", "/api/v1/teams", root, admin.TeamInput{Name: "Night", Parent: "Floor 2"}, 201, nil)
	e.do("POST", "/api/v1/teams", root, admin.TeamInput{Name: "Loop", Parent: "Ghost"}, 400, nil)
	e.do("PUT", "/api/v1/teams/Support", root, admin.TeamInput{Parent: "Night"}, 400, nil)

	// A Supervisor profile: manage_users over own teams.
	e.do("POST", "/api/v1/profiles", root, admin.ProfileInput{Name: "Supervisor", Privileges: []string{privilege.ManageUsers},
		Scopes: map[string]admin.Scope{privilege.ManageUsers: {Kind: store.ScopeOwnTeams}}}, 201, nil)
	put := func(name, profile string, units ...string) store.User {
		u := e.user(name, profile, false)
		u.Units = units
		if err := e.st.Tx(ctx, func(tx store.Tx) error { return tx.UpdateUser(ctx, &u) }); err != nil {
			t.Fatal(err)
		}
		e.users[name] = u
		return u
	}
	put("sup", "Supervisor", "Floor 2")
	put("night-agent", "", "Night")
	put("floor1-agent", "", "Floor 1")
	put("floor2-agent", "", "Floor 2")
	sup := e.token("sup")

	var list admin.UserList
	e.do("GET", "/api/v1/users", sup, nil, 200, &list)
	var names []string
	for _, u := range list.Items {
		names = append(names, u.Username)
	}
	if !slices.Equal(names, []string{"floor2-agent", "night-agent", "sup"}) || list.Total != 3 {
		t.Fatalf("supervisor's list: %q (total %d)", names, list.Total)
	}

	// Outside the scope answers exactly as a user that does not exist.
	out := e.do("GET", "/api/v1/users/floor1-agent", sup, nil, 404, nil)
	ghost := e.do("GET", "/api/v1/users/nobody-at-all", sup, nil, 404, nil)
	if strings.ReplaceAll(out.err().Message, "floor1-agent", "X") != strings.ReplaceAll(ghost.err().Message, "nobody-at-all", "X") {
		t.Errorf("out of scope %q differs from missing %q", out.err().Message, ghost.err().Message)
	}
	e.do("POST", "/api/v1/users/floor1-agent/deactivate", sup, admin.DeactivateRequest{}, 404, nil)
	if ev := e.audit("user.deactivate"); len(ev) == 0 || ev[0].Outcome != store.OutcomeDenied || ev[0].Details["out_of_scope"] != true {
		t.Errorf("out-of-scope attempt not audited as such: %+v", ev)
	}
	if u, _ := e.st.GetUserByUsername(ctx, "floor1-agent"); u.State != store.StateActive {
		t.Fatal("an out-of-scope user was deactivated")
	}

	// Inside: the subteam's user too; the audit names the scope.
	e.do("POST", "/api/v1/users/night-agent/deactivate", sup, admin.DeactivateRequest{}, 200, nil)
	ev := e.audit("user.deactivate")
	if ev[0].Outcome != store.OutcomeSuccess || !strings.Contains(strings.Join(anyList(ev[0].Details["scope"]), ","), store.ScopeOwnTeams) {
		t.Errorf("in-scope action's audit: %+v", ev[0])
	}

	// A scoped administrator can neither shape teams (it would widen the
	// scope) nor grant its privilege to everyone.
	e.do("PUT", "/api/v1/teams/Floor 1", sup, admin.TeamInput{Parent: "Support", Supervisors: []string{"sup"}}, 403, nil)
	var teams admin.TeamList
	e.do("GET", "/api/v1/teams", sup, nil, 200, &teams)
	if len(teams.Items) != 4 {
		t.Fatalf("teams: %+v", teams.Items)
	}
	for _, tm := range teams.Items {
		if tm.Name == "Floor 2" && (!slices.Equal(tm.Subteams, []string{"Night"}) || tm.Members != 2) {
			t.Errorf("Floor 2: %+v", tm)
		}
	}
	e.do("DELETE", "/api/v1/teams/Floor 2", root, nil, 409, nil) // members and a subteam
}

func TestProfilesPrerequisitesAndScopes(t *testing.T) {
	e := newEnv(t)
	root := e.token("root")
	e.do("POST", "/api/v1/teams", root, admin.TeamInput{Name: "Floor 1"}, 201, nil)

	var cat admin.PrivilegeCatalogue
	e.do("GET", "/api/v1/privileges", root, nil, 200, &cat)
	found := false
	for _, g := range cat.Groups {
		for _, p := range g.Privileges {
			if p.Name == privilege.ManageTeams && slices.Equal(p.Requires, []string{privilege.ManageUsers}) {
				found = true
			}
			if p.Name == privilege.ManageUsers && !p.Scoped {
				t.Errorf("manage_users is not marked scoped")
			}
		}
	}
	if !found || len(cat.Groups) < 3 {
		t.Fatalf("catalogue: %+v", cat)
	}

	r := e.do("POST", "/api/v1/profiles", root, admin.ProfileInput{Name: "TeamAdmin", Privileges: []string{privilege.ManageTeams}}, 400, nil)
	if !strings.Contains(r.err().Message, "manage_teams requires manage_users") {
		t.Errorf("prerequisite message %q", r.err().Message)
	}
	bad := []admin.ProfileInput{
		{Name: "A", Privileges: []string{privilege.ManageUsers}, Scopes: map[string]admin.Scope{privilege.ManageUsers: {Kind: "galaxy"}}},
		{Name: "B", Privileges: []string{privilege.ManageUsers}, Scopes: map[string]admin.Scope{privilege.ManageUsers: {Kind: store.ScopeAssigned}}},
		{Name: "C", Privileges: []string{privilege.ManageUsers}, Scopes: map[string]admin.Scope{privilege.ManageUsers: {Kind: store.ScopeAssigned, Teams: []string{"Floor 9"}}}},
		{Name: "D", Privileges: []string{privilege.ManageUsers}, Scopes: map[string]admin.Scope{privilege.BypassSSO: {Kind: store.ScopeOwnTeams}}},
		{Name: "E", Privileges: []string{privilege.BypassSSO}, Scopes: map[string]admin.Scope{privilege.BypassSSO: {Kind: store.ScopeOwnTeams}}},
	}
	for _, in := range bad {
		e.do("POST", "/api/v1/profiles", root, in, 400, nil)
	}
	var p admin.Profile
	e.do("POST", "/api/v1/profiles", root, admin.ProfileInput{Name: "Floor1Admin", Privileges: []string{privilege.ManageUsers, privilege.ManageProfiles},
		Scopes: map[string]admin.Scope{privilege.ManageUsers: {Kind: store.ScopeAssigned, Teams: []string{"Floor 1"}}}}, 201, &p)
	if p.Scopes[privilege.ManageUsers].Kind != store.ScopeAssigned {
		t.Fatalf("scopes not returned: %+v", p)
	}

	// Its holder may not hand manage_users out to everyone.
	e.user("f1admin", "Floor1Admin", false)
	tok := e.token("f1admin")
	e.do("POST", "/api/v1/profiles", tok, admin.ProfileInput{Name: "Wider", Privileges: []string{privilege.ManageUsers}}, 403, nil)
	e.do("POST", "/api/v1/profiles", tok, admin.ProfileInput{Name: "Same", Privileges: []string{privilege.ManageUsers},
		Scopes: map[string]admin.Scope{privilege.ManageUsers: {Kind: store.ScopeOwnTeams}}}, 201, nil)
}

func anyList(v any) []string {
	var out []string
	switch x := v.(type) {
	case []any:
		for _, s := range x {
			if str, ok := s.(string); ok {
				out = append(out, str)
			}
		}
	case []string:
		out = x
	}
	return out
}

// TestMayGrant: a profile's may_grant list, not what its holders hold, is
// what they may give; setting it is itself a grant.
func TestMayGrant(t *testing.T) {
	e := newEnv(t)
	root := e.token("root")
	var p admin.Profile
	e.do("POST", "/api/v1/profiles", root, admin.ProfileInput{Name: "Lead", Privileges: []string{privilege.ManageUsers},
		MayGrant: []string{"app_take_calls", "app_take_calls"}}, 201, &p)
	if !slices.Equal(p.MayGrant, []string{"app_take_calls"}) {
		t.Fatalf("may_grant: %q", p.MayGrant)
	}
	e.do("POST", "/api/v1/profiles", root, admin.ProfileInput{Name: "Bad", Privileges: []string{}, MayGrant: []string{"nope"}}, 400, nil)
	e.user("lead", "Lead", false)
	e.user("newbie", "", false)
	lead := e.token("lead")
	// The lead gives Agents (app_take_calls, which the lead does not hold)...
	e.do("PATCH", "/api/v1/users/newbie", lead, map[string]any{"profile": "Agents"}, 200, nil)
	// ...but not UserAdmins, though the lead holds manage_users itself.
	r := e.do("PATCH", "/api/v1/users/newbie", lead, map[string]any{"profile": "UserAdmins"}, 403, nil)
	if !strings.Contains(r.err().Message, "manage_users") {
		t.Errorf("refusal %q", r.err().Message)
	}
	// uma (manage_users, view_audit_log) may not hand out a may_grant of
	// something uma cannot grant, nor assign a profile that carries one.
	e.do("POST", "/api/v1/profiles", root, admin.ProfileInput{Name: "Gatekeeper", Privileges: []string{}, MayGrant: []string{privilege.BypassSSO}}, 201, nil)
	e.do("PATCH", "/api/v1/users/newbie", e.token("uma"), map[string]any{"profile": "Gatekeeper"}, 403, nil)
	e.profile("Editors", privilege.ManageProfiles)
	e.user("ed", "Editors", false)
	e.do("POST", "/api/v1/profiles", e.token("ed"), admin.ProfileInput{Name: "Sneaky", Privileges: []string{}, MayGrant: []string{privilege.GrantAll}}, 403, nil)
}
