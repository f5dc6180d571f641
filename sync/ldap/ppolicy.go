package ldap

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"
	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/internal/pwdexpiry"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// Password expiry on generic LDAP directories with a password policy
// (draft-behera-ldap-password-policy; OpenLDAP's ppolicy overlay). A
// user's password expires pwdMaxAge seconds after its pwdChangedTime,
// under the policy named by the user's pwdPolicySubentry or else the
// directory's default policy. The default lives in the server's own
// configuration (cn=config), which a service account cannot read, so it is
// configured here as PasswordPolicyDN.
//
// The arithmetic (pwdMaxAge 0 or absent means never, no pwdChangedTime
// means unknown, pwdReset means must change and no date) is
// pwdexpiry.PolicyMaxAge's. What is decided here is which policy applies:
// with no policy known (no pwdPolicySubentry, no PasswordPolicyDN), or a
// policy entry the service account cannot find, expiry stays unknown.

// policyDNKey is where toUser leaves a user's pwdPolicySubentry for
// ppolicyExpiry. It is not a valid attribute description, so it never
// collides with a configured extra attribute, and takePolicyDN removes it
// before the user leaves the package.
const policyDNKey = "dirbridge:pwdPolicySubentry"

// notePolicyDN records e's pwdPolicySubentry on u when expiry is read.
func (s *Source) notePolicyDN(e *goldap.Entry, u *directory.User) {
	if !s.readsPPolicy() {
		return
	}
	dn := e.GetAttributeValue("pwdPolicySubentry")
	if dn == "" {
		return
	}
	if u.Attributes == nil {
		u.Attributes = make(map[string][]string, 1)
	}
	u.Attributes[policyDNKey] = []string{dn}
}

// takePolicyDN removes and returns what notePolicyDN recorded on u,
// leaving Attributes as toUser made it (nil without extra attributes).
func (s *Source) takePolicyDN(u *directory.User) string {
	v, ok := u.Attributes[policyDNKey]
	if !ok {
		return ""
	}
	delete(u.Attributes, policyDNKey)
	if len(u.Attributes) == 0 && len(s.cfg.ExtraAttributes) == 0 {
		u.Attributes = nil
	}
	return v[0]
}

// readsPPolicy reports whether password expiry is read from ppolicy.
func (s *Source) readsPPolicy() bool {
	return s.cfg.Kind == KindLDAP && s.cfg.ReadPasswordExpiry
}

// pwdPolicy is one policy entry as read.
type pwdPolicy struct {
	// known is false when the entry could not be read as a policy; its
	// users' expiry stays unknown.
	known bool
	// maxAge is pwdMaxAge in seconds; 0 means never.
	maxAge int64
}

// ppolicyExpiry sets Password.ExpiresAt or NeverExpires on generic LDAP
// users from their pwdChangedTime (already in Password.ChangedAt) and the
// pwdMaxAge of their policy. Each policy is read once per call: a run
// with thousands of users under one policy costs one request. A policy
// that is missing or is not a policy is reported as a warning (its users'
// expiry stays unknown); a failed request is an error.
func (s *Source) ppolicyExpiry(ctx context.Context, sr *searcher, users []directory.User) ([]string, error) {
	cache := map[string]pwdPolicy{}
	var warnings []string
	for i := range users {
		u := &users[i]
		dn := s.takePolicyDN(u)
		if u.Deleted {
			continue
		}
		if dn == "" {
			dn = s.cfg.PasswordPolicyDN
		}
		if dn == "" {
			continue
		}
		key, err := dnKey(dn)
		if err != nil {
			key = strings.ToLower(dn)
		}
		p, ok := cache[key]
		if !ok {
			var warning string
			p, warning, err = readPolicy(ctx, sr, dn)
			if err != nil {
				return nil, fmt.Errorf("password policy %s: %w", dn, err)
			}
			if warning != "" {
				warnings = append(warnings, warning)
				s.log.Warn("password policy not usable: expiry unknown for its users", zap.String("policy", dn), zap.String("reason", warning))
			}
			cache[key] = p
		}
		if p.known {
			pwdexpiry.PolicyMaxAge(&u.Password, p.maxAge)
		}
	}
	return warnings, nil
}

// readPolicy reads the policy entry at dn. A missing entry, one that is
// not a pwdPolicy, or an unreadable pwdMaxAge gives a warning and an
// unknown policy, not an error: one bad subentry must not stop the sync.
func readPolicy(ctx context.Context, sr *searcher, dn string) (pwdPolicy, string, error) {
	e, err := sr.base(ctx, dn, []string{"objectClass", "pwdMaxAge"})
	if err != nil {
		return pwdPolicy{}, "", err
	}
	if e == nil {
		return pwdPolicy{}, fmt.Sprintf("password policy %s not found (or not readable by the service account): password expiry unknown for its users", dn), nil
	}
	isPolicy := false
	for _, oc := range e.GetAttributeValues("objectClass") {
		isPolicy = isPolicy || strings.EqualFold(oc, "pwdPolicy")
	}
	if !isPolicy {
		return pwdPolicy{}, fmt.Sprintf("%s is not a password policy (no pwdPolicy object class): password expiry unknown for its users", dn), nil
	}
	v := e.GetAttributeValue("pwdMaxAge")
	if v == "" {
		return pwdPolicy{known: true}, "", nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return pwdPolicy{}, fmt.Sprintf("password policy %s: pwdMaxAge %q is not an integer: password expiry unknown for its users", dn, v), nil
	}
	return pwdPolicy{known: true, maxAge: max(n, 0)}, "", nil
}

// policyMark is what the maximum password ages are now: the domain head's
// maxPwdAge on AD; on generic LDAP (reading ppolicy) the pwdMaxAge of every
// pwdPolicy entry under the base DN and of PasswordPolicyDN. A policy
// change touches no user entry, so an incremental read (only what changed)
// would carry the new maximum to nobody until the next full read: Read
// keeps the mark in the cursor and reads everyone when it moved. "" means
// no policy to follow (AD expiry read from msDS-UserPasswordExpiryTimeComputed
// also depends on maxPwdAge, so AD always has a mark).
func (s *Source) policyMark(ctx context.Context, sr *searcher) (string, error) {
	var parts []string
	switch {
	case s.cfg.Kind == KindAD:
		dom, err := sr.base(ctx, s.cfg.BaseDN, []string{"maxPwdAge"})
		if err != nil {
			return "", fmt.Errorf("domain password policy: %w", err)
		}
		if dom == nil || dom.GetAttributeValue("maxPwdAge") == "" {
			return "", nil
		}
		parts = append(parts, "maxPwdAge="+dom.GetAttributeValue("maxPwdAge"))
	case s.readsPPolicy():
		seen := map[string]bool{}
		add := func(e *goldap.Entry) {
			key, err := dnKey(e.DN)
			if err != nil {
				key = strings.ToLower(e.DN)
			}
			if !seen[key] {
				seen[key] = true
				parts = append(parts, key+"="+e.GetAttributeValue("pwdMaxAge"))
			}
		}
		err := sr.paged(ctx, "password policies", s.cfg.BaseDN, "(objectClass=pwdPolicy)", []string{"pwdMaxAge"}, func(e *goldap.Entry) error {
			add(e)
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("password policies: %w", err)
		}
		if dn := s.cfg.PasswordPolicyDN; dn != "" {
			e, err := sr.base(ctx, dn, []string{"pwdMaxAge"})
			if err != nil {
				return "", fmt.Errorf("password policy %s: %w", dn, err)
			}
			if e != nil {
				add(e)
			}
		}
	default:
		return "", nil
	}
	slices.Sort(parts)
	sum := sha256.Sum256([]byte(strings.Join(parts, "\n")))
	return hex.EncodeToString(sum[:8]), nil
}
