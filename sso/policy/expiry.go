package policy

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// PasswordExpiry is what is known about when a password expires. Its
// fields match directory.PasswordInfo one for one, so a reader can convert
// with directory.PasswordInfo(e).
type PasswordExpiry struct {
	// ChangedAt is zero when unknown.
	ChangedAt time.Time
	// ExpiresAt is zero when unknown or never (see NeverExpires).
	ExpiresAt time.Time
	// NeverExpires: the password never expires.
	NeverExpires bool
	// MustChange: the password must be changed at the next sign-in
	// (AD pwdLastSet = 0, ppolicy pwdReset, a local reset).
	MustChange bool
}

// FILETIME sentinels used by AD attributes (pwdLastSet, accountExpires,
// msDS-UserPasswordExpiryTimeComputed).
const (
	// FileTimeNever (0x7FFFFFFFFFFFFFFF) means "never".
	FileTimeNever int64 = math.MaxInt64
	// fileTimeEpochOffset is the number of 100-ns ticks between
	// 1601-01-01 and 1970-01-01.
	fileTimeEpochOffset int64 = 116444736000000000
)

// FileTimeToTime converts a Windows FILETIME (100-ns ticks since
// 1601-01-01 UTC) to a UTC time. It does not interpret the sentinels 0 and
// FileTimeNever; the callers below do, since what they mean depends on the
// attribute.
func FileTimeToTime(ft int64) time.Time {
	sec := ft / 10_000_000
	rem := ft % 10_000_000
	if rem < 0 {
		sec--
		rem += 10_000_000
	}
	const epochSecs = fileTimeEpochOffset / 10_000_000
	return time.Unix(sec-epochSecs, rem*100).UTC()
}

// TimeToFileTime converts t to a FILETIME, truncating to 100 ns. The zero
// time gives 0.
func TimeToFileTime(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	const epochSecs = fileTimeEpochOffset / 10_000_000
	return (t.Unix()+epochSecs)*10_000_000 + int64(t.Nanosecond())/100
}

// ParseFileTime parses the decimal text of a FILETIME attribute.
func ParseFileTime(s string) (int64, error) {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid FILETIME %q", s)
	}
	return v, nil
}

// userAccountControl bits that make a password never expire.
const (
	UACDontExpirePassword   = 0x10000
	UACSmartcardRequired    = 0x40000
	uacNeverExpiresPassword = UACDontExpirePassword | UACSmartcardRequired
)

// ADPassword holds the AD attributes that decide password expiry, as
// read: FILETIME integers and the userAccountControl bits.
type ADPassword struct {
	// ExpiryComputed is msDS-UserPasswordExpiryTimeComputed; it honours
	// fine-grained password policies, so it wins when present.
	ExpiryComputed    int64
	HasExpiryComputed bool
	// PwdLastSet is pwdLastSet; 0 means "must change at next sign-in".
	PwdLastSet    int64
	HasPwdLastSet bool
	// MaxPwdAge is the domain's (or the resultant PSO's) maxPwdAge: a
	// negative 100-ns interval as AD stores it (a positive one is accepted
	// too). 0 and math.MinInt64 mean passwords never expire.
	MaxPwdAge int64
	// UserAccountControl; DONT_EXPIRE_PASSWORD and SMARTCARD_REQUIRED
	// mean never.
	UserAccountControl uint32
}

// ADPasswordExpiry computes the expiry of an AD password, in this order:
//
//  1. DONT_EXPIRE_PASSWORD or SMARTCARD_REQUIRED in userAccountControl:
//     never (AD computes it the same way).
//  2. msDS-UserPasswordExpiryTimeComputed when present: 0 means must
//     change now, FileTimeNever never, anything else the expiry time.
//  3. pwdLastSet = 0: must change at next sign-in.
//  4. pwdLastSet + |maxPwdAge|; maxPwdAge 0 (or MinInt64) means never.
//
// Without either attribute nothing is known (the zero PasswordExpiry).
func ADPasswordExpiry(in ADPassword) PasswordExpiry {
	var e PasswordExpiry
	if in.HasPwdLastSet && in.PwdLastSet > 0 && in.PwdLastSet != FileTimeNever {
		e.ChangedAt = FileTimeToTime(in.PwdLastSet)
	}
	if in.UserAccountControl&uacNeverExpiresPassword != 0 {
		e.NeverExpires = true
		return e
	}
	if in.HasExpiryComputed {
		switch in.ExpiryComputed {
		case 0:
			e.MustChange = true
		case FileTimeNever:
			e.NeverExpires = true
		default:
			e.ExpiresAt = FileTimeToTime(in.ExpiryComputed)
		}
		return e
	}
	if !in.HasPwdLastSet {
		return e
	}
	if in.PwdLastSet == 0 {
		e.MustChange = true
		return e
	}
	if in.MaxPwdAge == 0 || in.MaxPwdAge == math.MinInt64 {
		e.NeverExpires = true
		return e
	}
	age := in.MaxPwdAge
	if age < 0 {
		age = -age
	}
	if in.PwdLastSet > FileTimeNever-age {
		e.NeverExpires = true // beyond what a FILETIME can say
		return e
	}
	e.ExpiresAt = FileTimeToTime(in.PwdLastSet + age)
	return e
}

// ADAccountExpiry interprets accountExpires (the account's, not the
// password's, expiry): 0 and FileTimeNever both mean never, returned as
// the zero time.
func ADAccountExpiry(ft int64) time.Time {
	if ft <= 0 || ft == FileTimeNever {
		return time.Time{}
	}
	return FileTimeToTime(ft)
}

// LDAPPasswordExpiry computes expiry on a generic LDAP server with the
// password policy overlay: pwdChangedTime + pwdMaxAge (seconds; 0 means
// never). pwdReset TRUE means the password must be changed. A zero
// changedAt with a non-zero maxAge is unknown.
func LDAPPasswordExpiry(changedAt time.Time, maxAgeSeconds int64, reset bool) PasswordExpiry {
	e := PasswordExpiry{ChangedAt: changedAt, MustChange: reset}
	switch {
	case maxAgeSeconds <= 0:
		e.NeverExpires = true
	case !changedAt.IsZero():
		e.ExpiresAt = changedAt.Add(time.Duration(maxAgeSeconds) * time.Second)
	}
	return e
}

// ParseGeneralizedTime parses an LDAP GeneralizedTime such as
// pwdChangedTime ("20240131235959Z", "20240131235959.123Z",
// "202401312359+0100").
func ParseGeneralizedTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{
		"20060102150405Z0700",
		"20060102150405.999999999Z0700",
		"200601021504Z0700",
		"2006010215Z0700",
	} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid GeneralizedTime %q", s)
}

// DaysLeft counts the calendar days from now until expiresAt in loc (nil
// means UTC): a password expiring later today has 0 days left, one expiring
// any time tomorrow 1, one that expired yesterday -1. Calendar days, not
// 24-hour periods, because the user reads "expires in 1 day" against a
// calendar: at 23:00 a password expiring at 08:00 the next morning has 1
// day left, not 0. DST changes do not disturb the count.
func DaysLeft(expiresAt, now time.Time, loc *time.Location) int {
	if loc == nil {
		loc = time.UTC
	}
	ey, em, ed := expiresAt.In(loc).Date()
	ny, nm, nd := now.In(loc).Date()
	e := time.Date(ey, em, ed, 0, 0, 0, 0, time.UTC)
	n := time.Date(ny, nm, nd, 0, 0, 0, 0, time.UTC)
	// Unix seconds, not Sub: a Duration saturates beyond ~292 years.
	return int((e.Unix() - n.Unix()) / 86400)
}

// Warning says what a sign-in at now should tell a user whose password
// expires at expiresAt, with days counted by DaysLeft in now's location
// (pass now.In(loc) for the configured zone):
//
//   - expired when now is at or after expiresAt (sign-in is blocked with a
//     change path);
//   - warn when not expired and days <= warnDays ("your password expires
//     in N days"; N = 0 reads "today"); warnDays 0 or less never warns.
//
// A zero expiresAt (never, or unknown) neither warns nor expires.
func Warning(expiresAt, now time.Time, warnDays int) (days int, warn bool, expired bool) {
	if expiresAt.IsZero() {
		return 0, false, false
	}
	days = DaysLeft(expiresAt, now, now.Location())
	if !now.Before(expiresAt) {
		return days, false, true
	}
	return days, warnDays > 0 && days <= warnDays, false
}
