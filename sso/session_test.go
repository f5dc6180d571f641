package sso

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/store"
)

func TestVerify(t *testing.T) {
	e := bypassEnv(t, false)
	e.user(store.User{Username: "dave", Email: "dave@example.com", Profile: "Agent", Units: []string{"HQ", "Sales"}}, alicePW)

	anon := e.client()
	r := e.do(anon, http.MethodGet, "/auth/verify", nil, map[string]string{
		"X-Forwarded-Proto": "http", "X-Forwarded-Host": "sso.test", "X-Forwarded-Uri": "/app/reports?x=1"})
	if r.status != http.StatusUnauthorized {
		t.Fatalf("anonymous verify: %d", r.status)
	}
	if got, want := r.header.Get("X-Dirbridge-Login-Url"), "http://sso.test/login?return_to=http%3A%2F%2Fsso.test%2Fapp%2Freports%3Fx%3D1"; got != want {
		t.Errorf("login URL %q, want %q", got, want)
	}
	// A return URL to a host not allowed falls back to the login page alone.
	r = e.do(anon, http.MethodGet, "/auth/verify", nil, map[string]string{"X-Original-Url": "https://evil.example/"})
	if got := r.header.Get("X-Dirbridge-Login-Url"); got != "http://sso.test/login" {
		t.Errorf("login URL for a foreign return URL: %q", got)
	}

	c := e.client()
	if r := e.login(c, "dave", alicePW, false, nil); r.status != http.StatusSeeOther {
		t.Fatalf("login: %d", r.status)
	}
	r = e.verify(c, "")
	if r.status != http.StatusOK {
		t.Fatalf("verify: %d", r.status)
	}
	for h, want := range map[string]string{
		"X-Dirbridge-User": "dave", "X-Dirbridge-Email": "dave@example.com", "X-Dirbridge-Profile": "Agent",
		"X-Dirbridge-Privileges": "take_calls", "X-Dirbridge-Units": "HQ,Sales",
	} {
		if got := r.header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if r := e.verify(c, "?privilege=take_calls"); r.status != http.StatusOK {
		t.Errorf("held privilege: %d", r.status)
	}
	if r := e.verify(c, "?privilege=take_calls&privilege=manage_users"); r.status != http.StatusForbidden {
		t.Errorf("missing privilege: %d, want 403", r.status)
	}

	r = e.do(c, http.MethodGet, "/api/v1/me", nil, nil)
	var me Me
	if err := json.Unmarshal([]byte(r.body), &me); err != nil || r.status != http.StatusOK {
		t.Fatalf("/api/v1/me: %d %v\n%s", r.status, err, r.body)
	}
	if me.Username != "dave" || me.Profile != "Agent" || len(me.Units) != 2 || me.Method != MethodPassword {
		t.Errorf("me = %+v", me)
	}
	if r := e.do(anon, http.MethodGet, "/api/v1/me", nil, nil); r.status != http.StatusUnauthorized || !strings.Contains(r.body, "login_url") {
		t.Errorf("anonymous /api/v1/me: %d %s", r.status, r.body)
	}

	// Logout ends the session at once, cache or not.
	if r := e.do(c, http.MethodPost, "/logout", nil, nil); r.status != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.status)
	}
	if r := e.verify(c, ""); r.status != http.StatusUnauthorized {
		t.Errorf("verify after logout: %d", r.status)
	}
	if ev := e.lastAudit(ActionSignOut); ev.Outcome != store.OutcomeSuccess {
		t.Errorf("logout audit: %+v", ev)
	}
}

func TestSessionRevocation(t *testing.T) {
	e := bypassEnv(t, false)
	c := e.client()
	if r := e.login(c, "alice", alicePW, false, nil); r.status != http.StatusSeeOther {
		t.Fatalf("login: %d", r.status)
	}
	alice, _ := e.st.GetUserByUsername(context.Background(), "alice")
	// Deactivation deletes the user's sessions (the store does); the cache
	// holds on for at most VerifyCacheTTL.
	err := e.st.Tx(context.Background(), func(tx store.Tx) error {
		alice.State = store.StateInactive
		if err := tx.UpdateUser(context.Background(), &alice); err != nil {
			return err
		}
		_, err := tx.DeleteUserSessions(context.Background(), alice.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(e.svc.opts.VerifyCacheTTL)
	if r := e.verify(c, ""); r.status != http.StatusUnauthorized {
		t.Fatalf("verify after deactivation: %d", r.status)
	}

	admin, _ := e.st.GetUserByUsername(context.Background(), "admin")
	c = e.client()
	if r := e.login(c, "admin", adminPW, false, nil); r.status != http.StatusSeeOther {
		t.Fatalf("login: %d", r.status)
	}
	if n, err := e.svc.RevokeUserSessions(context.Background(), admin.ID); err != nil || n != 1 {
		t.Fatalf("RevokeUserSessions: %d %v", n, err)
	}
	if r := e.verify(c, ""); r.status != http.StatusUnauthorized {
		t.Errorf("verify right after RevokeUserSessions: %d", r.status)
	}
}

func TestSessionTimeouts(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.Cookie = Cookie{IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 2 * time.Hour}
	})
	e.user(store.User{Username: "alice"}, alicePW)

	c := e.client()
	if r := e.login(c, "alice", alicePW, false, nil); r.status != http.StatusSeeOther {
		t.Fatalf("login: %d", r.status)
	}
	e.clock.Advance(29 * time.Minute)
	if r := e.verify(c, ""); r.status != http.StatusOK {
		t.Fatalf("within idle timeout: %d", r.status)
	}
	e.clock.Advance(29 * time.Minute) // touched at 29m, so still alive at 58m
	if r := e.verify(c, ""); r.status != http.StatusOK {
		t.Fatalf("activity keeps the session: %d", r.status)
	}
	e.clock.Advance(31 * time.Minute)
	if r := e.verify(c, ""); r.status != http.StatusUnauthorized {
		t.Fatalf("after idle timeout: %d", r.status)
	}

	// Absolute: active all along, still ends.
	c = e.client()
	if r := e.login(c, "alice", alicePW, false, nil); r.status != http.StatusSeeOther {
		t.Fatalf("login: %d", r.status)
	}
	for range 7 {
		e.clock.Advance(17 * time.Minute)
		if r := e.verify(c, ""); r.status != http.StatusOK {
			t.Fatalf("active session before the absolute timeout: %d", r.status)
		}
	}
	e.clock.Advance(17 * time.Minute) // 136m > 2h
	if r := e.verify(c, ""); r.status != http.StatusUnauthorized {
		t.Fatalf("after absolute timeout: %d", r.status)
	}
}

func TestCookieAttributes(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.PublicURL = "https://sso.example.com" })
	e.user(store.User{Username: "alice"}, alicePW)
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader("username=alice&password="+alicePW))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	e.svc.ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	sc := rec.Header().Get("Set-Cookie")
	for _, want := range []string{"__Host-dirbridge_session=", "Path=/", "HttpOnly", "Secure", "SameSite=Lax"} {
		if !strings.Contains(sc, want) {
			t.Errorf("Set-Cookie %q lacks %q", sc, want)
		}
	}
	if strings.Contains(sc, "Domain=") {
		t.Errorf("Set-Cookie %q has a Domain", sc)
	}
}

func TestLicences(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.ConcurrentLicences = 2 })
	for _, n := range []string{"u1", "u2", "u3"} {
		e.user(store.User{Username: n}, alicePW)
	}
	c1, c2 := e.client(), e.client()
	for _, x := range []struct {
		c *http.Client
		n string
	}{{c1, "u1"}, {c2, "u2"}} {
		if r := e.login(x.c, x.n, alicePW, false, nil); r.status != http.StatusSeeOther {
			t.Fatalf("%s: %d", x.n, r.status)
		}
	}
	r := e.login(e.client(), "u3", alicePW, false, nil)
	// A password sign-in answers with the wrong-password status; the page
	// tells the owner why.
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "All 2 licences are in use") {
		t.Fatalf("third user: %d\n%s", r.status, r.body)
	}
	if ev := e.lastAudit(ActionSignIn); !strings.Contains(ev.Reason, "licences") || ev.Outcome != store.OutcomeDenied {
		t.Errorf("audit: %+v", ev)
	}
	// A user who holds a licence may open a second session.
	if r := e.login(e.client(), "u1", alicePW, false, nil); r.status != http.StatusSeeOther {
		t.Fatalf("second session of u1: %d", r.status)
	}
	// A licence comes free at logout.
	e.do(c2, http.MethodPost, "/logout", nil, nil)
	if r := e.login(e.client(), "u3", alicePW, false, nil); r.status != http.StatusSeeOther {
		t.Fatalf("u3 after u2 left: %d", r.status)
	}
}
