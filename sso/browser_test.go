package sso

import (
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/dirbridge/dirbridge/store"
)

func TestBrowserSession(t *testing.T) {
	e := newEnv(t, nil)
	e.profile("Agent", "app_take_calls")
	u := e.user(store.User{Username: "ann", Profile: "Agent"}, "correct horse battery")
	c := e.client()
	if res := e.login(c, "ann", "correct horse battery", false, nil); res.status != 303 {
		t.Fatalf("login: %d %s", res.status, res.body)
	}
	req := httptest.NewRequest("GET", "/", nil)
	for _, ck := range c.Jar.Cookies(mustURL(t, e.srv.URL)) {
		req.AddCookie(ck)
	}
	b, err := e.svc.BrowserSession(req)
	if err != nil {
		t.Fatal(err)
	}
	if b.User.ID != u.ID || len(b.Privileges) != 1 || b.Privileges[0] != "app_take_calls" || b.ID == "" {
		t.Fatalf("session: %+v", b)
	}
	again, err := e.svc.BrowserSession(req)
	if err != nil || again.CSRF != b.CSRF || len(b.CSRF) < 40 {
		t.Fatalf("CSRF token not stable per session: %q %q %v", b.CSRF, again.CSRF, err)
	}
	if _, err := e.svc.BrowserSession(httptest.NewRequest("GET", "/", nil)); !errors.Is(err, ErrNotSignedIn) {
		t.Fatalf("no cookie: %v", err)
	}
}
