package expirye2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/expiry"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// TestFineGrainedPolicy: a user under a password settings object (PSO)
// whose maximum age is shorter than the domain's. With the constructed
// attribute (read_password_expiry) the sync stores the PSO's expiry and
// the user is notified on time.
func TestFineGrainedPolicy(t *testing.T) {
	ctx := context.Background()
	s := sharedSamba(t)
	const psoDays = 10
	// Set 8 days ago: 2 days left under the PSO, 32 under the domain.
	group := makeUsers(t, s, "expiry-pso", []adUser{{name: "xp-pso", age: (psoDays - 2) * 24 * time.Hour}})
	s.AddPSO(t, "expiry-short", 1, "--max-pwd-age=10", "--min-pwd-age=0")
	s.ApplyPSO(t, "expiry-short", "xp-pso")

	st := openStore(t)
	syncNow(t, newRunner(t, st, newSource(t, s, true), group))
	u := storedUser(t, st, "xp-pso")
	if got := u.PasswordExpiresAt.Sub(u.PasswordChangedAt); got != psoDays*24*time.Hour {
		t.Fatalf("stored expiry %v after the change, want the PSO's %d days", got, psoDays)
	}

	srv, tc := smtpTLS(t)
	mailer, err := expiry.NewSMTPMailer(expiry.SMTPConfig{Host: srv.Host, Port: srv.Port, Username: "mailer", Password: "mail-s3cret", TLSConfig: tc})
	if err != nil {
		t.Fatal(err)
	}
	job, err := expiry.NewJob(expiry.Config{From: "it@example.test"}, st, mailer, nil, nil, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := job.Run(ctx, time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	if got := noticeSummary(rep.Sent); !slices.Equal(got, []string{"xp-pso:password:3:2"}) {
		t.Errorf("sent %v, want the 3-day notice with 2 days left", got)
	}

	// The cheap path (pwdLastSet + the domain's maxPwdAge) does not see
	// the PSO; sync/ldap documents this. Logged so a run shows the gap.
	snap, err := newSource(t, s, false).Read(ctx, directory.ReadRequest{Groups: []string{group}})
	if err != nil {
		t.Fatal(err)
	}
	for _, du := range snap.Users {
		t.Logf("without read_password_expiry %s expires %v after the change (PSO: %d days)",
			du.Username, du.Password.ExpiresAt.Sub(du.Password.ChangedAt), psoDays)
	}
}
