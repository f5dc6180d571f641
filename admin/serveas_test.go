package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/store"
)

// TestServeAs: a request served for a signed-in user goes through the same
// privilege checks and audit as a bearer-token call, and no Authorization
// header can change who it acts for.
func TestServeAs(t *testing.T) {
	e := newEnv(t)
	a, err := admin.New(admin.Options{Store: e.st, Now: e.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	as := func(user, method, path, body string) *httptest.ResponseRecorder {
		t.Helper()
		var r *http.Request
		if body == "" {
			r = httptest.NewRequest(method, path, nil)
		} else {
			r = httptest.NewRequest(method, path, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
		}
		r.Header.Set("Authorization", "Bearer "+e.token("root"))
		w := httptest.NewRecorder()
		a.ServeAs(w, r, e.users[user].ID)
		return w
	}

	if w := as("nobody", "GET", "/api/v1/users", ""); w.Code != http.StatusForbidden {
		t.Fatalf("nobody lists users (a root token in the header must not count): %d %s", w.Code, w.Body)
	}
	w := as("uma", "POST", "/api/v1/users/"+e.users["nobody"].ID+"/deactivate", `{"reason":"left"}`)
	if w.Code != http.StatusOK {
		t.Fatalf("uma deactivates nobody: %d %s", w.Code, w.Body)
	}
	ev := e.audit("user.deactivate")
	if len(ev) != 1 || ev[0].Actor != "uma" || ev[0].Outcome != store.OutcomeSuccess {
		t.Fatalf("audit: %+v", ev)
	}
	// The deactivated user can no longer act, though its id is known.
	if w := as("nobody", "GET", "/api/v1/me", ""); w.Code != http.StatusUnauthorized {
		t.Fatalf("inactive user: %d %s", w.Code, w.Body)
	}
	// A refused change is audited as denied, as for the API.
	if w := as("pete", "POST", "/api/v1/users/"+e.users["alice"].ID+"/unlock", ""); w.Code != http.StatusForbidden {
		t.Fatalf("pete unlocks alice: %d %s", w.Code, w.Body)
	}
	if ev := e.audit("user.unlock"); len(ev) != 1 || ev[0].Outcome != store.OutcomeDenied || ev[0].Actor != "pete" {
		t.Fatalf("denied audit: %+v", ev)
	}
}

// TestListUsersTeamFilter: ?team= narrows the list to one team and never
// widens a scoped caller's reach.
func TestListUsersTeamFilter(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	err := e.st.Tx(ctx, func(tx store.Tx) error {
		for _, u := range []store.User{
			{Username: "a1", Units: []string{"A"}}, {Username: "a2", Units: []string{"A"}}, {Username: "b1", Units: []string{"B"}},
		} {
			u.State, u.Source = store.StateActive, store.SourceLocal
			if err := tx.CreateUser(ctx, &u); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tok := e.token("root")
	var list admin.UserList
	e.do("GET", "/api/v1/users?team=A", tok, nil, 200, &list)
	if list.Total != 2 || len(list.Items) != 2 {
		b, _ := json.Marshal(list)
		t.Fatalf("team A: %s", b)
	}
	e.do("GET", "/api/v1/users?team=none", tok, nil, 200, &list)
	if list.Total != 0 {
		t.Fatalf("unknown team: %d users", list.Total)
	}
}

// TestMySessions: anyone lists their own sessions, and only theirs.
func TestMySessions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	now := e.clk.Now()
	err := e.st.Tx(ctx, func(tx store.Tx) error {
		for i, u := range []string{"nobody", "alice"} {
			s := store.Session{ID: fmt.Sprintf("s%d", i), UserID: e.users[u].ID, Method: "password", CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
			if err := tx.CreateSession(ctx, s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var list admin.SessionList
	e.do("GET", "/api/v1/me/sessions", e.token("nobody"), nil, 200, &list)
	if len(list.Items) != 1 || list.Items[0].ID != "s0" || list.Items[0].Username != "nobody" {
		t.Fatalf("own sessions: %+v", list)
	}
}

// TestListTeamsWithoutCounts: members=false leaves the counts out.
func TestListTeamsWithoutCounts(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	err := e.st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.PutTeam(ctx, store.Team{Name: "A"}); err != nil {
			return err
		}
		u := store.User{Username: "a1", Units: []string{"A"}, State: store.StateActive, Source: store.SourceLocal}
		return tx.CreateUser(ctx, &u)
	})
	if err != nil {
		t.Fatal(err)
	}
	tok := e.token("root")
	var tl admin.TeamList
	e.do("GET", "/api/v1/teams", tok, nil, 200, &tl)
	if len(tl.Items) != 1 || tl.Items[0].Members != 1 {
		t.Fatalf("teams: %+v", tl)
	}
	e.do("GET", "/api/v1/teams?members=false", tok, nil, 200, &tl)
	if len(tl.Items) != 1 || tl.Items[0].Name != "A" || tl.Items[0].Members != 0 {
		t.Fatalf("teams without counts: %+v", tl)
	}
}
