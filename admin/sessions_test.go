package admin_test

import (
	"context"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/store"
)

func TestSessionsListAndEnd(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	now := e.clk.Now()
	put := func(id, user string, expires time.Time) {
		t.Helper()
		err := e.st.Tx(ctx, func(tx store.Tx) error {
			return tx.CreateSession(ctx, store.Session{ID: id, UserID: e.users[user].ID, Method: "saml",
				SourceIP: "10.0.0.7", CreatedAt: now, LastSeenAt: now, ExpiresAt: expires})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	put("s-alice-1", "alice", now.Add(8*time.Hour))
	put("s-alice-2", "alice", now.Add(8*time.Hour))
	put("s-nobody", "nobody", now.Add(8*time.Hour))
	put("s-root", "root", now.Add(8*time.Hour))
	put("s-old", "nobody", now.Add(-time.Minute)) // past its absolute timeout

	// Without manage_sessions or manage_users: 403.
	pete := e.token("pete")
	e.do("GET", "/api/v1/sessions", pete, nil, 403, nil)

	uma := e.token("uma") // manage_users, not a superuser
	var list admin.SessionList
	e.do("GET", "/api/v1/sessions", uma, nil, 200, &list)
	if len(list.Items) != 4 || list.LicencesInUse != 3 {
		t.Fatalf("sessions: %d items, %d licences: %+v", len(list.Items), list.LicencesInUse, list.Items)
	}
	e.do("GET", "/api/v1/sessions?user=alice", uma, nil, 200, &list)
	if len(list.Items) != 2 || list.Items[0].Username != "alice" || list.Items[0].Method != "saml" {
		t.Fatalf("alice's sessions: %+v", list.Items)
	}
	e.do("GET", "/api/v1/sessions?user=ghost", uma, nil, 404, nil)

	// End one session: audited, gone, frees nothing while alice has
	// another. alice holds grant_all, so ending hers takes an
	// administrator who could grant that (here a superuser).
	var ended admin.SessionsEnded
	root := e.token("root")
	e.do("DELETE", "/api/v1/sessions/s-alice-1", root, nil, 200, &ended)
	if _, err := e.st.GetSession(ctx, "s-alice-1"); err == nil {
		t.Fatal("ended session still in the store")
	}
	e.do("DELETE", "/api/v1/sessions/s-alice-1", uma, nil, 404, nil)
	// Neither a superuser's session nor that of someone holding more is a
	// plain user administrator's to end.
	e.do("DELETE", "/api/v1/sessions/s-root", uma, nil, 403, nil)
	e.do("DELETE", "/api/v1/sessions/s-alice-2", uma, nil, 403, nil)

	// Sign nobody out everywhere.
	e.do("DELETE", "/api/v1/users/nobody/sessions", uma, nil, 200, &ended)
	if ended.Ended != 2 {
		t.Fatalf("nobody: ended %d sessions, want 2", ended.Ended)
	}
	e.do("GET", "/api/v1/sessions", uma, nil, 200, &list)
	if len(list.Items) != 2 || list.LicencesInUse != 2 {
		t.Fatalf("after ending: %+v (%d licences)", list.Items, list.LicencesInUse)
	}
	if ev := e.audit("session.end"); len(ev) != 4 { // ended, then not found, then forbidden twice
		t.Fatalf("session.end audit events: %+v", ev)
	}
	if ev := e.audit("session.end_all"); len(ev) != 1 || ev[0].Target != "user:nobody" {
		t.Fatalf("session.end_all audit events: %+v", ev)
	}
}

func TestEndOwnSession(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	now := e.clk.Now()
	for id, user := range map[string]string{"s-pete-1": "pete", "s-pete-2": "pete", "s-alice": "alice"} {
		err := e.st.Tx(ctx, func(tx store.Tx) error {
			return tx.CreateSession(ctx, store.Session{ID: id, UserID: e.users[user].ID, Method: "password",
				CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(8 * time.Hour)})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// pete holds no session privilege: his own sessions are his to end,
	// another user's is not found (as an unknown id is), and stays.
	pete := e.token("pete")
	var ended admin.SessionsEnded
	e.do("DELETE", "/api/v1/me/sessions/s-pete-1", pete, nil, 200, &ended)
	if ended.Ended != 1 {
		t.Fatalf("ended %d", ended.Ended)
	}
	if _, err := e.st.GetSession(ctx, "s-pete-1"); err == nil {
		t.Fatal("ended session still in the store")
	}
	e.do("DELETE", "/api/v1/me/sessions/s-alice", pete, nil, 404, nil)
	e.do("DELETE", "/api/v1/me/sessions/s-pete-1", pete, nil, 404, nil)
	if _, err := e.st.GetSession(ctx, "s-alice"); err != nil {
		t.Fatalf("alice's session after pete tried to end it: %v", err)
	}
	var list admin.SessionList
	e.do("GET", "/api/v1/me/sessions", pete, nil, 200, &list)
	if len(list.Items) != 1 || list.Items[0].ID != "s-pete-2" {
		t.Fatalf("pete's sessions: %+v", list.Items)
	}
	ev := e.audit("session.end_own")
	if len(ev) != 3 {
		t.Fatalf("session.end_own audit events: %+v", ev)
	}
	outcomes := map[string]int{}
	for _, x := range ev {
		if x.Actor != "pete" {
			t.Errorf("actor %q", x.Actor)
		}
		outcomes[x.Outcome]++
	}
	if outcomes[store.OutcomeSuccess] != 1 {
		t.Fatalf("outcomes: %v", outcomes)
	}
}
