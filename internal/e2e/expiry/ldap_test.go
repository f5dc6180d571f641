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
	"github.com/dirbridge/dirbridge/sync/ldap"
)

// TestOpenLDAPPolicyNotices follows issue 7 for a generic LDAP directory:
// OpenLDAP with the ppolicy overlay and a 40-day default policy, password
// ages set through pwdChangedTime, a real sync into SQLite with
// read_password_expiry and password_policy_dn, and the expiry job mailing
// over STARTTLS the users whose passwords are due.
func TestOpenLDAPPolicyNotices(t *testing.T) {
	ctx := context.Background()
	s := harness.StartSlapd(t, harness.SlapdOptions{
		Quiet:                 true,
		DefaultPasswordPolicy: &harness.PasswordPolicy{MaxAge: maxPwdAge},
	})
	ou := "ou=expiry," + s.BaseDN
	policy := func(name string) string { return "cn=" + name + "," + ou }
	users := []struct {
		name   string
		age    time.Duration // 0: the password set now (the overlay's own pwdChangedTime)
		policy string        // pwdPolicySubentry; "" is the default
		reset  bool
	}{
		{name: "lx-soon", age: ageSoon},                              // 2 days left under the default
		{name: "lx-short", age: 9 * 24 * time.Hour, policy: "short"}, // 1 day left under its own 10-day policy
		{name: "lx-never", age: ageSoon, policy: "never"},            // pwdMaxAge 0
		{name: "lx-must", reset: true},                               // pwdReset TRUE
		{name: "lx-fresh"},                                           // 40 days left
	}
	var b strings.Builder
	fmt.Fprintf(&b, "dn: %s\nobjectClass: organizationalUnit\nou: expiry\n\n", ou)
	for _, u := range users {
		fmt.Fprintf(&b, "dn: uid=%[1]s,%[2]s\nobjectClass: inetOrgPerson\nuid: %[1]s\ncn: %[1]s\nsn: Expiry\nmail: %[1]s@example.test\nuserPassword: %[1]s-Passw0rd\n", u.name, ou)
		if u.policy != "" {
			fmt.Fprintf(&b, "pwdPolicySubentry: %s\n", policy(u.policy))
		}
		b.WriteString("\n")
	}
	group := "cn=expiry-group," + ou
	fmt.Fprintf(&b, "dn: %s\nobjectClass: groupOfNames\ncn: expiry-group\n", group)
	for _, u := range users {
		fmt.Fprintf(&b, "member: uid=%s,%s\n", u.name, ou)
	}
	s.Add(t, b.String())
	s.AddPasswordPolicy(t, policy("short"), harness.PasswordPolicy{MaxAge: 10 * 24 * time.Hour})
	s.AddPasswordPolicy(t, policy("never"), harness.PasswordPolicy{MaxAge: 0})
	now := time.Now()
	for _, u := range users {
		dn := "uid=" + u.name + "," + ou
		if u.age > 0 {
			s.SetPwdChangedTime(t, dn, now.Add(-u.age))
		}
		if u.reset {
			s.ModifyRelax(t, "dn: "+dn+"\nchangetype: modify\nreplace: pwdReset\npwdReset: TRUE\n")
		}
	}

	src, err := ldap.New(ldap.Config{
		Name: dirName, Kind: ldap.KindLDAP, URLs: []string{s.URL}, StartTLS: true, CAFile: s.CAFile,
		BindDN: s.ReaderDN, BindPassword: s.ReaderPassword, BaseDN: s.BaseDN,
		ReadPasswordExpiry: true, PasswordPolicyDN: s.DefaultPolicyDN,
		ConnectTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatalf("ldap source: %v", err)
	}
	st := openStore(t)
	syncNow(t, newRunner(t, st, src, group))

	// 1. What the sync stored (the store keeps whole seconds).
	const tol = 2 * time.Minute
	for _, c := range []struct {
		name        string
		age, maxAge time.Duration
	}{{"lx-soon", ageSoon, maxPwdAge}, {"lx-short", 9 * 24 * time.Hour, 10 * 24 * time.Hour}, {"lx-fresh", 0, maxPwdAge}} {
		u := storedUser(t, st, c.name)
		if u.PasswordNeverExpires || u.MustChangePassword {
			t.Errorf("%s: never=%v must=%v, want neither", c.name, u.PasswordNeverExpires, u.MustChangePassword)
		}
		if !near(u.PasswordChangedAt, now.Add(-c.age), tol) {
			t.Errorf("%s: changed at %v, want about %v", c.name, u.PasswordChangedAt, now.Add(-c.age))
		}
		if got := u.PasswordExpiresAt.Sub(u.PasswordChangedAt); got != c.maxAge {
			t.Errorf("%s: expires %v after the change, want the policy's %v", c.name, got, c.maxAge)
		}
	}
	if u := storedUser(t, st, "lx-never"); !u.PasswordNeverExpires || !u.PasswordExpiresAt.IsZero() {
		t.Errorf("lx-never: never=%v expires=%v, want never expires", u.PasswordNeverExpires, u.PasswordExpiresAt)
	}
	if u := storedUser(t, st, "lx-must"); !u.MustChangePassword || !u.PasswordExpiresAt.IsZero() {
		t.Errorf("lx-must: must=%v expires=%v, want must change", u.MustChangePassword, u.PasswordExpiresAt)
	}

	// 2. The job over real SMTP (STARTTLS + AUTH): lx-soon at the 3-day
	// threshold, lx-short at the 1-day one; nobody else.
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
	rep, err := job.Run(ctx, time.Now(), false)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if got, want := noticeSummary(rep.Sent), []string{"lx-short:password:1:1", "lx-soon:password:3:2"}; !slices.Equal(got, want) {
		t.Errorf("sent %v, want %v", got, want)
	}
	if len(rep.Failed) != 0 || len(rep.Skipped) != 0 {
		t.Errorf("failed %+v, skipped %+v", rep.Failed, rep.Skipped)
	}
	msgs := srv.Messages()
	if got := recipientsOf(msgs); !slices.Equal(slices.Sorted(slices.Values(got)), []string{"lx-short@example.test", "lx-soon@example.test"}) {
		t.Fatalf("server received messages for %v", got)
	}
	for _, m := range msgs {
		if strings.Join(m.To, ",") != "lx-soon@example.test" {
			continue
		}
		if m.Subject != "Your password expires in 2 days" || !m.TLS {
			t.Errorf("lx-soon's message: subject %q, TLS %v", m.Subject, m.TLS)
		}
		body := textBody(t, m.Raw)
		date := storedUser(t, st, "lx-soon").PasswordExpiresAt.UTC().Format("Monday, 2 January 2006 15:04 MST")
		for _, want := range []string{"lx-soon", "https://sso.example.test/password/change", date} {
			if !strings.Contains(body, want) {
				t.Errorf("body lacks %q:\n%s", want, body)
			}
		}
	}

	// 3. A second run sends nothing new.
	if rep, err = job.Run(ctx, time.Now(), false); err != nil || len(rep.Sent) != 0 || len(srv.Messages()) != 2 {
		t.Errorf("rerun: sent %v, err %v, server has %d messages", noticeSummary(rep.Sent), err, len(srv.Messages()))
	}
}
