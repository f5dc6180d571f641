package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/internal/password"
	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/store"
)

// newManageEnv is the admin API with a password hasher and the
// privilege catalogue, over a fresh store.
func newManageEnv(t *testing.T) *apiEnv {
	t.Helper()
	st := openTestStore(t)
	hasher, err := password.NewHasher(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, 2)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := privilege.NewCatalogue(nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := admin.New(admin.Options{Store: st, Hasher: hasher, Privileges: cat})
	if err != nil {
		t.Fatal(err)
	}
	return serveAPI(t, st, a)
}

// TestManageCommands drives users, profiles, privileges and teams
// commands against the admin API, as an administrator's script would.
func TestManageCommands(t *testing.T) {
	e := newManageEnv(t)
	ctx, st, srv, api := context.Background(), e.st, e.srv, e.api
	must := func(out, want string) {
		t.Helper()
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}

	must(api("privileges", "list"), "manage_teams")
	api("teams", "create", "Support")
	api("teams", "create", "Floor 2", "--parent", "Support")
	must(api("teams", "list"), "Floor 2")

	// The shipped default profiles load, first as a dry run.
	file := filepath.Join("..", "..", "deploy", "admin-profiles.example.yaml")
	must(api("profiles", "load", file, "--dry-run"), "dry run: nothing changed")
	if _, err := st.GetProfile(ctx, "Supervisor"); err == nil {
		t.Fatal("a dry run created a profile")
	}
	must(api("profiles", "load", file), "Supervisor")
	sup, err := st.GetProfile(ctx, "Supervisor")
	if err != nil || sup.Scopes[privilege.ManageUsers].Kind != store.ScopeOwnTeams || len(sup.MayGrant) != 1 {
		t.Fatalf("loaded Supervisor: %+v %v", sup, err)
	}
	must(api("profiles", "load", file, "--json"), `"action": "update"`)
	must(api("profiles", "create", "Trainee", "--privilege", "edit_own_details"), "created")
	must(api("profiles", "update", "Trainee", "--privilege", "view_users", "--scope", "view_users=assigned:Floor 2"), "updated")
	must(api("profiles", "delete", "Trainee"), "deleted")

	// Users: one, then many.
	must(api("users", "create", "jdoe", "--profile", "Agent", "--team", "Floor 2", "--no-invite"), "created jdoe")
	var gen admin.BulkGenerateResponse
	if err := json.Unmarshal([]byte(api("users", "bulk-generate", "--pattern", "agent{n:2}", "--count", "3", "--profile", "Agent", "--json")), &gen); err != nil || len(gen.Users) != 3 || gen.Users[0].Password == "" {
		t.Fatalf("bulk-generate: %v %+v", err, gen)
	}
	must(api("users", "set-teams", "agent01", "agent02", "--team", "Support", "--dry-run"), "would change (dry run)")
	if u, _ := st.GetUserByUsername(ctx, "agent01"); len(u.Units) != 0 {
		t.Fatalf("dry run set teams: %q", u.Units)
	}
	must(api("users", "set-teams", "agent01", "agent02", "--team", "Support"), "2 user(s) changed")
	must(api("users", "set-profile", "Supervisor", "jdoe"), "1 user(s) changed")
	must(api("users", "update", "jdoe", "--team", "Floor 2", "--team", "Support"), "Floor 2,Support")
	if _, _, err := run(t, "users", "set-profile", "Agent", "ghost", "--server", srv.URL); err == nil || !strings.Contains(err.Error(), "ghost") {
		t.Fatalf("unknown user: %v", err)
	}

	// The list's filters: a team, who is locked out, whose password expires soon.
	agent03, err := st.GetUserByUsername(ctx, "agent03")
	if err != nil {
		t.Fatal(err)
	}
	err = st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.PutLockout(ctx, store.Lockout{UserID: agent03.ID, FailedAttempts: 5, LockedUntil: time.Now().Add(time.Hour)}); err != nil {
			return err
		}
		u, err := tx.GetUser(ctx, agent03.ID)
		if err != nil {
			return err
		}
		u.PasswordExpiresAt = time.Now().Add(48 * time.Hour)
		return tx.UpdateUser(ctx, &u)
	})
	if err != nil {
		t.Fatal(err)
	}
	var list admin.UserList
	for _, args := range [][]string{{"--locked"}, {"--expiring-days", "3"}, {"--team", "Floor 2", "--locked"}} {
		out := api(append([]string{"users", "list", "--json"}, args...)...)
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatalf("users list %v: %v\n%s", args, err, out)
		}
		want := 1
		if args[0] == "--team" {
			want = 0 // agent03 is not in Floor 2
		}
		if list.Total != want || (want == 1 && list.Items[0].Username != "agent03") {
			t.Fatalf("users list %v: %+v, want agent03 alone (%d)", args, list, want)
		}
	}
}

func TestPointInTime(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]string{
		"":                     "",
		"1h":                   "2026-12-06T11:00:00Z",
		"7d":                   "2026-11-29T12:00:00Z",
		"1d12h":                "2026-12-05T00:00:00Z",
		"2026-01-02T15:04:05Z": "2026-01-02T15:04:05Z",
	} {
		if got, err := pointInTime(in, now); err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"yesterday", "-1h", "xd"} {
		if _, err := pointInTime(bad, now); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestExpiryReportThroughTheAPI: expiry report without --config asks the
// daemon.
func TestExpiryReportThroughTheAPI(t *testing.T) {
	e := newManageEnv(t)
	ctx := context.Background()
	u := store.User{Username: "soon", State: store.StateActive, Source: store.SourceLocal, PasswordExpiresAt: time.Now().Add(50 * time.Hour)}
	if err := e.st.Tx(ctx, func(tx store.Tx) error { return tx.CreateUser(ctx, &u) }); err != nil {
		t.Fatal(err)
	}
	var ns []map[string]any
	if err := json.Unmarshal([]byte(e.api("expiry", "report", "--days", "7", "--json")), &ns); err != nil || len(ns) != 1 || ns[0]["username"] != "soon" {
		t.Fatalf("report: %v %+v", err, ns)
	}
	if out := e.api("expiry", "report", "--days", "1"); strings.Contains(out, "soon") {
		t.Fatalf("1 day: %s", out)
	}
}

// TestMappingTestThroughTheAPI: without --config, mapping test asks the
// daemon (here about a local user, which no mapping applies to).
func TestMappingTestThroughTheAPI(t *testing.T) {
	e := newManageEnv(t)
	_, _, err := run(t, "mapping", "test", "--user", "root", "--server", e.srv.URL)
	if err == nil || !strings.Contains(err.Error(), "not a directory user") {
		t.Fatalf("mapping test of a local user through the API: %v", err)
	}
}
