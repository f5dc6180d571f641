package pwdexpiry

import (
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/sync/directory"
)

// ft is t as the decimal text of a FILETIME attribute.
func ft(t time.Time) string { return strconv.FormatInt(TimeToFileTime(t), 10) }

// TestPasswordExpiry pins the rule the reader applies to every user, in
// the reader's order: the user's own attributes, then the domain's
// maxPwdAge (AD, when msDS-UserPasswordExpiryTimeComputed is not read) or
// the user's ppolicy pwdMaxAge (generic LDAP).
func TestPasswordExpiry(t *testing.T) {
	set := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
	const day = int64(24 * time.Hour / 100) // one day in 100 ns ticks
	const normal = 0x200                    // NORMAL_ACCOUNT
	maxAge := func(d int64) *int64 { return &d }
	tests := []struct {
		name string
		// AD: the user's attributes and the domain's maxPwdAge (0: not
		// applied, as when the computed attribute is read).
		ad        *AD
		maxPwdAge int64
		// Generic LDAP: pwdChangedTime, pwdReset and the policy's
		// pwdMaxAge in seconds (nil: no policy known).
		changed   time.Time
		reset     string
		policyAge *int64
		want      directory.PasswordInfo
	}{
		// AD
		{name: "AD domain maxPwdAge: pwdLastSet + 42 days",
			ad: &AD{UserAccountControl: normal, PwdLastSet: ft(set)}, maxPwdAge: -42 * day,
			want: directory.PasswordInfo{ChangedAt: set, ExpiresAt: set.AddDate(0, 0, 42)}},
		{name: "AD DONT_EXPIRE_PASSWORD: never, domain maxPwdAge ignored",
			ad: &AD{UserAccountControl: normal | UACDontExpirePassword, PwdLastSet: ft(set)}, maxPwdAge: -42 * day,
			want: directory.PasswordInfo{ChangedAt: set, NeverExpires: true}},
		{name: "AD SMARTCARD_REQUIRED: never, domain maxPwdAge ignored",
			ad: &AD{UserAccountControl: normal | UACSmartcardRequired, PwdLastSet: ft(set)}, maxPwdAge: -42 * day,
			want: directory.PasswordInfo{ChangedAt: set, NeverExpires: true}},
		{name: "AD SMARTCARD_REQUIRED: never, even with a computed date",
			ad:   &AD{UserAccountControl: normal | UACSmartcardRequired, PwdLastSet: ft(set), ExpiryComputed: ft(set.AddDate(0, 0, 42))},
			want: directory.PasswordInfo{ChangedAt: set, NeverExpires: true}},
		{name: "AD SMARTCARD_REQUIRED: computed never",
			ad:   &AD{UserAccountControl: normal | UACSmartcardRequired, PwdLastSet: ft(set), ExpiryComputed: "9223372036854775807"},
			want: directory.PasswordInfo{ChangedAt: set, NeverExpires: true}},
		{name: "AD fine-grained policy (msDS-ResultantPSO): the computed 10 days win over the domain's 42",
			ad: &AD{UserAccountControl: normal, PwdLastSet: ft(set), ExpiryComputed: ft(set.AddDate(0, 0, 10))}, maxPwdAge: -42 * day,
			want: directory.PasswordInfo{ChangedAt: set, ExpiresAt: set.AddDate(0, 0, 10)}},
		{name: "AD computed never",
			ad: &AD{UserAccountControl: normal, PwdLastSet: ft(set), ExpiryComputed: "9223372036854775807"}, maxPwdAge: -42 * day,
			want: directory.PasswordInfo{ChangedAt: set, NeverExpires: true}},
		{name: "AD computed 0: must change",
			ad:   &AD{UserAccountControl: normal, PwdLastSet: "0", ExpiryComputed: "0"},
			want: directory.PasswordInfo{MustChange: true}},
		{name: "AD pwdLastSet 0: must change, no date",
			ad: &AD{UserAccountControl: normal, PwdLastSet: "0"}, maxPwdAge: -42 * day,
			want: directory.PasswordInfo{MustChange: true}},
		{name: "AD pwdLastSet never set (absent): unknown",
			ad: &AD{UserAccountControl: normal}, maxPwdAge: -42 * day,
			want: directory.PasswordInfo{}},
		{name: "AD pwdLastSet 0x7FFFFFFFFFFFFFFF: unknown",
			ad: &AD{UserAccountControl: normal, PwdLastSet: "9223372036854775807"}, maxPwdAge: -42 * day,
			want: directory.PasswordInfo{}},
		{name: "AD domain maxPwdAge 0 (never): no date",
			ad: &AD{UserAccountControl: normal, PwdLastSet: ft(set)}, maxPwdAge: 0,
			want: directory.PasswordInfo{ChangedAt: set}},
		{name: "AD domain maxPwdAge minimum (never): no date",
			ad: &AD{UserAccountControl: normal, PwdLastSet: ft(set)}, maxPwdAge: math.MinInt64,
			want: directory.PasswordInfo{ChangedAt: set}},
		{name: "AD PASSWORD_EXPIRED without a date: must change",
			ad:   &AD{UserAccountControl: normal | UACPasswordExpired, PwdLastSet: ft(set)},
			want: directory.PasswordInfo{ChangedAt: set, MustChange: true}},
		{name: "AD PASSWORD_EXPIRED with DONT_EXPIRE_PASSWORD: never",
			ad:   &AD{UserAccountControl: normal | UACPasswordExpired | UACDontExpirePassword, PwdLastSet: ft(set)},
			want: directory.PasswordInfo{ChangedAt: set, NeverExpires: true}},

		// Generic LDAP, ppolicy
		{name: "ppolicy pwdMaxAge 40 days", changed: set, policyAge: maxAge(40 * 86400),
			want: directory.PasswordInfo{ChangedAt: set, ExpiresAt: set.AddDate(0, 0, 40)}},
		{name: "ppolicy pwdMaxAge 0: never", changed: set, policyAge: maxAge(0),
			want: directory.PasswordInfo{ChangedAt: set, NeverExpires: true}},
		{name: "ppolicy negative pwdMaxAge: never", changed: set, policyAge: maxAge(-5),
			want: directory.PasswordInfo{ChangedAt: set, NeverExpires: true}},
		{name: "ppolicy pwdMaxAge beyond a Duration: never", changed: set, policyAge: maxAge(1 << 62),
			want: directory.PasswordInfo{ChangedAt: set, NeverExpires: true}},
		{name: "ppolicy pwdReset TRUE: must change, no date", changed: set, reset: "TRUE", policyAge: maxAge(40 * 86400),
			want: directory.PasswordInfo{ChangedAt: set, MustChange: true}},
		{name: "ppolicy pwdReset TRUE under a never policy", changed: set, reset: "TRUE", policyAge: maxAge(0),
			want: directory.PasswordInfo{ChangedAt: set, MustChange: true, NeverExpires: true}},
		{name: "ppolicy pwdReset FALSE", changed: set, reset: "FALSE", policyAge: maxAge(40 * 86400),
			want: directory.PasswordInfo{ChangedAt: set, ExpiresAt: set.AddDate(0, 0, 40)}},
		{name: "ppolicy pwdChangedTime never set: unknown", policyAge: maxAge(40 * 86400),
			want: directory.PasswordInfo{}},
		{name: "ppolicy no policy known: no date", changed: set,
			want: directory.PasswordInfo{ChangedAt: set}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got directory.PasswordInfo
			if tc.ad != nil {
				var err error
				if got, err = ADPassword(*tc.ad); err != nil {
					t.Fatal(err)
				}
				if tc.maxPwdAge != 0 {
					DomainMaxAge(&got, tc.maxPwdAge)
				}
			} else {
				got = LDAPPassword(tc.changed, tc.reset)
				if tc.policyAge != nil {
					PolicyMaxAge(&got, *tc.policyAge)
				}
			}
			if !got.ChangedAt.Equal(tc.want.ChangedAt) || !got.ExpiresAt.Equal(tc.want.ExpiresAt) ||
				got.NeverExpires != tc.want.NeverExpires || got.MustChange != tc.want.MustChange {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestADPasswordRefusesGarbage(t *testing.T) {
	if _, err := ADPassword(AD{PwdLastSet: "12x"}); err == nil {
		t.Fatal("unparsable pwdLastSet accepted")
	}
}

func TestFileTime(t *testing.T) {
	for _, never := range []string{"", "0", "9223372036854775807", "-1"} {
		if _, n, err := FileTime(never); !n || err != nil {
			t.Errorf("FileTime(%q) never=%v err=%v", never, n, err)
		}
	}
	got, never, err := FileTime("133000000000000000")
	want := time.Unix(1655526400, 0).UTC() // (133e15 - 116444736e9) / 1e7 s
	if err != nil || never || !got.Equal(want) {
		t.Fatalf("FileTime = %v %v %v, want %v", got, never, err, want)
	}
	if _, _, err := FileTime("x"); err == nil {
		t.Fatal("garbage accepted")
	}
	for _, tc := range []struct {
		ft   int64
		want time.Time
	}{
		{116444736000000000, time.Unix(0, 0).UTC()},
		{1, time.Date(1601, 1, 1, 0, 0, 0, 100, time.UTC)},
		{133496640000000000, time.Date(2024, 1, 14, 0, 0, 0, 0, time.UTC)},
		{116444736000000001, time.Unix(0, 100).UTC()},
		{116444735999999999, time.Unix(-1, 999999900).UTC()},
	} {
		got := FileTimeToTime(tc.ft)
		if !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("FileTimeToTime(%d) = %v, want %v", tc.ft, got, tc.want)
		}
		if back := TimeToFileTime(got); back != tc.ft {
			t.Errorf("round trip %d -> %d", tc.ft, back)
		}
	}
}

func TestDaysLeftAndWarning(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal("Europe/Paris time zone (Debian package tzdata):", err)
	}
	utc := time.UTC
	d := func(loc *time.Location, y int, m time.Month, dd, h, min int) time.Time {
		return time.Date(y, m, dd, h, min, 0, 0, loc)
	}
	tests := []struct {
		name    string
		expires time.Time
		now     time.Time
		loc     *time.Location
		days    int
	}{
		{"later today", d(utc, 2026, 3, 10, 18, 0), d(utc, 2026, 3, 10, 9, 0), utc, 0},
		{"tomorrow morning from late evening", d(utc, 2026, 3, 11, 8, 0), d(utc, 2026, 3, 10, 23, 0), utc, 1},
		{"exactly 7 days", d(utc, 2026, 3, 17, 9, 0), d(utc, 2026, 3, 10, 9, 0), utc, 7},
		{"expired yesterday", d(utc, 2026, 3, 9, 9, 0), d(utc, 2026, 3, 10, 9, 0), utc, -1},
		{"zone moves the date: 23:30 UTC is tomorrow in Paris", d(utc, 2026, 3, 10, 23, 30), d(utc, 2026, 3, 10, 9, 0), paris, 1},
		{"across DST start", d(paris, 2026, 3, 30, 0, 30), d(paris, 2026, 3, 28, 23, 30), paris, 2},
		{"across DST end", d(paris, 2026, 10, 26, 0, 30), d(paris, 2026, 10, 24, 23, 30), paris, 2},
		{"nil location is UTC", d(utc, 2026, 3, 11, 0, 0), d(utc, 2026, 3, 10, 23, 59), nil, 1},
		{"across a year", d(utc, 2027, 1, 1, 0, 0), d(utc, 2026, 12, 31, 23, 59), utc, 1},
		{"far future does not saturate", d(utc, 9999, 1, 1, 0, 0), d(utc, 2026, 1, 1, 0, 0), utc, 2912078},
	}
	for _, tc := range tests {
		if got := DaysLeft(tc.expires, tc.now, tc.loc); got != tc.days {
			t.Errorf("%s: DaysLeft = %d, want %d", tc.name, got, tc.days)
		}
	}

	now := d(paris, 2026, 3, 10, 9, 0)
	wtests := []struct {
		name          string
		expires       time.Time
		warnDays      int
		days          int
		warn, expired bool
	}{
		{"never / unknown", time.Time{}, 7, 0, false, false},
		{"outside window", now.AddDate(0, 0, 8), 7, 8, false, false},
		{"edge of window", now.AddDate(0, 0, 7), 7, 7, true, false},
		{"today", now.Add(time.Hour), 7, 0, true, false},
		{"at expiry instant: expired", now, 7, 0, false, true},
		{"past", now.AddDate(0, 0, -3), 7, -3, false, true},
		{"no warning window", now.AddDate(0, 0, 1), 0, 1, false, false},
	}
	for _, tc := range wtests {
		days, warn, expired := Warning(tc.expires, now, tc.warnDays)
		if days != tc.days || warn != tc.warn || expired != tc.expired {
			t.Errorf("%s: Warning = %d %v %v, want %d %v %v", tc.name, days, warn, expired, tc.days, tc.warn, tc.expired)
		}
	}
}
