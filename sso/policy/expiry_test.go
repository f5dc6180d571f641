package policy

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/sync/directory"
)

func TestFileTime(t *testing.T) {
	tests := []struct {
		ft   int64
		want time.Time
	}{
		{116444736000000000, time.Unix(0, 0).UTC()},
		{0, time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC)},
		{133496640000000000, time.Date(2024, 1, 14, 0, 0, 0, 0, time.UTC)},
		{116444736000000001, time.Unix(0, 100).UTC()},
		{116444735999999999, time.Unix(-1, 999999900).UTC()},
	}
	for _, tc := range tests {
		got := FileTimeToTime(tc.ft)
		if !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("FileTimeToTime(%d) = %v, want %v", tc.ft, got, tc.want)
		}
		if tc.ft != 0 {
			if back := TimeToFileTime(got); back != tc.ft {
				t.Errorf("round trip %d -> %d", tc.ft, back)
			}
		}
	}
	if TimeToFileTime(time.Time{}) != 0 {
		t.Error("zero time")
	}
	// Sub-100ns precision is truncated.
	if TimeToFileTime(time.Unix(0, 150)) != 116444736000000001 {
		t.Error("truncation")
	}
	// Never overflows into a sane-looking date only far in the future.
	if FileTimeToTime(FileTimeNever).Year() < 30000 {
		t.Error("never sentinel should be far future when converted raw")
	}
	if v, err := ParseFileTime(" 133497696000000000 "); err != nil || v != 133497696000000000 {
		t.Errorf("ParseFileTime %d %v", v, err)
	}
	if v, err := ParseFileTime("9223372036854775807"); err != nil || v != FileTimeNever {
		t.Errorf("ParseFileTime never %d %v", v, err)
	}
	if _, err := ParseFileTime("12x"); err == nil {
		t.Error("want error")
	}
}

func TestADPasswordExpiry(t *testing.T) {
	set := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
	setFT := TimeToFileTime(set)
	day := int64(24 * time.Hour / 100) // one day in 100-ns ticks
	comp := TimeToFileTime(set.AddDate(0, 0, 30))
	tests := []struct {
		name string
		in   ADPassword
		want PasswordExpiry
	}{
		{"pwdLastSet + maxPwdAge (negative, as stored)",
			ADPassword{PwdLastSet: setFT, HasPwdLastSet: true, MaxPwdAge: -42 * day},
			PasswordExpiry{ChangedAt: set, ExpiresAt: set.AddDate(0, 0, 42)}},
		{"positive maxPwdAge accepted",
			ADPassword{PwdLastSet: setFT, HasPwdLastSet: true, MaxPwdAge: 42 * day},
			PasswordExpiry{ChangedAt: set, ExpiresAt: set.AddDate(0, 0, 42)}},
		{"maxPwdAge 0: never",
			ADPassword{PwdLastSet: setFT, HasPwdLastSet: true},
			PasswordExpiry{ChangedAt: set, NeverExpires: true}},
		{"maxPwdAge MinInt64: never",
			ADPassword{PwdLastSet: setFT, HasPwdLastSet: true, MaxPwdAge: math.MinInt64},
			PasswordExpiry{ChangedAt: set, NeverExpires: true}},
		{"computed wins over pwdLastSet (fine-grained policy)",
			ADPassword{ExpiryComputed: comp, HasExpiryComputed: true, PwdLastSet: setFT, HasPwdLastSet: true, MaxPwdAge: -42 * day},
			PasswordExpiry{ChangedAt: set, ExpiresAt: set.AddDate(0, 0, 30)}},
		{"computed 0: must change",
			ADPassword{ExpiryComputed: 0, HasExpiryComputed: true, PwdLastSet: 0, HasPwdLastSet: true},
			PasswordExpiry{MustChange: true}},
		{"computed never",
			ADPassword{ExpiryComputed: FileTimeNever, HasExpiryComputed: true, PwdLastSet: setFT, HasPwdLastSet: true, MaxPwdAge: -42 * day},
			PasswordExpiry{ChangedAt: set, NeverExpires: true}},
		{"DONT_EXPIRE_PASSWORD: never, whatever else says",
			ADPassword{ExpiryComputed: comp, HasExpiryComputed: true, PwdLastSet: setFT, HasPwdLastSet: true, MaxPwdAge: -42 * day, UserAccountControl: 0x200 | UACDontExpirePassword},
			PasswordExpiry{ChangedAt: set, NeverExpires: true}},
		{"SMARTCARD_REQUIRED: never",
			ADPassword{PwdLastSet: setFT, HasPwdLastSet: true, MaxPwdAge: -42 * day, UserAccountControl: UACSmartcardRequired},
			PasswordExpiry{ChangedAt: set, NeverExpires: true}},
		{"pwdLastSet 0: must change",
			ADPassword{PwdLastSet: 0, HasPwdLastSet: true, MaxPwdAge: -42 * day},
			PasswordExpiry{MustChange: true}},
		{"nothing known",
			ADPassword{MaxPwdAge: -42 * day},
			PasswordExpiry{}},
		{"overflow: never",
			ADPassword{PwdLastSet: FileTimeNever - 10, HasPwdLastSet: true, MaxPwdAge: -42 * day},
			PasswordExpiry{ChangedAt: FileTimeToTime(FileTimeNever - 10), NeverExpires: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ADPasswordExpiry(tc.in)
			if !got.ChangedAt.Equal(tc.want.ChangedAt) || !got.ExpiresAt.Equal(tc.want.ExpiresAt) ||
				got.NeverExpires != tc.want.NeverExpires || got.MustChange != tc.want.MustChange {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestADAccountExpiry(t *testing.T) {
	when := time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC)
	for ft, want := range map[int64]time.Time{0: {}, FileTimeNever: {}, -5: {}, TimeToFileTime(when): when} {
		if got := ADAccountExpiry(ft); !got.Equal(want) {
			t.Errorf("ADAccountExpiry(%d) = %v, want %v", ft, got, want)
		}
	}
}

func TestLDAPPasswordExpiry(t *testing.T) {
	changed := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		changed time.Time
		maxAge  int64
		reset   bool
		want    PasswordExpiry
	}{
		{"max age", changed, 86400 * 10, false, PasswordExpiry{ChangedAt: changed, ExpiresAt: changed.AddDate(0, 0, 10)}},
		{"no max age", changed, 0, false, PasswordExpiry{ChangedAt: changed, NeverExpires: true}},
		{"reset", changed, 86400, true, PasswordExpiry{ChangedAt: changed, ExpiresAt: changed.AddDate(0, 0, 1), MustChange: true}},
		{"unknown change time", time.Time{}, 86400, false, PasswordExpiry{}},
	}
	for _, tc := range tests {
		if got := LDAPPasswordExpiry(tc.changed, tc.maxAge, tc.reset); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestParseGeneralizedTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
	}{
		{"20240131235959Z", time.Date(2024, 1, 31, 23, 59, 59, 0, time.UTC)},
		{"20240131235959.123Z", time.Date(2024, 1, 31, 23, 59, 59, 123e6, time.UTC)},
		{"20240131235959+0100", time.Date(2024, 1, 31, 22, 59, 59, 0, time.UTC)},
		{"202401312359Z", time.Date(2024, 1, 31, 23, 59, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		got, err := ParseGeneralizedTime(tc.in)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("ParseGeneralizedTime(%q) = %v, %v", tc.in, got, err)
		}
	}
	for _, bad := range []string{"", "2024-01-31", "20241331000000Z"} {
		if _, err := ParseGeneralizedTime(bad); err == nil {
			t.Errorf("ParseGeneralizedTime(%q): want error", bad)
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

// The doc promises that readers can convert with directory.PasswordInfo(e);
// this fails to compile if the two types drift apart.
var _ = directory.PasswordInfo(PasswordExpiry{})
