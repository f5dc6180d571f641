package sso

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/store"
)

// Over policy.password_reset.per_hour the answer stays the same and no
// mail goes; an hour later the account may ask again.
func TestResetPerHour(t *testing.T) {
	mail := &fakeMailer{links: make(chan string, 8)}
	e := newEnv(t, func(o *Options) { o.ResetMailer = mail; o.ResetPerHour = 2 })
	e.user(store.User{Username: "alice", Email: "alice@example.com"}, alicePW)
	ask := func() string {
		r := e.do(e.client(), http.MethodPost, "/password/forgot", url.Values{"username": {"alice"}}, nil)
		if r.status != http.StatusOK {
			t.Fatalf("forgot: %d", r.status)
		}
		return r.body
	}
	mails := func() int {
		n := 0
		for {
			select {
			case <-mail.links:
				n++
			case <-time.After(300 * time.Millisecond):
				return n
			}
		}
	}
	first := ask()
	ask()
	if third := ask(); third != first {
		t.Errorf("the limited answer differs")
	}
	if n := mails(); n != 2 {
		t.Fatalf("%d mails, want 2", n)
	}
	if ev := e.lastAudit(ActionPasswordReset); ev.Reason != "too many reset requests for this address or account" {
		t.Errorf("audit %q", ev.Reason)
	}
	e.clock.Advance(time.Hour)
	ask()
	if n := mails(); n != 1 {
		t.Fatalf("after an hour: %d mails, want 1", n)
	}
}
