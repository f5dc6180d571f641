package ldap

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/sync/directory"
)

const (
	ppOU    = "ou=ppolicy," + base
	ppGroup = "cn=pp-users," + ppOU
	day     = 24 * time.Hour
)

// ppPolicyDN is a policy entry of the ppolicy scenario.
func ppPolicyDN(name string) string { return "cn=" + name + "," + ppOU }

// ppUser is one user of the ppolicy scenario.
type ppUser struct {
	name string
	// age, when set, is how long ago pwdChangedTime says the password
	// was changed; zero leaves the user without pwdChangedTime.
	age    time.Duration
	policy string // pwdPolicySubentry (a policy's cn); "" uses the default
	reset  bool   // pwdReset TRUE
}

var ppUsers = []ppUser{
	{name: "pp-soon", age: 38 * day},                        // 40-day default: 2 days left
	{name: "pp-expired", age: 43 * day},                     // 40-day default: expired 3 days ago
	{name: "pp-unknown"},                                    // no pwdChangedTime
	{name: "pp-override", age: 8 * day, policy: "pp-10d"},   // own 10-day policy: 2 days left
	{name: "pp-never", age: 38 * day, policy: "pp-never"},   // pwdMaxAge 0
	{name: "pp-nomax", age: 38 * day, policy: "pp-nomax"},   // no pwdMaxAge at all
	{name: "pp-reset", age: 5 * day, reset: true},           // must change at next sign-in
	{name: "pp-missing", age: 5 * day, policy: "pp-gone"},   // names a policy that does not exist
	{name: "pp-notpolicy", age: 5 * day, policy: "pp-bare"}, // names an entry that is no policy
}

var (
	ppOnce    sync.Once
	ppChanged time.Time // when the ages were counted from
)

// ppolicySlapd is the shared slapd with the ppolicy scenario added online
// (once per test binary): policies of 40 days (the configured default),
// 10 days, 0 and none, and the users above, their pwdChangedTime set with
// the Relax control.
func ppolicySlapd(t *testing.T) *harness.Slapd {
	t.Helper()
	s := sharedSlapd(t)
	ppOnce.Do(func() {
		var b strings.Builder
		fmt.Fprintf(&b, "dn: %s\nobjectClass: organizationalUnit\nou: ppolicy\n\n", ppOU)
		fmt.Fprintf(&b, "dn: %s\nobjectClass: device\ncn: pp-bare\n\n", ppPolicyDN("pp-bare"))
		for _, u := range ppUsers {
			fmt.Fprintf(&b, "dn: uid=%[1]s,%[2]s\nobjectClass: inetOrgPerson\nuid: %[1]s\ncn: %[1]s\nsn: Policy\nmail: %[1]s@example.org\nuserPassword: %[1]s-password\n", u.name, ppOU)
			if u.policy != "" {
				fmt.Fprintf(&b, "pwdPolicySubentry: %s\n", ppPolicyDN(u.policy))
			}
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "dn: %s\nobjectClass: groupOfNames\ncn: pp-users\n", ppGroup)
		for _, u := range ppUsers {
			fmt.Fprintf(&b, "member: uid=%s,%s\n", u.name, ppOU)
		}
		s.Add(mainTB, b.String())
		s.AddPasswordPolicy(mainTB, ppPolicyDN("pp-40d"), harness.PasswordPolicy{MaxAge: 40 * day})
		s.AddPasswordPolicy(mainTB, ppPolicyDN("pp-10d"), harness.PasswordPolicy{MaxAge: 10 * day})
		s.AddPasswordPolicy(mainTB, ppPolicyDN("pp-never"), harness.PasswordPolicy{MaxAge: 0})
		s.AddPasswordPolicy(mainTB, ppPolicyDN("pp-nomax"), harness.PasswordPolicy{OmitMaxAge: true})
		ppChanged = time.Now().UTC().Truncate(time.Second)
		for _, u := range ppUsers {
			dn := "uid=" + u.name + "," + ppOU
			if u.age > 0 {
				s.SetPwdChangedTime(mainTB, dn, ppChanged.Add(-u.age))
			}
			if u.reset {
				s.ModifyRelax(mainTB, "dn: "+dn+"\nchangetype: modify\nreplace: pwdReset\npwdReset: TRUE\n")
			}
		}
	})
	return s
}

func ppolicyConfig(t *testing.T, s *harness.Slapd) Config {
	cfg := slapdConfig(t, s)
	cfg.ReadPasswordExpiry = true
	cfg.PasswordPolicyDN = ppPolicyDN("pp-40d")
	return cfg
}

// TestSlapdPasswordPolicyExpiry reads the ppolicy scenario with expiry
// on: pwdChangedTime + the governing policy's pwdMaxAge.
func TestSlapdPasswordPolicyExpiry(t *testing.T) {
	s := ppolicySlapd(t)
	snap := read(t, newSource(t, ppolicyConfig(t, s)), ppGroup)

	expires := func(name string, age, maxAge time.Duration) {
		t.Helper()
		p := userByName(t, snap, name).Password
		if p.NeverExpires || p.MustChange {
			t.Errorf("%s: never=%v must=%v, want an expiry date", name, p.NeverExpires, p.MustChange)
		}
		if want := ppChanged.Add(-age); !p.ChangedAt.Equal(want) {
			t.Errorf("%s: changed at %v, want %v", name, p.ChangedAt, want)
		}
		if want := ppChanged.Add(-age).Add(maxAge); !p.ExpiresAt.Equal(want) {
			t.Errorf("%s: expires at %v, want %v (%v after the change)", name, p.ExpiresAt, want, maxAge)
		}
	}
	// 38 days into a 40-day policy: 2 days left.
	expires("pp-soon", 38*day, 40*day)
	if left := time.Until(userByName(t, snap, "pp-soon").Password.ExpiresAt); left < 47*time.Hour || left > 48*time.Hour {
		t.Errorf("pp-soon: expires in %v, want 2 days", left)
	}
	expires("pp-expired", 43*day, 40*day)
	// The user's own pwdPolicySubentry wins over the default.
	expires("pp-override", 8*day, 10*day)

	for _, name := range []string{"pp-never", "pp-nomax"} {
		if p := userByName(t, snap, name).Password; !p.NeverExpires || !p.ExpiresAt.IsZero() || p.MustChange || p.ChangedAt.IsZero() {
			t.Errorf("%s: %+v, want never expires (pwdMaxAge 0 or absent), changed at known", name, p)
		}
	}
	// Unknown: no pwdChangedTime, or a policy that cannot be read.
	for _, name := range []string{"pp-unknown", "pp-missing", "pp-notpolicy"} {
		if p := userByName(t, snap, name).Password; p.NeverExpires || !p.ExpiresAt.IsZero() || p.MustChange {
			t.Errorf("%s: %+v, want expiry unknown", name, p)
		}
	}
	if p := userByName(t, snap, "pp-reset").Password; !p.MustChange || !p.ExpiresAt.IsZero() || p.NeverExpires {
		t.Errorf("pp-reset: %+v, want must change and no expiry date", p)
	}
	for _, want := range []string{ppPolicyDN("pp-gone") + " not found", ppPolicyDN("pp-bare") + " is not a password policy"} {
		if !hasWarning(snap.Stats.Warnings, want) {
			t.Errorf("warnings %q lack %q", snap.Stats.Warnings, want)
		}
	}
	// The policy DN travels inside the package only.
	for _, u := range snap.Users {
		if u.Attributes != nil {
			t.Errorf("%s: attributes %v, want none (no extra attributes configured)", u.Username, u.Attributes)
		}
	}

	// An incremental read (every user here changed within the overlap)
	// carries the same expiry.
	inc, err := newSource(t, ppolicyConfig(t, s)).Read(context.Background(), directory.ReadRequest{Groups: []string{ppGroup}, Cursor: snap.Cursor})
	if err != nil {
		t.Fatalf("incremental read: %v", err)
	}
	if inc.Complete {
		t.Fatal("incremental read reported complete")
	}
	for _, name := range []string{"pp-soon", "pp-override", "pp-never"} {
		if got, want := userByName(t, inc, name).Password, userByName(t, snap, name).Password; got != want {
			t.Errorf("%s: incremental %+v, full %+v", name, got, want)
		}
	}
}

// TestSlapdPasswordPolicyOff: without read_password_expiry a generic LDAP
// read keeps what it always had (pwdChangedTime, pwdReset) and reads no
// policy; an extra attribute is untouched by the policy bookkeeping.
func TestSlapdPasswordPolicyOff(t *testing.T) {
	s := ppolicySlapd(t)
	cfg := slapdConfig(t, s)
	cfg.ExtraAttributes = []string{"sn"}
	snap := read(t, newSource(t, cfg), ppGroup)
	for _, u := range snap.Users {
		if !u.Password.ExpiresAt.IsZero() || u.Password.NeverExpires {
			t.Errorf("%s: %+v, want no expiry without read_password_expiry", u.Username, u.Password)
		}
		if len(u.Attributes) != 1 || u.Attributes["sn"] == nil {
			t.Errorf("%s: attributes %v, want sn only", u.Username, u.Attributes)
		}
	}
	if p := userByName(t, snap, "pp-soon").Password; !p.ChangedAt.Equal(ppChanged.Add(-38 * day)) {
		t.Errorf("pp-soon: changed at %v, want %v", p.ChangedAt, ppChanged.Add(-38*day))
	}
	if !userByName(t, snap, "pp-reset").Password.MustChange {
		t.Error("pp-reset: want must change")
	}

	// With expiry on and an extra attribute, attributes stay as configured.
	cfg = ppolicyConfig(t, s)
	cfg.ExtraAttributes = []string{"sn"}
	snap = read(t, newSource(t, cfg), ppGroup)
	if a := userByName(t, snap, "pp-override").Attributes; len(a) != 1 || a["sn"] == nil {
		t.Errorf("pp-override: attributes %v, want sn only", a)
	}
}

// TestSlapdPasswordPolicyAuthenticate: a pass-through sign-in of a user
// with a pwdPolicySubentry returns no policy bookkeeping.
func TestSlapdPasswordPolicyAuthenticate(t *testing.T) {
	s := ppolicySlapd(t)
	u, err := newSource(t, ppolicyConfig(t, s)).Authenticate(context.Background(), directory.Account{Login: "pp-override"}, "pp-override-password")
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if _, ok := u.Attributes[policyDNKey]; ok {
		t.Errorf("attributes %v carry the policy DN", u.Attributes)
	}
}

func hasWarning(warnings []string, sub string) bool {
	for _, w := range warnings {
		if strings.Contains(w, sub) {
			return true
		}
	}
	return false
}
