package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/store"
)

// TestScopedSyncViews: a supervisor whose privileges reach their own team
// sees, of a run's plan and of the import statistics, only their team's
// users, with counts of what they see.
func TestScopedSyncViews(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	root := e.token("root")
	e.do("POST", "/api/v1/teams", root, admin.TeamInput{Name: "Floor 1"}, 201, nil)
	e.do("POST", "/api/v1/teams", root, admin.TeamInput{Name: "Floor 2"}, 201, nil)
	e.do("POST", "/api/v1/profiles", root, admin.ProfileInput{Name: "Supervisor", Privileges: []string{privilege.ManageUsers, privilege.TriggerSync},
		Scopes: map[string]admin.Scope{privilege.ManageUsers: {Kind: store.ScopeOwnTeams}, privilege.TriggerSync: {Kind: store.ScopeOwnTeams}}}, 201, nil)
	mk := func(name, team string) store.User {
		u := store.User{Username: name, State: store.StateActive, Source: "corp", Anchor: "a-" + name, UPN: name + "@corp.example", Units: []string{team}}
		if err := e.st.Tx(ctx, func(tx store.Tx) error { return tx.CreateUser(ctx, &u) }); err != nil {
			t.Fatal(err)
		}
		return u
	}
	mine, theirs := mk("mine", "Floor 2"), mk("theirs", "Floor 1")
	sup := e.user("sup", "Supervisor", false)
	sup.Units = []string{"Floor 2"}
	if err := e.st.Tx(ctx, func(tx store.Tx) error { return tx.UpdateUser(ctx, &sup) }); err != nil {
		t.Fatal(err)
	}
	plan := fmt.Sprintf(`{"directory":"corp","counts":{"created":1,"updated":2,"deactivated":0,"reactivated":0,"unchanged":0},
		"items":[{"kind":"update","anchor":"a-mine","username":"mine","user_id":%q},
		         {"kind":"update","anchor":"a-theirs","username":"theirs","user_id":%q},
		         {"kind":"create","anchor":"a-new","username":"new","changes":[{"field":"units","old":"","new":"Floor 2"}]}],
		"warnings":["theirs: something"]}`, mine.ID, theirs.ID)
	err := e.st.Tx(ctx, func(tx store.Tx) error {
		return tx.CreateSyncRun(ctx, store.SyncRun{ID: "run-1", Directory: "corp", Trigger: "manual", DryRun: true, Status: store.SyncSucceeded,
			StartedAt: e.clk.Now(), Counts: store.SyncCounts{Created: 1, Updated: 2}, Plan: json.RawMessage(plan)})
	})
	if err != nil {
		t.Fatal(err)
	}
	tok := e.token("sup")
	var run struct {
		Counts store.SyncCounts `json:"counts"`
		Plan   struct {
			Scoped   bool     `json:"scoped"`
			Warnings []string `json:"warnings"`
			Items    []struct {
				Username string `json:"username"`
			} `json:"items"`
		} `json:"plan"`
	}
	e.do("GET", "/api/v1/sync/runs/run-1", tok, nil, 200, &run)
	if len(run.Plan.Items) != 2 || run.Plan.Items[0].Username != "mine" || run.Plan.Items[1].Username != "new" ||
		!run.Plan.Scoped || run.Plan.Warnings != nil || run.Counts != (store.SyncCounts{Created: 1, Updated: 1}) {
		t.Fatalf("scoped run: %+v", run)
	}
	var list admin.SyncRunList
	e.do("GET", "/api/v1/sync/runs", tok, nil, 200, &list)
	if len(list.Items) != 1 || list.Items[0].Counts != (store.SyncCounts{Created: 1, Updated: 1}) {
		t.Fatalf("scoped list: %+v", list)
	}
	var stats admin.DirectoryStats
	e.do("GET", "/api/v1/directories/corp/stats", tok, nil, 200, &stats)
	if !stats.Scoped || stats.UsersImported != 1 || stats.UsersActive != 1 || len(stats.Domains) != 1 {
		t.Fatalf("scoped stats: %+v", stats)
	}
	// Unscoped: everything.
	run.Plan.Scoped, run.Plan.Items = false, nil
	e.do("GET", "/api/v1/sync/runs/run-1", root, nil, 200, &run)
	if len(run.Plan.Items) != 3 || run.Plan.Scoped {
		t.Fatalf("root's run: %+v", run)
	}
}

// TestScopedAuditLog: view_audit_log limited to one's teams reads the
// events done by or to the users of those teams, and nothing else.
func TestScopedAuditLog(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	root := e.token("root")
	e.do("POST", "/api/v1/teams", root, admin.TeamInput{Name: "Floor 1"}, 201, nil)
	e.do("POST", "/api/v1/teams", root, admin.TeamInput{Name: "Floor 2"}, 201, nil)
	e.do("POST", "/api/v1/profiles", root, admin.ProfileInput{Name: "Auditor", Privileges: []string{privilege.ViewAuditLog},
		Scopes: map[string]admin.Scope{privilege.ViewAuditLog: {Kind: store.ScopeAssigned, Teams: []string{"Floor 2"}}}}, 201, nil)
	for _, u := range []struct{ name, team string }{{"mine", "Floor 2"}, {"theirs", "Floor 1"}} {
		x := e.user(u.name, "", false)
		x.Units = []string{u.team}
		if err := e.st.Tx(ctx, func(tx store.Tx) error { return tx.UpdateUser(ctx, &x) }); err != nil {
			t.Fatal(err)
		}
	}
	e.user("aud", "Auditor", false)
	for _, n := range []string{"mine", "theirs", "mine"} {
		e.do("POST", "/api/v1/users/"+n+"/deactivate", root, admin.DeactivateRequest{}, 200, nil)
		e.do("POST", "/api/v1/users/"+n+"/activate", root, nil, 200, nil)
	}
	var list admin.AuditList
	e.do("GET", "/api/v1/audit?limit=3", e.token("aud"), nil, 200, &list)
	if len(list.Items) != 3 {
		t.Fatalf("scoped audit: %d events", len(list.Items))
	}
	for _, ev := range list.Items {
		if ev.Target != "user:mine" {
			t.Errorf("an event the auditor may not read: %+v", ev)
		}
	}
	var next admin.AuditList
	e.do("GET", "/api/v1/audit?limit=3&offset=3", e.token("aud"), nil, 200, &next)
	if len(next.Items) != 1 || next.Items[0].Target != "user:mine" {
		t.Fatalf("second page: %+v", next.Items)
	}
	var all admin.AuditList
	e.do("GET", "/api/v1/audit?action=user.deactivate", root, nil, 200, &all)
	if len(all.Items) != 3 {
		t.Fatalf("root's audit: %d deactivations", len(all.Items))
	}
}

// TestExpiryReport: the expiry report through the API, scoped for a
// supervisor.
func TestExpiryReport(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	root := e.token("root")
	e.do("POST", "/api/v1/teams", root, admin.TeamInput{Name: "Floor 2"}, 201, nil)
	e.do("POST", "/api/v1/profiles", root, admin.ProfileInput{Name: "Lead", Privileges: []string{privilege.ViewUsers},
		Scopes: map[string]admin.Scope{privilege.ViewUsers: {Kind: store.ScopeOwnTeams}}}, 201, nil)
	soon := e.clk.Now().Add(5 * 24 * time.Hour)
	for _, u := range []struct{ name, team string }{{"mine", "Floor 2"}, {"theirs", ""}} {
		x := e.user(u.name, "", false)
		x.PasswordExpiresAt = soon
		if u.team != "" {
			x.Units = []string{u.team}
		}
		if err := e.st.Tx(ctx, func(tx store.Tx) error { return tx.UpdateUser(ctx, &x) }); err != nil {
			t.Fatal(err)
		}
	}
	lead := e.user("lead", "Lead", false)
	lead.Units = []string{"Floor 2"}
	if err := e.st.Tx(ctx, func(tx store.Tx) error { return tx.UpdateUser(ctx, &lead) }); err != nil {
		t.Fatal(err)
	}
	var all, mine admin.ExpiryList
	e.do("GET", "/api/v1/expiry?days=7", root, nil, 200, &all)
	if len(all.Items) != 2 || all.Days != 7 || all.Items[0].DaysLeft != 5 {
		t.Fatalf("root's report: %+v", all)
	}
	e.do("GET", "/api/v1/expiry?days=7", e.token("lead"), nil, 200, &mine)
	if len(mine.Items) != 1 || mine.Items[0].Username != "mine" {
		t.Fatalf("lead's report: %+v", mine)
	}
	e.do("GET", "/api/v1/expiry?days=3", root, nil, 200, &all)
	if len(all.Items) != 0 {
		t.Fatalf("3 days: %+v", all)
	}
}
