package sso

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/store"
)

// TestIdleDeactivation: an IdP-only user not seen at the IdP for the
// configured time is deactivated (audited); one seen
// since stays, as do other users and an IdP-only user without a link.
func TestIdleDeactivation(t *testing.T) {
	m := &fakeMethod{}
	e := newEnv(t, func(o *Options) {
		o.Methods = []RedirectMethod{m}
		o.IdleDeactivation = 30 * 24 * time.Hour
	})
	m.fin = e.svc
	e.profile("Agent", "take_calls")
	ctx := context.Background()
	idle := e.user(store.User{Username: "idle", UPN: "idle@idp.example", Profile: "Agent", Source: store.SourceIdP}, "")
	busy := e.user(store.User{Username: "busy", UPN: "busy@idp.example", Profile: "Agent", Source: store.SourceIdP}, "")
	nolink := e.user(store.User{Username: "nolink", Profile: "Agent", Source: store.SourceIdP}, "")
	local := e.user(store.User{Username: "local", UPN: "local@idp.example", Profile: "Agent"}, "")

	signIn := func(upn, link string) {
		t.Helper()
		if r := e.do(e.client(), http.MethodGet, "/fake/callback?upn="+upn+"&link="+link, nil, nil); r.status != http.StatusSeeOther {
			t.Fatalf("sign-in %s: %d\n%s", upn, r.status, r.body)
		}
	}
	signIn("idle@idp.example", "sub-idle")
	signIn("busy@idp.example", "sub-busy")
	signIn("local@idp.example", "sub-local")

	e.clock.Advance(20 * 24 * time.Hour)
	signIn("busy@idp.example", "sub-busy") // through the link: recorded
	if n, err := e.svc.DeactivateIdle(ctx); err != nil || n != 0 {
		t.Fatalf("after 20 days: %d %v", n, err)
	}
	links, _ := e.st.ListIdPLinks(ctx, busy.ID)
	if len(links) != 1 || !links[0].LastSeenAt.Equal(e.clock.Now().UTC().Truncate(time.Microsecond)) {
		t.Fatalf("busy's link after the second sign-in: %+v", links)
	}

	e.clock.Advance(11 * 24 * time.Hour)
	n, err := e.svc.DeactivateIdle(ctx)
	if err != nil || n != 1 {
		t.Fatalf("after 31 days: %d %v, want idle deactivated", n, err)
	}
	for _, c := range []struct {
		u    store.User
		want store.UserState
	}{{idle, store.StateInactive}, {busy, store.StateActive}, {nolink, store.StateActive}, {local, store.StateActive}} {
		u, err := e.st.GetUser(ctx, c.u.ID)
		if err != nil || u.State != c.want {
			t.Errorf("%s: %s %v, want %s", c.u.Username, u.State, err, c.want)
		}
	}
	if u, _ := e.st.GetUser(ctx, idle.ID); u.DeactivatedReason != "not seen at the identity provider for 30 days" {
		t.Errorf("reason %q", u.DeactivatedReason)
	}
	ev := e.lastAudit(ActionIdleDeactivate)
	if ev.Actor != idleActor || ev.Target != idle.ID || ev.Outcome != store.OutcomeSuccess {
		t.Errorf("audit: %+v", ev)
	}
	if n, _ := e.svc.DeactivateIdle(ctx); n != 0 {
		t.Errorf("a second run deactivated %d more", n)
	}
}

// TestIdleDeactivationAfterReactivation: an administrator's reactivation
// counts as a vouch, so the user does not go again within the hour. (The
// store stamps UpdatedAt with the real time, so this test keeps the real
// clock and dates the link back instead.)
func TestIdleDeactivationAfterReactivation(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.IdleDeactivation = 30 * 24 * time.Hour })
	ctx := context.Background()
	u := e.user(store.User{Username: "back", Source: store.SourceIdP}, "")
	old := time.Now().Add(-40 * 24 * time.Hour)
	err := e.st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateIdPLink(ctx, store.IdPLink{UserID: u.ID, Issuer: "https://idp.test", Subject: "sub-back",
			CreatedAt: old, LastSeenAt: old}); err != nil {
			return err
		}
		got, err := tx.GetUser(ctx, u.ID)
		if err != nil {
			return err
		}
		u = got
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Created now: its own UpdatedAt vouches for it until an idle period
	// has passed since.
	if n, err := e.svc.DeactivateIdle(ctx); err != nil || n != 0 {
		t.Fatalf("a user created just now: %d %v", n, err)
	}
	e.clock.Advance(31 * 24 * time.Hour)
	if n, err := e.svc.DeactivateIdle(ctx); err != nil || n != 1 {
		t.Fatalf("31 days on: %d %v", n, err)
	}
	e.clock.Advance(-31 * 24 * time.Hour)
	u, _ = e.st.GetUser(ctx, u.ID)
	u.State, u.DeactivatedReason = store.StateActive, ""
	if err := e.st.Tx(ctx, func(tx store.Tx) error { return tx.UpdateUser(ctx, &u) }); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.svc.DeactivateIdle(ctx); n != 0 {
		t.Errorf("the reactivated user went again at once")
	}
}
