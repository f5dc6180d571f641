package expirye2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/expiry"
	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// TestSyncAndNotices follows issue 7 from AD to the mailbox: expiry data
// read from Samba by a real sync, stored, and turned into notices that go
// out over STARTTLS exactly once per threshold and password.
func TestSyncAndNotices(t *testing.T) {
	ctx := context.Background()
	s := sharedSamba(t)
	// Noon UTC five days on is 5 calendar days away whatever the hour now,
	// so the account notice's wording does not depend on when this runs.
	y, mo, d := time.Now().UTC().Date()
	leavingAt := time.Date(y, mo, d+5, 12, 0, 0, 0, time.UTC)
	group := makeUsers(t, s, "expiry-mail", []adUser{
		{name: "xm-soon", age: ageSoon},
		{name: "xm-expired", age: ageExpired},
		{name: "xm-never", neverExpire: true},
		{name: "xm-must", mustChange: true},
		{name: "xm-nomail", noMail: true, age: ageNoMail},
		{name: "xm-fresh"},
		{name: "xm-leaving", neverExpire: true, accountExpires: leavingAt},
	})
	st := openStore(t)
	src := newSource(t, s, false)
	runner := newRunner(t, st, src, group)
	syncNow(t, runner)
	synced := time.Now()

	// 1. What the sync stored. Without the constructed attribute the
	// expiry is pwdLastSet + the domain's maxPwdAge (set to 40 days).
	const tol = 2 * time.Minute
	for _, c := range []struct {
		name string
		age  time.Duration
	}{{"xm-soon", ageSoon}, {"xm-expired", ageExpired}, {"xm-nomail", ageNoMail}, {"xm-fresh", 0}} {
		u := storedUser(t, st, c.name)
		if u.PasswordNeverExpires || u.MustChangePassword {
			t.Errorf("%s: never=%v must=%v, want neither", c.name, u.PasswordNeverExpires, u.MustChangePassword)
		}
		if !near(u.PasswordChangedAt, synced.Add(-c.age), tol) {
			t.Errorf("%s: changed at %v, want about %v", c.name, u.PasswordChangedAt, synced.Add(-c.age))
		}
		if got := u.PasswordExpiresAt.Sub(u.PasswordChangedAt); got != maxPwdAge {
			t.Errorf("%s: expires %v after the change, want the domain's maxPwdAge %v", c.name, got, maxPwdAge)
		}
	}
	if u := storedUser(t, st, "xm-never"); !u.PasswordNeverExpires || !u.PasswordExpiresAt.IsZero() || u.MustChangePassword {
		t.Errorf("xm-never: never=%v expires=%v must=%v, want never expires", u.PasswordNeverExpires, u.PasswordExpiresAt, u.MustChangePassword)
	}
	if u := storedUser(t, st, "xm-must"); !u.MustChangePassword || u.PasswordNeverExpires {
		t.Errorf("xm-must: must=%v never=%v, want must change", u.MustChangePassword, u.PasswordNeverExpires)
	}
	if u := storedUser(t, st, "xm-leaving"); !u.PasswordNeverExpires || !u.AccountExpiresAt.Equal(leavingAt) {
		t.Errorf("xm-leaving: never=%v account expires %v, want in 5 days", u.PasswordNeverExpires, u.AccountExpiresAt)
	}
	if u := storedUser(t, st, "xm-nomail"); u.Email != "" {
		t.Errorf("xm-nomail has e-mail %q", u.Email)
	}

	// The DC's own computation (msDS-UserPasswordExpiryTimeComputed)
	// agrees with the one from pwdLastSet + maxPwdAge.
	snap, err := newSource(t, s, true).Read(ctx, directory.ReadRequest{Groups: []string{group}})
	if err != nil {
		t.Fatalf("read with the computed attribute: %v", err)
	}
	for _, du := range snap.Users {
		u := storedUser(t, st, du.Username)
		// The store keeps whole seconds.
		if !du.Password.ExpiresAt.Truncate(time.Second).Equal(u.PasswordExpiresAt) || du.Password.NeverExpires != u.PasswordNeverExpires || du.Password.MustChange != u.MustChangePassword {
			t.Errorf("%s: computed by the DC %+v, stored expires=%v never=%v must=%v", du.Username, du.Password,
				u.PasswordExpiresAt, u.PasswordNeverExpires, u.MustChangePassword)
		}
	}

	// 2. Upcoming lists the expired, then soon, then leaving's account,
	// then nomail (soonest first); never, must-change and fresh (40 days)
	// are not within 30.
	up, err := expiry.Upcoming(ctx, st, time.Now(), 30, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range up {
		names = append(names, n.Username+"/"+n.Kind)
	}
	if want := []string{"xm-expired/password", "xm-soon/password", "xm-leaving/account", "xm-nomail/password"}; !slices.Equal(names, want) {
		t.Errorf("Upcoming = %v, want %v", names, want)
	}
	for _, n := range up {
		want := map[string]int{"xm-expired": -3, "xm-soon": 2, "xm-leaving": 5, "xm-nomail": 6}[n.Username]
		if n.DaysLeft != want {
			t.Errorf("Upcoming %s: %d days left, want %d", n.Username, n.DaysLeft, want)
		}
	}

	// 3. The job over real SMTP (STARTTLS + AUTH).
	srv, tc := smtpTLS(t)
	mailer, err := expiry.NewSMTPMailer(expiry.SMTPConfig{Host: srv.Host, Port: srv.Port, TLS: expiry.TLSStartTLS,
		Username: "mailer", Password: "mail-s3cret", TLSConfig: tc})
	if err != nil {
		t.Fatal(err)
	}
	job, err := expiry.NewJob(expiry.Config{
		WarnDays: []int{14, 7, 3, 1}, Location: time.UTC, From: "it@example.test",
		ChangePasswordURL: "https://sso.example.test/password/change", RetryBase: time.Millisecond,
	}, st, mailer, nil, nil, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	// A dry run plans the same notices and sends nothing.
	dry, err := job.Run(ctx, time.Now(), true)
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if got := noticeSummary(dry.Sent); !slices.Equal(got, []string{"xm-leaving:account:7:5", "xm-soon:password:3:2"}) || len(srv.Messages()) != 0 {
		t.Errorf("dry run planned %v and the server received %d messages", got, len(srv.Messages()))
	}
	rep, err := job.Run(ctx, time.Now(), false)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if got := noticeSummary(rep.Sent); !slices.Equal(got, []string{"xm-leaving:account:7:5", "xm-soon:password:3:2"}) {
		t.Errorf("sent %v, want xm-soon's password at threshold 3 (2 days left) and xm-leaving's account at 7 (5 days)", got)
	}
	if len(rep.Failed) != 0 {
		t.Errorf("failed: %+v", rep.Failed)
	}
	if len(rep.Skipped) != 1 || rep.Skipped[0].Username != "xm-nomail" || rep.Skipped[0].Threshold != 7 || rep.Skipped[0].Reason == "" {
		t.Errorf("skipped %+v, want xm-nomail (threshold 7, no e-mail address)", rep.Skipped)
	}
	msgs := srv.Messages()
	if len(msgs) != 2 {
		t.Fatalf("server received %d messages, want 2: %+v", len(msgs), msgs)
	}
	byTo := map[string]harness.SMTPMessage{}
	for _, m := range msgs {
		byTo[strings.Join(m.To, ",")] = m
	}
	if m := byTo["xm-leaving@example.test"]; m.Subject != "Your account expires in 5 days" || !m.TLS {
		t.Errorf("account notice: subject %q, TLS %v", m.Subject, m.TLS)
	}
	m := byTo["xm-soon@example.test"]
	if !slices.Equal(m.To, []string{"xm-soon@example.test"}) || m.From != "it@example.test" || !m.TLS {
		t.Errorf("message to %v from %s, TLS %v", m.To, m.From, m.TLS)
	}
	if m.Subject != "Your password expires in 2 days" {
		t.Errorf("subject %q", m.Subject)
	}
	body := textBody(t, m.Raw)
	date := storedUser(t, st, "xm-soon").PasswordExpiresAt.UTC().Format("Monday, 2 January 2006 15:04 MST")
	for _, want := range []string{"xm-soon", "https://sso.example.test/password/change", "2 days from now", date} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}

	// 4. A second run (and a later one the same day) sends nothing new.
	// "Later" stays within today's UTC date: days left are counted in
	// calendar days, and past midnight a 1-day notice is due.
	now := time.Now().UTC()
	later := now.Add(time.Hour)
	if endOfDay := time.Date(now.Year(), now.Month(), now.Day(), 23, 59, 59, 0, time.UTC); later.After(endOfDay) {
		later = endOfDay
	}
	for _, at := range []time.Time{now, later} {
		rep, err = job.Run(ctx, at, false)
		if err != nil {
			t.Fatalf("rerun: %v", err)
		}
		if len(rep.Sent) != 0 || len(srv.Messages()) != 2 {
			t.Errorf("rerun at %v sent %v (server has %d)", at, noticeSummary(rep.Sent), len(srv.Messages()))
		}
	}
	// A new sync that changes nothing keeps the notice recorded (and
	// updates nobody: sub-second times from AD must not look like changes).
	if run := syncNow(t, runner); run.Counts.Updated != 0 || run.Counts.Created != 0 {
		t.Errorf("unchanged directory, second sync counts %+v", run.Counts)
	}
	if rep, err = job.Run(ctx, time.Now(), false); err != nil || len(rep.Sent) != 0 {
		t.Errorf("run after an unchanged sync: sent %v, err %v", noticeSummary(rep.Sent), err)
	}

	// 5. A password change in AD, read by the next sync, starts the
	// thresholds over: nothing is due today, and the 14- and 3-day
	// notices go out again when the new password reaches them.
	const newPW = "Changed-Passw0rd2!"
	if err := src.ChangePassword(ctx, directory.Account{Login: "xm-soon"}, adPassword, newPW); err != nil {
		t.Fatalf("change password in AD: %v", err)
	}
	if _, err := src.Authenticate(ctx, directory.Account{Login: "xm-soon"}, newPW); err != nil {
		t.Fatalf("bind with the new password: %v", err)
	}
	syncNow(t, runner)
	changed := storedUser(t, st, "xm-soon")
	if !near(changed.PasswordChangedAt, time.Now(), tol) || changed.PasswordExpiresAt.Sub(changed.PasswordChangedAt) != maxPwdAge {
		t.Fatalf("after the change: changed %v, expires %v", changed.PasswordChangedAt, changed.PasswordExpiresAt)
	}
	srv.Reset()
	if rep, err = job.Run(ctx, time.Now(), false); err != nil || len(rep.Sent) != 0 {
		t.Errorf("run right after the change: sent %v, err %v", noticeSummary(rep.Sent), err)
	}
	// The job's clock moves ahead; the store's record expiry is the wall
	// clock's, and notices are kept until 90 days after the expiry, so
	// running "in the future" is sound here.
	day := func(left int) time.Time {
		d := changed.PasswordExpiresAt.AddDate(0, 0, -left)
		return time.Date(d.Year(), d.Month(), d.Day(), 8, 0, 0, 0, time.UTC)
	}
	for _, c := range []struct {
		at   time.Time
		want []string
	}{
		{day(20), nil},
		{day(14), []string{"xm-soon:password:14:14"}},
		{day(13), nil},
		{day(7), []string{"xm-soon:password:7:7"}},
		{day(2), []string{"xm-soon:password:3:2"}},
		{day(2).Add(time.Hour), nil},
	} {
		rep, err := job.Run(ctx, c.at, false)
		if err != nil {
			t.Fatalf("run at %v: %v", c.at, err)
		}
		var mine []expiry.Notice
		for _, n := range rep.Sent {
			if n.Username == "xm-soon" {
				mine = append(mine, n)
			}
		}
		if got := noticeSummary(mine); !slices.Equal(got, c.want) {
			t.Errorf("run at %s: sent %v, want %v", c.at.Format(time.DateOnly), got, c.want)
		}
	}
	// xm-fresh's password was set minutes before the change, so it is
	// due on the same days; only xm-soon's messages are counted here.
	if got := slices.DeleteFunc(recipientsOf(srv.Messages()), func(r string) bool { return r != "xm-soon@example.test" }); len(got) != 3 {
		t.Errorf("after the change the server received %d notices for xm-soon, want 3", len(got))
	}
}

func noticeSummary(ns []expiry.Notice) []string {
	var out []string
	for _, n := range ns {
		out = append(out, fmt.Sprintf("%s:%s:%d:%d", n.Username, n.Kind, n.Threshold, n.DaysLeft))
	}
	slices.Sort(out)
	return out
}

func recipientsOf(msgs []harness.SMTPMessage) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, strings.Join(m.To, ","))
	}
	return out
}
