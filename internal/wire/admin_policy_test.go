package wire

import (
	"context"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/internal/password"
	"github.com/dirbridge/dirbridge/store/sqlite"
)

// The admin API's policies are the sign-in service's, read at each call:
// what a reload sets there (SetPolicies, SetIPRules) is what it shows.
func TestAdminSeesRunningSignInPolicies(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/db.sqlite")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	h, err := password.NewHasher(password.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, 1)
	if err != nil {
		t.Fatal(err)
	}
	cfg := loadYAML(t, `server: {public_url: "http://sso.example.test"}
policy:
  password: {min_length: 12, history: 4}
  lockout: {max_attempts: 5, within: 15m, lock_for: 30m}
  password_reset: {enabled: true, token_ttl: 45m, per_hour: 7}
  ip_rules:
    - {name: office, effect: allow, addresses: [10.0.0.0/8], profiles: [Agent]}
smtp: {host: 127.0.0.1, port: 2525, from: "dirbridge <no-reply@example.test>"}
profiles:
  - {name: Agent, privileges: []}
`)
	svc, err := SSO(cfg, SSODeps{Store: st, Hasher: h})
	if err != nil {
		t.Fatal(err)
	}
	get := signInPolicies(svc, cfg.Policy.PasswordReset)
	p := get()
	if p.Password.MinLength != 12 || p.Password.History != 4 || p.Lockout.MaxAttempts != 5 || p.Lockout.LockFor != 30*time.Minute ||
		!p.ResetEnabled || p.ResetTTL != 45*time.Minute || p.ResetPerHour != 7 || len(p.IPRules) != 1 || p.IPRules[0].Name != "office" {
		t.Fatalf("policies: %+v", p)
	}

	next := loadYAML(t, `server: {public_url: "http://sso.example.test"}
policy:
  lockout: {max_attempts: 3}
`)
	rules, err := IPRules(next)
	if err != nil {
		t.Fatal(err)
	}
	svc.SetPolicies(SignInPolicies(next))
	svc.SetIPRules(rules)
	if p := get(); p.Lockout.MaxAttempts != 3 || p.Password.MinLength == 12 || p.Password.History != 0 || len(p.IPRules) != 0 {
		t.Fatalf("after a reload: %+v", p)
	}
}
