// Package pwdexpiry is the one home of dirbridge's password-expiry rules:
// what a directory's attributes say about when a password expires (Active
// Directory's userAccountControl, pwdLastSet,
// msDS-UserPasswordExpiryTimeComputed and maxPwdAge; an OpenLDAP ppolicy's
// pwdChangedTime, pwdReset and pwdMaxAge), and what a sign-in or a notice
// makes of the resulting date (days left, warn, expired).
//
// The LDAP reader (sync/ldap), the sign-in warning (sso) and the notice job
// (expiry) all call it, so the rules cannot drift between them. It is pure:
// no I/O, no clock, no LDAP library; the reader passes attribute text.
package pwdexpiry

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/dirbridge/dirbridge/sync/directory"
)

// userAccountControl bits that decide password expiry.
const (
	// UACDontExpirePassword is DONT_EXPIRE_PASSWORD.
	UACDontExpirePassword = 0x10000
	// UACSmartcardRequired is SMARTCARD_REQUIRED: the account signs in with
	// a smart card, and AD never expires its (random) password.
	UACSmartcardRequired = 0x40000
	// UACPasswordExpired is PASSWORD_EXPIRED.
	UACPasswordExpired = 0x800000

	// uacNeverExpires are the bits for which AD computes
	// msDS-UserPasswordExpiryTimeComputed as "never" (MS-ADTS 3.1.1.4.5.29),
	// whatever pwdLastSet and maxPwdAge say.
	uacNeverExpires = UACDontExpirePassword | UACSmartcardRequired
)

// FILETIME constants (100 ns ticks since 1601-01-01 UTC).
const (
	// FileTimeNever (0x7FFFFFFFFFFFFFFF) is AD's "never".
	FileTimeNever int64 = math.MaxInt64
	// fileTimeUnixEpoch is 1970-01-01 as a FILETIME.
	fileTimeUnixEpoch int64 = 116444736000000000
)

// FileTime parses the decimal text of an AD FILETIME attribute (pwdLastSet,
// accountExpires, msDS-UserPasswordExpiryTimeComputed). never reports the
// encodings of "no value": absent (""), 0, FileTimeNever and negative
// values. What "no value" means depends on the attribute; the callers
// decide.
func FileTime(s string) (t time.Time, never bool, err error) {
	if s == "" {
		return time.Time{}, true, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("filetime %q: %w", s, err)
	}
	if v <= 0 || v == FileTimeNever {
		return time.Time{}, true, nil
	}
	return FileTimeToTime(v), false, nil
}

// FileTimeToTime converts a FILETIME to a UTC time, without interpreting
// the sentinels (see FileTime).
func FileTimeToTime(ft int64) time.Time {
	ticks := ft - fileTimeUnixEpoch
	sec, rem := ticks/1e7, ticks%1e7
	if rem < 0 {
		sec, rem = sec-1, rem+1e7
	}
	return time.Unix(sec, rem*100).UTC()
}

// TimeToFileTime converts t to a FILETIME, truncated to 100 ns. Tests and
// fixtures use it to write the attributes a directory would send.
func TimeToFileTime(t time.Time) int64 {
	const epochSecs = fileTimeUnixEpoch / 1e7
	return (t.Unix()+epochSecs)*1e7 + int64(t.Nanosecond())/100
}

// AD holds an AD user's own attributes that decide the password's expiry,
// as the directory sent them.
type AD struct {
	// UserAccountControl is the parsed userAccountControl.
	UserAccountControl int64
	// PwdLastSet is pwdLastSet's text; "0" means "must change at the next
	// sign-in", "" absent.
	PwdLastSet string
	// ExpiryComputed is msDS-UserPasswordExpiryTimeComputed's text, ""
	// when it was not read. It is exact (it honours fine-grained password
	// policies, msDS-ResultantPSO) but costs the DC about a millisecond per
	// entry, so it is read only on request; otherwise DomainMaxAge
	// completes the expiry from the domain's maxPwdAge.
	ExpiryComputed string
}

// ADPassword says what an AD user's own attributes tell about the
// password:
//
//   - DONT_EXPIRE_PASSWORD or SMARTCARD_REQUIRED: never expires (AD
//     computes msDS-UserPasswordExpiryTimeComputed the same way).
//   - pwdLastSet 0: must change at the next sign-in; otherwise pwdLastSet
//     is the change time (absent or "never" leaves it unknown).
//   - msDS-UserPasswordExpiryTimeComputed, when read: 0 must change,
//     FileTimeNever never, anything else the expiry time (which reflects a
//     fine-grained password policy).
//   - PASSWORD_EXPIRED with no expiry date known and not "never": must
//     change.
//
// Without the computed attribute the expiry date stays zero: DomainMaxAge
// adds it once the domain's maxPwdAge is read.
func ADPassword(a AD) (directory.PasswordInfo, error) {
	var p directory.PasswordInfo
	p.NeverExpires = a.UserAccountControl&uacNeverExpires != 0
	if a.PwdLastSet == "0" {
		p.MustChange = true
	} else if t, never, err := FileTime(a.PwdLastSet); err != nil {
		return directory.PasswordInfo{}, fmt.Errorf("pwdLastSet: %w", err)
	} else if !never {
		p.ChangedAt = t
	}
	if v := a.ExpiryComputed; v != "" {
		// An unparsable value reads as 0 (must change), as it always has:
		// the reader never refused a user for this attribute.
		switch n, _ := strconv.ParseInt(v, 10, 64); {
		case n == 0:
			p.MustChange = true
		case n == FileTimeNever:
			p.NeverExpires = true
		case p.NeverExpires:
			// The account's flags say never; a stale computed date does
			// not override them.
		default:
			if n > 0 {
				p.ExpiresAt = FileTimeToTime(n)
			}
		}
	}
	if a.UserAccountControl&UACPasswordExpired != 0 && p.ExpiresAt.IsZero() && !p.NeverExpires {
		p.MustChange = true
	}
	return p, nil
}

// DomainMaxAge completes p, an AD password whose expiry date is not yet
// known, with the domain's maxPwdAge: a negative interval in 100 ns ticks,
// as AD stores it. The expiry is then pwdLastSet + |maxPwdAge|. It leaves
// p alone when the password never expires, must be changed, has no known
// change time or already has a date (from
// msDS-UserPasswordExpiryTimeComputed, which honours fine-grained
// policies), and when maxPwdAge is 0 or "never" (the minimum) or not a
// negative interval.
func DomainMaxAge(p *directory.PasswordInfo, maxPwdAge int64) {
	if maxPwdAge >= 0 || maxPwdAge < -math.MaxInt64/100 {
		return
	}
	if p.NeverExpires || p.MustChange || p.ChangedAt.IsZero() || !p.ExpiresAt.IsZero() {
		return
	}
	p.ExpiresAt = p.ChangedAt.Add(time.Duration(-maxPwdAge) * 100)
}

// LDAPPassword says what a generic LDAP user's own ppolicy attributes tell
// (draft-behera-ldap-password-policy, OpenLDAP's ppolicy overlay):
// pwdChangedTime is the change time (zero when absent: the password
// predates the policy or was loaded offline), and pwdReset TRUE means it
// must be changed at the next sign-in. The expiry date waits for the
// user's policy (PolicyMaxAge).
func LDAPPassword(pwdChangedTime time.Time, pwdReset string) directory.PasswordInfo {
	return directory.PasswordInfo{ChangedAt: pwdChangedTime, MustChange: strings.EqualFold(pwdReset, "TRUE")}
}

// maxAgeSeconds is the longest pwdMaxAge a time.Duration can hold; longer
// ones (about 292 years) are taken as never.
const maxAgeSeconds = math.MaxInt64 / int64(time.Second)

// PolicyMaxAge sets p's expiry under a ppolicy whose pwdMaxAge is maxAge
// seconds:
//
//   - pwdMaxAge 0 or absent (pass 0), negative, or beyond what a Duration
//     holds: never expires (the draft's definition).
//   - pwdReset TRUE (p.MustChange): no expiry date, as AD's pwdLastSet = 0:
//     the password is already due, and counting down to a date would only
//     send misleading notices.
//   - no pwdChangedTime: unknown, no date; guessing an age would send
//     notices that are wrong.
//   - otherwise pwdChangedTime + pwdMaxAge.
func PolicyMaxAge(p *directory.PasswordInfo, maxAge int64) {
	p.ExpiresAt = time.Time{}
	p.NeverExpires = false
	switch {
	case maxAge <= 0 || maxAge > maxAgeSeconds:
		p.NeverExpires = true
	case p.MustChange, p.ChangedAt.IsZero():
	default:
		p.ExpiresAt = p.ChangedAt.Add(time.Duration(maxAge) * time.Second)
	}
}
