package sso

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/store"
)

type fakeMailer struct{ links chan string }

func (m *fakeMailer) SendPasswordReset(_ context.Context, u store.User, link string, _ time.Time) error {
	m.links <- u.Username + " " + link
	return nil
}

func (m *fakeMailer) SendInvitation(_ context.Context, u store.User, link string, _ time.Time) error {
	m.links <- "invite " + u.Username + " " + link
	return nil
}

func TestForgottenPassword(t *testing.T) {
	mail := &fakeMailer{links: make(chan string, 4)}
	e := newEnv(t, func(o *Options) { o.ResetMailer = mail })
	e.user(store.User{Username: "alice", Email: "alice@example.com"}, alicePW)
	e.user(store.User{Username: "bob", Email: "bob@example.com", Source: "corp", Anchor: "b"}, "")

	signedIn := e.client()
	if r := e.login(signedIn, "alice", alicePW, false, nil); r.status != http.StatusSeeOther {
		t.Fatalf("login: %d", r.status)
	}

	answers := map[string]string{}
	for _, name := range []string{"alice@example.com", "nobody", "bob"} {
		r := e.do(e.client(), http.MethodPost, "/password/forgot", url.Values{"username": {name}}, nil)
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d", name, r.status)
		}
		answers[name] = r.body
	}
	if answers["nobody"] != answers["alice@example.com"] || answers["bob"] != answers["nobody"] {
		t.Errorf("the answer depends on the account")
	}
	var link string
	select {
	case got := <-mail.links:
		user, l, _ := strings.Cut(got, " ")
		if user != "alice" || !strings.HasPrefix(l, "http://sso.test/password/reset?token=") {
			t.Fatalf("mail %q", got)
		}
		link = l
	case <-time.After(10 * time.Second):
		t.Fatal("no reset mail")
	}
	select {
	case got := <-mail.links:
		t.Fatalf("unexpected mail %q", got)
	case <-time.After(100 * time.Millisecond):
	}
	u, _ := url.Parse(link)
	token := u.Query().Get("token")

	r := e.do(e.client(), http.MethodGet, "/password/reset?"+u.RawQuery, nil, nil)
	if r.status != http.StatusOK || !strings.Contains(r.body, `name="token" value="`+token+`"`) {
		t.Fatalf("reset page: %d", r.status)
	}
	r = e.do(e.client(), http.MethodPost, "/password/reset", url.Values{"token": {token}, "new_password": {"short"}, "confirm_password": {"short"}}, nil)
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "at least 9 characters") {
		t.Fatalf("weak password: %d\n%s", r.status, r.body)
	}
	r = e.do(e.client(), http.MethodPost, "/password/reset", url.Values{"token": {token}, "new_password": {"a-new-password-9"}, "confirm_password": {"a-new-password-9"}}, nil)
	if r.status != http.StatusOK || !strings.Contains(r.body, "Your password has been changed") {
		t.Fatalf("reset: %d\n%s", r.status, r.body)
	}
	if r := e.verify(signedIn, ""); r.status != http.StatusUnauthorized {
		t.Errorf("sessions survive a reset: %d", r.status)
	}
	if r := e.login(e.client(), "alice", "a-new-password-9", false, nil); r.status != http.StatusSeeOther {
		t.Errorf("new password: %d", r.status)
	}
	r = e.do(e.client(), http.MethodPost, "/password/reset", url.Values{"token": {token}, "new_password": {"another-one-99"}, "confirm_password": {"another-one-99"}}, nil)
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "expired or was already used") {
		t.Fatalf("token reused: %d", r.status)
	}
	if ev := e.lastAudit(ActionPasswordReset); ev.Outcome != store.OutcomeFailure {
		t.Errorf("audit: %+v", ev)
	}
}

// TestInvitationSetsFirstPassword: a local user created without a
// password chooses one through the invitation link, once.
func TestInvitationSetsFirstPassword(t *testing.T) {
	mail := &fakeMailer{links: make(chan string, 2)}
	e := newEnv(t, func(o *Options) { o.ResetMailer = mail })
	u := e.user(store.User{Username: "newbie", Email: "newbie@example.com"}, "")
	if err := e.svc.SendSetPassword(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	got := <-mail.links
	if !strings.HasPrefix(got, "invite newbie http://sso.test/password/reset?token=") {
		t.Fatalf("mail %q", got)
	}
	link, _ := url.Parse(strings.Fields(got)[2])
	token := link.Query().Get("token")
	pw := "first-password-9"
	r := e.do(e.client(), http.MethodPost, "/password/reset", url.Values{"token": {token}, "new_password": {pw}, "confirm_password": {pw}}, nil)
	if r.status != http.StatusOK {
		t.Fatalf("set password: %d\n%s", r.status, r.body)
	}
	if r := e.login(e.client(), "newbie", pw, false, nil); r.status != http.StatusSeeOther {
		t.Errorf("sign-in with the chosen password: %d", r.status)
	}
	r = e.do(e.client(), http.MethodPost, "/password/reset", url.Values{"token": {token}, "new_password": {"other-password-9"}, "confirm_password": {"other-password-9"}}, nil)
	if r.status != http.StatusBadRequest {
		t.Errorf("invitation used twice: %d", r.status)
	}

	noMail := newEnv(t, nil)
	if err := noMail.svc.SendSetPassword(context.Background(), u); !errors.Is(err, ErrNoResetMailer) {
		t.Errorf("without a mailer: %v", err)
	}
}

// TestIdPOnlyUserGetsNoPassword: a user that exists only through an IdP
// (JIT-created) gets no reset link, no invitation, no password sign-in and
// no change, each refusal audited with the same reason; the anonymous
// answer to the forgotten-password form stays the same as for anyone.
func TestIdPOnlyUserGetsNoPassword(t *testing.T) {
	mail := &fakeMailer{links: make(chan string, 4)}
	e := newEnv(t, func(o *Options) { o.ResetMailer = mail })
	dora := e.user(store.User{Username: "dora", Email: "dora@example.com", Source: store.SourceIdP}, "")
	r := e.do(e.client(), http.MethodPost, "/password/forgot", url.Values{"username": {"dora@example.com"}}, nil)
	nobody := e.do(e.client(), http.MethodPost, "/password/forgot", url.Values{"username": {"nobody"}}, nil)
	if r.status != http.StatusOK || r.body != nobody.body {
		t.Fatalf("forgot: %d, the answer differs from an unknown user's", r.status)
	}
	select {
	case got := <-mail.links:
		t.Fatalf("a reset mail went to an IdP-only user: %q", got)
	case <-time.After(200 * time.Millisecond):
	}
	evs, err := e.st.ListAudit(context.Background(), store.AuditFilter{Action: ActionPasswordReset, Actor: "dora@example.com", Limit: 1})
	if err != nil || len(evs) != 1 || evs[0].Reason != reasonIdPOnly || evs[0].Outcome != store.OutcomeDenied {
		t.Fatalf("forgot audit: %+v %v", evs, err)
	}
	if err := e.svc.SendSetPassword(context.Background(), dora); !errors.Is(err, ErrIdPOnly) {
		t.Errorf("invitation: %v, want ErrIdPOnly", err)
	}
	if r := e.login(e.client(), "dora", "anything-at-all", false, nil); r.status != http.StatusUnauthorized {
		t.Errorf("password sign-in: %d", r.status)
	}
	if ev := e.lastAudit(ActionSignIn); ev.Reason != reasonIdPOnly {
		t.Errorf("sign-in audit reason %q", ev.Reason)
	}
}
