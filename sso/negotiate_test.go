package sso

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/store"
)

// challenger is a Negotiator that challenges as sso/kerberos does.
type challenger struct {
	svc   *Service
	calls int
}

func (c *challenger) ServeNegotiate(w http.ResponseWriter, r *http.Request) {
	c.calls++
	w.Header().Set("WWW-Authenticate", "Negotiate")
	c.svc.LoginPage(w, r, http.StatusUnauthorized)
}

// TestNegotiatorOnLogin: a Negotiator answers GET /login with the sign-in
// page as its challenge's body — even with SSO enforced and one method,
// where the plain page redirects — but never on the bypass path or after
// signing out.
func TestNegotiatorOnLogin(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Enforce = true })
	m := &fakeMethod{fin: e.svc}
	e.svc.AddMethod(m)
	c := e.client()
	if r := e.do(c, http.MethodGet, "/login", nil, nil); r.status != http.StatusSeeOther {
		t.Fatalf("without a negotiator: %d, want the redirect to the only IdP", r.status)
	}
	n := &challenger{svc: e.svc}
	e.svc.SetNegotiator(n)
	r := e.do(c, http.MethodGet, "/login", nil, nil)
	if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") != "Negotiate" || !strings.Contains(r.body, "Sign in with Fake IdP") {
		t.Fatalf("challenge: %d %q\n%s", r.status, r.header.Get("WWW-Authenticate"), r.body)
	}
	for _, q := range []string{"?bypass-sso=1", "?logged_out=1"} {
		if r := e.do(c, http.MethodGet, "/login"+q, nil, nil); r.status == http.StatusUnauthorized {
			t.Fatalf("/login%s was challenged", q)
		}
	}
	if n.calls != 1 {
		t.Fatalf("negotiator called %d times, want 1", n.calls)
	}
}

// TestLinkSubjectWithUserID: a method that resolved the user itself and
// vouches for a subject binds it at the first sign-in, once.
func TestLinkSubjectWithUserID(t *testing.T) {
	e := newEnv(t, nil)
	u := e.user(store.User{Username: "dana"}, "")
	for range 2 {
		rec := httptest.NewRecorder()
		req, _ := http.NewRequest(http.MethodGet, "/kerberos/login", nil)
		req.RemoteAddr = "127.0.0.1:1234"
		e.svc.Finish(rec, req, Identity{Method: MethodKerberos, Issuer: "kerberos:EXAMPLE.TEST", UserID: u.ID, LinkSubject: "S-1-5-21-1-2-3-1104"}, "/")
		if rec.Code != http.StatusSeeOther {
			t.Fatalf("sign-in: %d %s", rec.Code, rec.Body)
		}
	}
	links, err := e.st.ListIdPLinks(t.Context(), u.ID)
	if err != nil || len(links) != 1 || links[0].Subject != "S-1-5-21-1-2-3-1104" {
		t.Fatalf("links %+v (%v), want the one SID", links, err)
	}
}
