package sso

import (
	"time"

	"github.com/dirbridge/dirbridge/sso/policy"
)

// Policies are the sign-in policies a configuration reload (SIGHUP)
// replaces while sign-ins run: the local password policy, the lock-out,
// the username policy of first-sign-in users and how long reset links
// work. The rest of Options needs a restart.
type Policies struct {
	Password  policy.PasswordPolicy
	Lockout   policy.LockoutPolicy
	Usernames policy.UsernamePolicy
	ResetTTL  time.Duration
}

// SetPolicies replaces the running policies; sign-ins already past a
// check keep the answer they got.
func (s *Service) SetPolicies(p Policies) {
	s.pol.Store(&p)
	if j, ok := s.opts.JIT.(*JIT); ok {
		j.SetUsernames(p.Usernames)
	}
}

// policies are the policies in force.
func (s *core) policies() *Policies { return s.pol.Load() }

// Policies returns the policies in force, for a reload to compare with.
func (s *Service) Policies() Policies { return *s.pol.Load() }
