package expiry_test

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/expiry"
	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/sqlite"
)

type fixture struct {
	st   store.Store
	smtp *harness.SMTP
	job  func(cfg expiry.Config) *expiry.Job
	now  time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, dir+"/dirbridge.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })

	ca := harness.NewCA(t, dir)
	srv := harness.StartSMTP(t, harness.SMTPOptions{Leaf: ca.Issue(t, dir, "smtp"), User: "mailer", Password: "s3cret"})
	mailer, err := expiry.NewSMTPMailer(expiry.SMTPConfig{
		Host: srv.Host, Port: srv.Port, TLS: expiry.TLSStartTLS, Username: "mailer", Password: "s3cret",
		TLSConfig: &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS12},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The store expires its records by the wall clock, so the job runs at
	// the real time.
	f := &fixture{st: st, smtp: srv, now: time.Now().UTC()}
	f.job = func(cfg expiry.Config) *expiry.Job {
		if cfg.From == "" {
			cfg.From = "it@example.com"
		}
		cfg.RetryBase = time.Millisecond
		j, err := expiry.NewJob(cfg, st, mailer, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	return f
}

func (f *fixture) addUser(t *testing.T, u store.User) store.User {
	t.Helper()
	if u.State == "" {
		u.State = store.StateActive
	}
	if u.Source == "" {
		u.Source = "corp"
		u.Anchor = u.Username + "-anchor"
	}
	err := f.st.Tx(context.Background(), func(tx store.Tx) error { return tx.CreateUser(context.Background(), &u) })
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func recipients(msgs []harness.SMTPMessage) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, strings.Join(m.To, ","))
	}
	return out
}

func TestJobSendsEachThresholdOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	day := 24 * time.Hour
	changed := f.now.Add(-40 * day)
	soon := f.addUser(t, store.User{Username: "soon", Email: "soon@example.com", PasswordChangedAt: changed, PasswordExpiresAt: f.now.Add(2 * day)})
	f.addUser(t, store.User{Username: "later", Email: "later@example.com", PasswordChangedAt: changed, PasswordExpiresAt: f.now.Add(10 * day)})
	f.addUser(t, store.User{Username: "never", Email: "never@example.com", PasswordNeverExpires: true})
	f.addUser(t, store.User{Username: "expired", Email: "expired@example.com", PasswordChangedAt: changed, PasswordExpiresAt: f.now.Add(-day)})
	f.addUser(t, store.User{Username: "noaddr", PasswordChangedAt: changed, PasswordExpiresAt: f.now.Add(day)})
	f.addUser(t, store.User{Username: "gone", Email: "gone@example.com", State: store.StateInactive, PasswordChangedAt: changed, PasswordExpiresAt: f.now.Add(2 * day)})
	f.addUser(t, store.User{Username: "far", Email: "far@example.com", PasswordChangedAt: changed, PasswordExpiresAt: f.now.Add(30 * day)})

	job := f.job(expiry.Config{ChangePasswordURL: "https://sso.example.com/password"})

	dry, err := job.Run(ctx, f.now, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(dry.Sent) != 2 || len(f.smtp.Messages()) != 0 {
		t.Fatalf("dry run: want 2 planned and nothing sent, got %d planned, %d sent", len(dry.Sent), len(f.smtp.Messages()))
	}

	rep, err := job.Run(ctx, f.now, false)
	if err != nil {
		t.Fatal(err)
	}
	msgs := f.smtp.Messages()
	if got := strings.Join(recipients(msgs), " "); got != "soon@example.com later@example.com" && got != "later@example.com soon@example.com" {
		t.Fatalf("recipients = %q", got)
	}
	for _, m := range msgs {
		if !m.TLS {
			t.Errorf("message to %v was not sent over STARTTLS", m.To)
		}
		if !strings.Contains(m.Raw, "https://sso.example.com/password") {
			t.Errorf("message lacks change-password URL")
		}
	}
	if len(rep.Skipped) != 1 || rep.Skipped[0].Username != "noaddr" || rep.Skipped[0].Reason != "no e-mail address" {
		t.Fatalf("skipped = %+v", rep.Skipped)
	}
	var soonThreshold int
	for _, n := range rep.Sent {
		if n.Username == "soon" {
			soonThreshold = n.Threshold
		}
	}
	if soonThreshold != 3 {
		t.Fatalf("soon's threshold = %d, want 3", soonThreshold)
	}

	// A second run the same day sends nothing new.
	f.smtp.Reset()
	if _, err := job.Run(ctx, f.now, false); err != nil {
		t.Fatal(err)
	}
	if n := len(f.smtp.Messages()); n != 0 {
		t.Fatalf("second run sent %d messages", n)
	}

	// The next day "soon" reaches the 1-day threshold; "later" stays at 14.
	if _, err := job.Run(ctx, f.now.Add(day), false); err != nil {
		t.Fatal(err)
	}
	if got := recipients(f.smtp.Messages()); len(got) != 1 || got[0] != "soon@example.com" {
		t.Fatalf("next day sent to %v", got)
	}

	// A password change starts the thresholds over.
	f.smtp.Reset()
	err = f.st.Tx(ctx, func(tx store.Tx) error {
		u, err := tx.GetUser(ctx, soon.ID)
		if err != nil {
			return err
		}
		u.PasswordChangedAt = f.now.Add(day)
		u.PasswordExpiresAt = f.now.Add(3 * day)
		return tx.UpdateUser(ctx, &u)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := job.Run(ctx, f.now.Add(day), false); err != nil {
		t.Fatal(err)
	}
	if got := recipients(f.smtp.Messages()); len(got) != 1 || got[0] != "soon@example.com" {
		t.Fatalf("after a password change sent to %v", got)
	}
}

func TestJobRetriesAndReportsFailures(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.addUser(t, store.User{Username: "a", Email: "a@example.com", PasswordChangedAt: f.now.AddDate(0, 0, -40), PasswordExpiresAt: f.now.AddDate(0, 0, 2)})

	// Two temporary failures, three attempts: delivered.
	f.smtp.FailNext(2)
	rep, err := f.job(expiry.Config{Retries: 2}).Run(ctx, f.now, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Sent) != 1 || len(rep.Failed) != 0 {
		t.Fatalf("want delivered after retries, got %+v", rep)
	}

	f.addUser(t, store.User{Username: "b", Email: "b@example.com", PasswordChangedAt: f.now.AddDate(0, 0, -40), PasswordExpiresAt: f.now.AddDate(0, 0, 2)})
	f.smtp.FailNext(10)
	rep, err = f.job(expiry.Config{Retries: 1}).Run(ctx, f.now, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Failed) != 1 || rep.Failed[0].Username != "b" || !strings.Contains(rep.Failed[0].Error, "451") {
		t.Fatalf("want b reported failed with the server's reply, got %+v", rep.Failed)
	}
	// A failed notice is not recorded: the next run tries again.
	f.smtp.FailNext(0)
	f.smtp.Reset()
	rep, err = f.job(expiry.Config{}).Run(ctx, f.now, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Sent) != 1 || rep.Sent[0].Username != "b" {
		t.Fatalf("retry run sent %+v", rep.Sent)
	}
}

func TestJobRedirectAndSummary(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.addUser(t, store.User{Username: "a", Email: "a@example.com", PasswordChangedAt: f.now.AddDate(0, 0, -40), PasswordExpiresAt: f.now.AddDate(0, 0, 7)})
	f.addUser(t, store.User{Username: "noaddr", PasswordChangedAt: f.now.AddDate(0, 0, -40), PasswordExpiresAt: f.now.AddDate(0, 0, 7)})
	_, err := f.job(expiry.Config{RedirectTo: "admin@example.com", AdminSummaryTo: []string{"boss@example.com"}}).Run(ctx, f.now, false)
	if err != nil {
		t.Fatal(err)
	}
	got := recipients(f.smtp.Messages())
	want := []string{"admin@example.com", "boss@example.com"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("recipients = %v, want %v", got, want)
	}
	if !strings.Contains(f.smtp.Messages()[1].Raw, "sent: 1, failed: 0, skipped: 1") {
		t.Fatalf("summary lacks counts:\n%s", f.smtp.Messages()[1].Raw)
	}
}

func TestUpcoming(t *testing.T) {
	f := newFixture(t)
	f.addUser(t, store.User{Username: "b", PasswordExpiresAt: f.now.AddDate(0, 0, 20)})
	f.addUser(t, store.User{Username: "a", PasswordExpiresAt: f.now.AddDate(0, 0, 3)})
	f.addUser(t, store.User{Username: "c", PasswordExpiresAt: f.now.AddDate(0, 0, 40)})
	f.addUser(t, store.User{Username: "d", PasswordNeverExpires: true})
	got, err := expiry.Upcoming(context.Background(), f.st, f.now, 30, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Username != "a" || got[0].DaysLeft != 3 || got[1].Username != "b" {
		t.Fatalf("upcoming = %+v", got)
	}
}
