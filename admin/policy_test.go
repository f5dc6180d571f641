package admin_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/sso/policy"
)

func TestSignInPolicy(t *testing.T) {
	// The API asks for the policies at each request: a reload (here, a
	// Store) shows at once.
	var running atomic.Pointer[admin.SignInPolicies]
	running.Store(&admin.SignInPolicies{
		Password:     policy.PasswordPolicy{MinDigits: 1, History: 5, ValidityDays: 90, NeverExpireUsers: []string{"kiosk"}},
		Lockout:      policy.LockoutPolicy{MaxAttempts: 5, Within: 15 * time.Minute, LockFor: 30 * time.Minute},
		Usernames:    policy.UsernamePolicy{MinLength: 3},
		ResetEnabled: true, ResetTTL: time.Hour, ResetPerHour: 5,
	})
	e := newEnvWith(t, func(o *admin.Options) {
		o.SignInPolicies = func() admin.SignInPolicies { return *running.Load() }
	})
	var got admin.SignInPolicy
	e.do("GET", "/api/v1/policy", e.token("uma"), nil, 200, &got) // manage_users
	if got.Source != "config file" || got.Password.MinLength != policy.DefaultMinLength || got.Password.MinDigits != 1 ||
		got.Password.History != 5 || got.Password.ValidityDays != 90 || len(got.Password.NeverExpireUsers) != 1 ||
		got.Lockout.MaxAttempts != 5 || got.Lockout.Within != "15m0s" || got.Lockout.LockFor != "30m0s" ||
		got.Username.MinLength != 3 || !got.Reset.Enabled || got.Reset.TokenTTL != "1h0m0s" || got.Reset.PerHour != 5 ||
		got.IPRules == nil || len(got.IPRules) != 0 || got.Lockout.Key != "policy.lockout" {
		t.Fatalf("policy: %+v", got)
	}

	rule, err := policy.ParseIPRule("office only", true, "allow", []string{"10.0.0.0/8", "192.0.2.7"}, []string{"Agent"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	next := *running.Load()
	next.Lockout.MaxAttempts, next.IPRules = 3, []policy.IPRule{rule}
	running.Store(&next)
	e.do("GET", "/api/v1/policy", e.token("alice"), nil, 200, &got)
	if got.Lockout.MaxAttempts != 3 || len(got.IPRules) != 1 {
		t.Fatalf("after a reload: %+v", got)
	}
	r := got.IPRules[0]
	if r.Name != "office only" || !r.Active || r.Effect != "allow" || len(r.Addresses) != 2 || r.Addresses[1] != "192.0.2.7" ||
		len(r.Profiles) != 1 || r.Units == nil {
		t.Fatalf("IP rule: %+v", r)
	}

	// manage_profiles alone does not read it; nor does a plain user.
	e.do("GET", "/api/v1/policy", e.token("pete"), nil, 403, nil)
	e.do("GET", "/api/v1/policy", e.token("nobody"), nil, 403, nil)

	// A server given no policies says so.
	bare := newEnv(t)
	bare.do("GET", "/api/v1/policy", bare.token("alice"), nil, 501, nil)
}
