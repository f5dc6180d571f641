package expiry_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/expiry"
	"github.com/dirbridge/dirbridge/store"
)

// An account that expires (AD's accountExpires) gets its own notices, on
// the same thresholds and once each, apart from the password's.
func TestJobAccountExpiry(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	day := 24 * time.Hour
	changed := f.now.Add(-10 * day)
	leaving := f.addUser(t, store.User{Username: "leaving", Email: "leaving@example.com", PasswordChangedAt: changed,
		PasswordExpiresAt: f.now.Add(2 * day), AccountExpiresAt: f.now.Add(5 * day)})
	f.addUser(t, store.User{Username: "contractor", Email: "contractor@example.com", PasswordNeverExpires: true, AccountExpiresAt: f.now.Add(day)})
	f.addUser(t, store.User{Username: "gone", Email: "gone@example.com", AccountExpiresAt: f.now.Add(-day)})
	f.addUser(t, store.User{Username: "noaddr", AccountExpiresAt: f.now.Add(3 * day)})
	job := f.job(expiry.Config{})

	summary := func(ns []expiry.Notice) []string {
		var out []string
		for _, n := range ns {
			out = append(out, n.Username+"/"+n.Kind+"/"+strconv.Itoa(n.Threshold))
		}
		slices.Sort(out)
		return out
	}
	rep, err := job.Run(ctx, f.now, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"contractor/account/1", "leaving/account/7", "leaving/password/3"}
	if got := summary(rep.Sent); !slices.Equal(got, want) {
		t.Fatalf("sent %v, want %v", got, want)
	}
	if len(rep.Skipped) != 1 || rep.Skipped[0].Username != "noaddr" || rep.Skipped[0].Kind != expiry.KindAccount {
		t.Fatalf("skipped %+v, want noaddr's account notice", rep.Skipped)
	}
	var subjects []string
	for _, m := range f.smtp.Messages() {
		subjects = append(subjects, strings.Join(m.To, ",")+": "+m.Subject)
	}
	slices.Sort(subjects)
	wantSubjects := []string{
		"contractor@example.com: Your account expires tomorrow",
		"leaving@example.com: Your account expires in 5 days",
		"leaving@example.com: Your password expires in 2 days",
	}
	if !slices.Equal(subjects, wantSubjects) {
		t.Fatalf("messages %v, want %v", subjects, wantSubjects)
	}

	// Once each: a second run sends nothing, and a password change does
	// not repeat the account notice.
	f.smtp.Reset()
	err = f.st.Tx(ctx, func(tx store.Tx) error {
		u, err := tx.GetUser(ctx, leaving.ID)
		if err != nil {
			return err
		}
		u.PasswordChangedAt, u.PasswordExpiresAt = f.now, f.now.Add(40*day)
		return tx.UpdateUser(ctx, &u)
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep, err = job.Run(ctx, f.now, false); err != nil || len(rep.Sent) != 0 || len(f.smtp.Messages()) != 0 {
		t.Fatalf("second run sent %v (err %v)", summary(rep.Sent), err)
	}

	// Extending the account moves the date, so its thresholds start over.
	err = f.st.Tx(ctx, func(tx store.Tx) error {
		u, err := tx.GetUser(ctx, leaving.ID)
		if err != nil {
			return err
		}
		u.AccountExpiresAt = f.now.Add(12 * day)
		return tx.UpdateUser(ctx, &u)
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep, err = job.Run(ctx, f.now, false); err != nil || !slices.Equal(summary(rep.Sent), []string{"leaving/account/14"}) {
		t.Fatalf("after extending the account sent %v (err %v)", summary(rep.Sent), err)
	}

	// The report lists both kinds, soonest first, expired ones included.
	up, err := expiry.Upcoming(ctx, f.st, f.now, 30, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range up {
		got = append(got, n.Username+"/"+n.Kind+"/"+strconv.Itoa(n.DaysLeft))
	}
	wantUp := []string{"gone/account/-1", "contractor/account/1", "noaddr/account/3", "leaving/account/12"}
	if !slices.Equal(got, wantUp) {
		t.Fatalf("upcoming %v, want %v", got, wantUp)
	}
}

func TestRenderAccountNotice(t *testing.T) {
	tpl, err := expiry.LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	cfg := expiry.Config{From: "it@example.com", ChangePasswordURL: "https://sso.example.com/password", Location: time.UTC}
	n := expiry.Notice{Kind: expiry.KindAccount, Username: "jdoe", DisplayName: "Jane Doe",
		ExpiresAt: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC), DaysLeft: 3, To: "jdoe@example.com"}
	msg, err := tpl.Render(n, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != "Your account expires in 3 days" {
		t.Errorf("subject = %q", msg.Subject)
	}
	for _, want := range []string{"Jane Doe", "jdoe", "Friday, 1 May 2026", "administrator"} {
		if !strings.Contains(msg.Text, want) || !strings.Contains(msg.HTML, want) {
			t.Errorf("message lacks %q:\n%s\n%s", want, msg.Text, msg.HTML)
		}
	}
	// Changing the password does not help with an expiring account, so
	// the message must not send the user to the change page.
	if strings.Contains(msg.Text, cfg.ChangePasswordURL) || strings.Contains(msg.HTML, cfg.ChangePasswordURL) {
		t.Errorf("account notice links the password change:\n%s", msg.Text)
	}
	n.Language, n.DaysLeft = "de", 0
	if msg, err = tpl.Render(n, cfg); err != nil || msg.Subject != "Ihr Konto läuft heute ab" {
		t.Errorf("german subject = %q (err %v)", msg.Subject, err)
	}

	// An administrator's account template replaces the built-in one; the
	// password notice stays built-in.
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/account.txt.tmpl", []byte("Subject: Leaving in {{.DaysLeft}}\n\nbye {{.Username}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tpl, err = expiry.LoadTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	n.Language = ""
	if msg, err = tpl.Render(n, cfg); err != nil || msg.Subject != "Leaving in 0" || !strings.Contains(msg.Text, "bye jdoe") {
		t.Errorf("override: %+v (err %v)", msg, err)
	}
	n.Kind = expiry.KindPassword
	if msg, err = tpl.Render(n, cfg); err != nil || msg.Subject != "Your password expires today" {
		t.Errorf("password notice after an account override: %q (err %v)", msg.Subject, err)
	}
}
