package sso

import (
	"net/netip"
	"time"

	"github.com/dirbridge/dirbridge/internal/pwdexpiry"
	"github.com/dirbridge/dirbridge/sso/policy"
	"github.com/dirbridge/dirbridge/store"
)

// The gate is every check between "this is the user" and "start a
// session", as one pure function: the user's state, account and emergency
// expiry, the IP rules, and whether the password must be changed first or
// earns an expiry warning. Licences are counted in the session's
// transaction, not here. Lock-out is not the gate's: it belongs to
// password attempts (password.go), and a lock earned by wrong passwords
// does not stop a person their IdP has just authenticated.

// gateKind is what the gate decided.
type gateKind int

const (
	gateAllow       gateKind = iota
	gateRefuse               // no session
	gateOfferChange          // the password must be changed first (password sign-ins)
)

// gateInput is what the gate looks at.
type gateInput struct {
	User store.User
	// Privileges are the user's effective privileges.
	Privileges []string
	IP         netip.Addr
	Rules      []policy.IPRule
	Now        time.Time
	// TimeZone counts "days left"; WarnDays is the user's warning window.
	TimeZone *time.Location
	WarnDays int
	// Password marks a password sign-in; Changed a password changed during
	// this sign-in; MustChange the directory's "must change" at bind time.
	Password, Changed, MustChange bool
}

// gateResult is the gate's verdict.
type gateResult struct {
	Kind gateKind
	// Reason goes to the audit log; Public to a person an IdP has already
	// authenticated (a password sign-in shows the wrong-password answer
	// instead, so a refusal does not confirm the password).
	Reason, Public string
	// IPRule is the IP rule decision's reason, when rules apply.
	IPRule string
	// WarnDays is set with Warn: the password expires within the window.
	WarnDays int
	Warn     bool
}

const publicNotAllowed = "Sign-in is not allowed for your account. Please contact your administrator."

// decide runs the gate. It reads nothing but its input.
func decide(in gateInput) gateResult {
	u, now := in.User, in.Now
	switch {
	case u.State != store.StateActive:
		return gateResult{Kind: gateRefuse, Reason: "user inactive", Public: publicNotAllowed}
	case u.Emergency && !u.ExpiresAt.IsZero() && !now.Before(u.ExpiresAt):
		return gateResult{Kind: gateRefuse, Reason: "emergency account expired at " + u.ExpiresAt.UTC().Format(time.RFC3339), Public: publicNotAllowed}
	case !u.AccountExpiresAt.IsZero() && !now.Before(u.AccountExpiresAt):
		return gateResult{Kind: gateRefuse, Reason: "account expired at " + u.AccountExpiresAt.UTC().Format(time.RFC3339), Public: publicNotAllowed}
	}
	var res gateResult
	if len(in.Rules) > 0 {
		d := policy.EvaluateIP(in.Rules, in.IP, u.Profile, u.Units, has(in.Privileges, PrivPrivilegedIP))
		res.IPRule = d.Reason
		if !d.Allowed {
			res.Kind, res.Reason = gateRefuse, "IP address not allowed: "+d.Reason
			res.Public = "Sign-in from your network address is not allowed. Please contact your administrator."
			return res
		}
	}
	days, warn, expired := passwordWarning(u, now, in.TimeZone, in.WarnDays)
	if in.Password && !in.Changed {
		switch {
		case in.MustChange || u.MustChangePassword:
			res.Kind, res.Reason, res.Public = gateOfferChange, "password must be changed", "You must choose a new password before you continue."
			return res
		case expired:
			res.Kind, res.Reason = gateOfferChange, "password expired at "+u.PasswordExpiresAt.UTC().Format(time.RFC3339)
			res.Public = "Your password has expired. Choose a new one to continue."
			return res
		}
	}
	if warn && !in.Changed {
		res.WarnDays, res.Warn = days, true
	}
	return res
}

// passwordWarning says, for u at now, the calendar days left in tz (0 is
// "today"), whether that is within warnDays, and whether the password has
// expired.
func passwordWarning(u store.User, now time.Time, tz *time.Location, warnDays int) (days int, warn, expired bool) {
	if u.PasswordNeverExpires {
		return 0, false, false
	}
	if tz == nil {
		tz = time.UTC
	}
	return pwdexpiry.Warning(u.PasswordExpiresAt, now.In(tz), warnDays)
}
