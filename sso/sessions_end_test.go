package sso

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/store"
)

// A password change signs out every other session of the user and keeps
// the one that made the change.
func TestPasswordChangeEndsOtherSessions(t *testing.T) {
	e := newEnv(t, nil)
	e.user(store.User{Username: "alice", Email: "alice@example.com"}, alicePW)
	here, there := e.client(), e.client()
	for _, c := range []*http.Client{here, there} {
		if r := e.login(c, "alice", alicePW, false, nil); r.status != http.StatusSeeOther {
			t.Fatalf("login: %d", r.status)
		}
	}
	r := e.do(here, http.MethodPost, "/password/change", url.Values{"old_password": {alicePW},
		"new_password": {"a-new-passw0rd"}, "confirm_password": {"a-new-passw0rd"}}, nil)
	if r.status != http.StatusOK {
		t.Fatalf("change: %d\n%s", r.status, r.body)
	}
	if r := e.verify(here, ""); r.status != http.StatusOK {
		t.Errorf("the session that changed the password ended: %d", r.status)
	}
	if r := e.verify(there, ""); r.status != http.StatusUnauthorized {
		t.Errorf("another session survived the change: %d", r.status)
	}
	if ev := e.lastAudit(ActionPasswordChange); ev.Details["sessions_ended"] != float64(1) && ev.Details["sessions_ended"] != 1 {
		t.Errorf("audit sessions_ended = %v", ev.Details["sessions_ended"])
	}

	// The API change (bearer token, no browser session) ends them all.
	u, _ := e.st.GetUserByUsername(context.Background(), "alice")
	if err := e.svc.ChangeOwnPassword(context.Background(), u.ID, "a-new-passw0rd", "a-third-passw0rd", netip.MustParseAddr("127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	if r := e.verify(here, ""); r.status != http.StatusUnauthorized {
		t.Errorf("a session survived the API change: %d", r.status)
	}
}

// A reset link mailed before the password changed no longer works.
func TestResetLinkDiesWithPasswordChange(t *testing.T) {
	mail := &fakeMailer{links: make(chan string, 4)}
	e := newEnv(t, func(o *Options) { o.ResetMailer = mail })
	alice := e.user(store.User{Username: "alice", Email: "alice@example.com"}, alicePW)
	e.clock.Advance(time.Minute)
	if r := e.do(e.client(), http.MethodPost, "/password/forgot", url.Values{"username": {"alice"}}, nil); r.status != http.StatusOK {
		t.Fatalf("forgot: %d", r.status)
	}
	var link string
	select {
	case got := <-mail.links:
		_, link, _ = strings.Cut(got, " ")
	case <-time.After(10 * time.Second):
		t.Fatal("no reset mail")
	}
	e.clock.Advance(time.Minute)
	if err := e.svc.ChangeOwnPassword(context.Background(), alice.ID, alicePW, "a-new-passw0rd", netip.MustParseAddr("127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(link)
	r := e.do(e.client(), http.MethodPost, "/password/reset", url.Values{"token": {u.Query().Get("token")},
		"new_password": {"attacker-passw0rd"}, "confirm_password": {"attacker-passw0rd"}}, nil)
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "was changed since it was sent") {
		t.Fatalf("stale link: %d\n%s", r.status, r.body)
	}
	if r := e.login(e.client(), "alice", "a-new-passw0rd", false, nil); r.status != http.StatusSeeOther {
		t.Errorf("the changed password no longer works: %d", r.status)
	}
}

// A lock-out ends the sessions the password opened, not those an IdP did.
func TestLockoutEndsPasswordSessions(t *testing.T) {
	e := bypassEnv(t, false)
	byPassword, byIdP := e.client(), e.client()
	if r := e.login(byPassword, "alice", alicePW, false, nil); r.status != http.StatusSeeOther {
		t.Fatalf("login: %d", r.status)
	}
	if r := e.do(byIdP, http.MethodGet, "/fake/callback?email=alice@example.com", nil, nil); r.status != http.StatusSeeOther {
		t.Fatalf("IdP sign-in: %d", r.status)
	}
	for range 5 {
		e.login(e.client(), "alice", "wrong", false, nil)
	}
	if r := e.verify(byPassword, ""); r.status != http.StatusUnauthorized {
		t.Errorf("the password session survived the lock: %d", r.status)
	}
	if r := e.verify(byIdP, ""); r.status != http.StatusOK {
		t.Errorf("the IdP session ended with the password lock: %d", r.status)
	}
}
