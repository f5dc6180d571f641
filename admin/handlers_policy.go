package admin

import (
	"net/http"
	"slices"
	"time"

	"github.com/dirbridge/dirbridge/sso/policy"
)

// SignInPolicy is what GET /api/v1/policy returns: the sign-in policies
// the daemon runs with. They come from the config file (Source); a reload
// (SIGHUP) of the password, lock-out, username, reset-link lifetime and IP
// rules shows here at once, the rest after a restart.
type SignInPolicy struct {
	// Source says where the policies are set: the config file, under
	// the key each section names.
	Source   string         `json:"source"`
	Password PasswordPolicy `json:"password"`
	Lockout  LockoutPolicy  `json:"lockout"`
	Username UsernamePolicy `json:"username"`
	Reset    ResetPolicy    `json:"password_reset"`
	IPRules  []IPRule       `json:"ip_rules"`
}

// PasswordPolicy is policy.password, for local users' passwords.
type PasswordPolicy struct {
	Key        string `json:"key"`
	MinLength  int    `json:"min_length"`
	MinLetters int    `json:"min_letters"`
	MinDigits  int    `json:"min_digits"`
	MinOther   int    `json:"min_other"`
	// History is how many earlier passwords may not be reused (0: any).
	History int `json:"history"`
	// ValidityDays after which a local password must be changed (0: never).
	ValidityDays     int      `json:"validity_days"`
	NeverExpireUsers []string `json:"never_expire_users"`
}

// LockoutPolicy is policy.lockout. Durations are Go durations ("15m0s");
// MaxAttempts 0 means no lock-out, Within "0s" counts until a success,
// LockFor "0s" locks until an administrator unlocks.
type LockoutPolicy struct {
	Key         string `json:"key"`
	MaxAttempts int    `json:"max_attempts"`
	Within      string `json:"within"`
	LockFor     string `json:"lock_for"`
}

// UsernamePolicy is policy.username, for names of new local users.
type UsernamePolicy struct {
	Key        string `json:"key"`
	MinLength  int    `json:"min_length"`
	MinLetters int    `json:"min_letters"`
	MinDigits  int    `json:"min_digits"`
	MinOther   int    `json:"min_other"`
}

// ResetPolicy is policy.password_reset: forgotten-password mail.
type ResetPolicy struct {
	Key      string `json:"key"`
	Enabled  bool   `json:"enabled"`
	TokenTTL string `json:"token_ttl"`
	PerHour  int    `json:"per_hour"`
}

// IPRule is one of policy.ip_rules, in the order they are checked.
type IPRule struct {
	Name      string   `json:"name"`
	Active    bool     `json:"active"`
	Effect    string   `json:"effect"`
	Addresses []string `json:"addresses"`
	Profiles  []string `json:"profiles"`
	Units     []string `json:"units"`
}

// SignInPolicies are the running sign-in policies as the sign-in service
// holds them, for SignInPolicyOf.
type SignInPolicies struct {
	Password     policy.PasswordPolicy
	Lockout      policy.LockoutPolicy
	Usernames    policy.UsernamePolicy
	ResetEnabled bool
	ResetTTL     time.Duration
	ResetPerHour int
	IPRules      []policy.IPRule
}

// PolicySource is SignInPolicy.Source: every sign-in policy is set in
// the config file; none is edited through the API.
const PolicySource = "config file"

// SignInPolicyOf is p as the API shows it.
func SignInPolicyOf(p SignInPolicies) SignInPolicy {
	pw := p.Password
	minLength := pw.MinLength
	if minLength <= 0 {
		minLength = policy.DefaultMinLength
	}
	out := SignInPolicy{
		Source: PolicySource,
		Password: PasswordPolicy{Key: "policy.password", MinLength: minLength, MinLetters: pw.MinLetters, MinDigits: pw.MinDigits,
			MinOther: pw.MinOther, History: pw.History, ValidityDays: pw.ValidityDays, NeverExpireUsers: orEmpty(slices.Clone(pw.NeverExpireUsers))},
		Lockout: LockoutPolicy{Key: "policy.lockout", MaxAttempts: max(p.Lockout.MaxAttempts, 0),
			Within: max(p.Lockout.Within, 0).String(), LockFor: max(p.Lockout.LockFor, 0).String()},
		Username: UsernamePolicy{Key: "policy.username", MinLength: p.Usernames.MinLength, MinLetters: p.Usernames.MinLetters,
			MinDigits: p.Usernames.MinDigits, MinOther: p.Usernames.MinOther},
		Reset:   ResetPolicy{Key: "policy.password_reset", Enabled: p.ResetEnabled, TokenTTL: p.ResetTTL.String(), PerHour: p.ResetPerHour},
		IPRules: make([]IPRule, 0, len(p.IPRules)),
	}
	for _, r := range p.IPRules {
		addrs := make([]string, 0, len(r.Addresses))
		for _, a := range r.Addresses {
			addrs = append(addrs, a.String())
		}
		out.IPRules = append(out.IPRules, IPRule{Name: r.Name, Active: r.Active, Effect: string(r.Effect), Addresses: addrs,
			Profiles: orEmpty(slices.Clone(r.Profiles)), Units: orEmpty(slices.Clone(r.Units))})
	}
	return out
}

// orEmpty is s, or an empty list for nil (JSON [] rather than null).
func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// handlePolicy shows the sign-in policies in force; 501 when the daemon
// gave the API no way to read them.
func (s *Server) handlePolicy(w http.ResponseWriter, _ *http.Request, _ *caller) error {
	if s.signInPolicies == nil {
		return errf(http.StatusNotImplemented, CodeNotImplemented, "the sign-in policies are not available here")
	}
	writeJSON(w, http.StatusOK, SignInPolicyOf(s.signInPolicies()))
	return nil
}
