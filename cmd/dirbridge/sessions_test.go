package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/store"
)

func TestSessionsCommands(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t)
	a, err := admin.New(admin.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	e := serveAPI(t, st, a)

	now := time.Now()
	jdoe := store.User{Username: "jdoe", State: store.StateActive, Source: store.SourceLocal}
	err = st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateUser(ctx, &jdoe); err != nil {
			return err
		}
		for i, id := range []string{"aaaaaaaaaaaaaaaa1", "aaaaaaaaaaaaaaab2"} {
			if err := tx.CreateSession(ctx, store.Session{ID: id, UserID: jdoe.ID, Method: []string{"oidc", "password"}[i],
				Bypass: i == 1, SourceIP: "192.0.2.4", CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	api := e.api

	out := api("sessions", "list")
	if !strings.Contains(out, "jdoe") || !strings.Contains(out, "password (bypass)") ||
		!strings.Contains(out, "2 session(s), 1 licence(s) in use") {
		t.Fatalf("sessions list:\n%s", out)
	}
	var list admin.SessionList
	if err := json.Unmarshal([]byte(api("sessions", "list", "--user", "jdoe", "--json")), &list); err != nil || len(list.Items) != 2 {
		t.Fatalf("sessions list --json: %v %+v", err, list)
	}
	if _, _, err := run(t, "sessions", "end", "aaaaaaaa", "--server", e.srv.URL); err == nil || !strings.Contains(err.Error(), "ambiguous") {
		t.Fatalf("sessions end with an ambiguous prefix: %v", err)
	}
	if out := api("sessions", "end", "aaaaaaaaaaaaaaaa"); !strings.Contains(out, "1 session(s) ended") {
		t.Fatalf("sessions end ID prefix:\n%s", out)
	}
	if out := api("sessions", "end", "--user", "jdoe"); !strings.Contains(out, "1 session(s) ended") {
		t.Fatalf("sessions end --user:\n%s", out)
	}
	if _, _, err := run(t, "sessions", "end", "--server", e.srv.URL); err == nil || !strings.Contains(err.Error(), "session ID or --user") {
		t.Fatalf("sessions end without a target: %v", err)
	}
	if out := api("sessions", "list"); !strings.Contains(out, "0 session(s), 0 licence(s) in use") {
		t.Fatalf("after ending:\n%s", out)
	}
}
