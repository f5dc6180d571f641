package ldap

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// TestSlapdPolicyChangeReachesIncremental: a new pwdMaxAge changes no user
// entry, so an incremental read (only what changed) would carry it to
// nobody. The read notices the policy moved since the cursor and reads
// every user, with the new maximum applied.
func TestSlapdPolicyChangeReachesIncremental(t *testing.T) {
	s := harness.StartSlapd(t, harness.SlapdOptions{})
	policyDN := "cn=pm-policy," + s.BaseDN
	s.AddPasswordPolicy(t, policyDN, harness.PasswordPolicy{MaxAge: 40 * day})
	ou := s.AddOU(t, "policymark")
	group := "cn=pm-users," + ou
	s.Add(t, fmt.Sprintf("dn: uid=pm-quiet,%[1]s\nobjectClass: inetOrgPerson\nuid: pm-quiet\ncn: pm-quiet\nsn: Mark\nuserPassword: x\n\n"+
		"dn: uid=pm-busy,%[1]s\nobjectClass: inetOrgPerson\nuid: pm-busy\ncn: pm-busy\nsn: Mark\nuserPassword: x\n\n"+
		"dn: %[2]s\nobjectClass: groupOfNames\ncn: pm-users\nmember: uid=pm-quiet,%[1]s\nmember: uid=pm-busy,%[1]s\n\n", ou, group))
	changed := time.Now().UTC().Truncate(time.Second).Add(-30 * day)
	s.SetPwdChangedTime(t, "uid=pm-quiet,"+ou, changed)
	// pm-quiet's entry must lie before the cursor's overlap: pm-busy
	// changes later and carries the cursor past it.
	time.Sleep(2100 * time.Millisecond)
	s.Modify(t, fmt.Sprintf("dn: uid=pm-busy,%s\nchangetype: modify\nreplace: description\ndescription: busy\n", ou))

	cfg := slapdConfig(t, s)
	cfg.ReadPasswordExpiry, cfg.PasswordPolicyDN, cfg.IncrementalOverlap = true, policyDN, time.Second
	src := newSource(t, cfg)
	full := read(t, src, group)
	if got, want := userByName(t, full, "pm-quiet").Password.ExpiresAt, changed.Add(40*day); !got.Equal(want) {
		t.Fatalf("full read: expires %v, want %v", got, want)
	}

	incremental := func(cursor string) directory.Snapshot {
		t.Helper()
		snap, err := src.Read(context.Background(), directory.ReadRequest{Groups: []string{group}, Cursor: cursor})
		if err != nil {
			t.Fatalf("incremental read: %v", err)
		}
		return snap
	}
	// Nothing changed: pm-quiet is not in an incremental read.
	quiet := incremental(full.Cursor)
	if quiet.Complete {
		t.Fatal("incremental read without changes reported complete")
	}
	for _, u := range quiet.Users {
		if u.Username == "pm-quiet" {
			t.Fatal("pm-quiet in an incremental read without changes; the test cannot tell")
		}
	}

	s.Modify(t, "dn: "+policyDN+"\nchangetype: modify\nreplace: pwdMaxAge\npwdMaxAge: "+fmt.Sprint(int64(20*day/time.Second))+"\n")
	snap := incremental(quiet.Cursor)
	if !snap.Complete || !hasWarning(snap.Stats.Warnings, "maximum password age changed") {
		t.Errorf("after the policy change: complete %v, warnings %q", snap.Complete, snap.Stats.Warnings)
	}
	if got, want := userByName(t, snap, "pm-quiet").Password.ExpiresAt, changed.Add(20*day); !got.Equal(want) {
		t.Fatalf("after the policy change: pm-quiet expires %v, want %v", got, want)
	}
	// The new mark is in the cursor: the next run is incremental again.
	if again := incremental(snap.Cursor); again.Complete {
		t.Errorf("the run after the change read everyone again: %q", again.Stats.Warnings)
	}
}

// TestSambaMaxPwdAgeReachesIncremental: the domain's maxPwdAge changes on
// the domain head, not on any user; the next incremental read carries the
// new expiry to users that did not change.
func TestSambaMaxPwdAgeReachesIncremental(t *testing.T) {
	s := sharedSamba(t)
	ctx := context.Background()
	ou := s.AddOU(t, "dirbridge-maxpwdage")
	dn := addSambaUser(t, s, ou, "mpa-quiet")
	s.AddGroup(t, ou, "mpa-group", dn)
	src := newSource(t, sambaConfig(t, s))
	full := read(t, src, "mpa-group")
	p := userByName(t, full, "mpa-quiet").Password
	if p.ChangedAt.IsZero() || !p.ExpiresAt.Equal(p.ChangedAt.Add(42*day)) {
		t.Fatalf("full read: %+v, want expiry 42 days (the domain default) after the change", p)
	}
	if none, err := src.Read(ctx, directory.ReadRequest{Groups: []string{"mpa-group"}, Cursor: full.Cursor}); err != nil || none.Complete || len(none.Users) != 0 {
		t.Fatalf("no-change incremental: complete %v, %d users, %v", none.Complete, len(none.Users), err)
	}

	s.Tool(t, "domain", "passwordsettings", "set", "--max-pwd-age=30")
	t.Cleanup(func() { s.Tool(t, "domain", "passwordsettings", "set", "--max-pwd-age=42") })
	inc, err := src.Read(ctx, directory.ReadRequest{Groups: []string{"mpa-group"}, Cursor: full.Cursor})
	if err != nil {
		t.Fatal(err)
	}
	if got := userByName(t, inc, "mpa-quiet").Password; !got.ExpiresAt.Equal(p.ChangedAt.Add(30 * day)) {
		t.Fatalf("after maxPwdAge 30 days: %+v, want expiry %v", got, p.ChangedAt.Add(30*day))
	}
}
