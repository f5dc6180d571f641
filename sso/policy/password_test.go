package policy

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/sync/directory"
)

func violationCodes(vs []Violation) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Code)
	}
	return out
}

func TestCheckPassword(t *testing.T) {
	// A fake verifier: a "hash" is "h:" + password.
	verify := func(hash, pw string) bool { return hash == "h:"+pw }
	history := []string{"h:current1!", "h:older22!", "", "h:oldest33!"}
	tests := []struct {
		name  string
		p     PasswordPolicy
		pw    string
		codes []string
	}{
		{"default min length 9: 8 chars", PasswordPolicy{}, "abcdefgh", []string{ViolationTooShort}},
		{"default min length 9: 9 chars", PasswordPolicy{}, "abcdefghi", nil},
		{"negative min length means default", PasswordPolicy{MinLength: -1}, "abcdefgh", []string{ViolationTooShort}},
		{"length counts runes not bytes", PasswordPolicy{MinLength: 4}, "ééé", []string{ViolationTooShort}},
		{"length counts runes: enough", PasswordPolicy{MinLength: 3}, "ééé", nil},
		{"empty", PasswordPolicy{}, "", []string{ViolationTooShort}},
		{"letters", PasswordPolicy{MinLength: 1, MinLetters: 2}, "a1234567!", []string{ViolationLetters}},
		{"unicode letters count", PasswordPolicy{MinLength: 1, MinLetters: 2}, "éß", nil},
		{"digits", PasswordPolicy{MinLength: 1, MinDigits: 2}, "abcdefgh1", []string{ViolationDigits}},
		{"unicode digits count", PasswordPolicy{MinLength: 1, MinDigits: 1}, "abc٣", nil},
		{"other", PasswordPolicy{MinLength: 1, MinOther: 1}, "abcdefgh1", []string{ViolationOther}},
		{"space is other", PasswordPolicy{MinLength: 1, MinOther: 1}, "ab cd", nil},
		{"every rule at once", PasswordPolicy{MinLength: 12, MinLetters: 3, MinDigits: 2, MinOther: 1}, "ab1", []string{ViolationTooShort, ViolationLetters, ViolationDigits, ViolationOther}},
		{"all satisfied", PasswordPolicy{MinLength: 10, MinLetters: 3, MinDigits: 2, MinOther: 1}, "abc12!xyzq", nil},
		{"history: current password", PasswordPolicy{MinLength: 1, History: 1}, "current1!", []string{ViolationReused}},
		{"history: older within N", PasswordPolicy{MinLength: 1, History: 2}, "older22!", []string{ViolationReused}},
		{"history: older beyond N", PasswordPolicy{MinLength: 1, History: 2}, "oldest33!", nil},
		{"history: N larger than history, empty hashes skipped", PasswordPolicy{MinLength: 1, History: 10}, "oldest33!", []string{ViolationReused}},
		{"history disabled", PasswordPolicy{MinLength: 1}, "current1!", nil},
		{"username itself", PasswordPolicy{MinLength: 1}, "JDoe", []string{ViolationUsername}},
		{"username within is fine", PasswordPolicy{MinLength: 1}, "jdoe-but-longer", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := CheckPassword(tc.p, "jdoe", tc.pw, history, verify)
			if !reflect.DeepEqual(violationCodes(got), tc.codes) {
				t.Errorf("got %v, want %v", got, tc.codes)
			}
			for _, v := range got {
				if v.Message == "" || v.String() != v.Message {
					t.Errorf("bad message %+v", v)
				}
			}
		})
	}
	// No verifier with history configured must not panic.
	if got := CheckPassword(PasswordPolicy{History: 3}, "u", "abcdefghij", history, nil); got != nil {
		t.Errorf("nil verifier: %v", got)
	}
}

func TestCheckPasswordMessages(t *testing.T) {
	got := CheckPassword(PasswordPolicy{MinLength: 10, MinLetters: 1, MinDigits: 2, MinOther: 1, History: 3}, "u", "", []string{"h:"}, func(h, pw string) bool { return h == "h:"+pw })
	want := []string{
		"The password must be at least 10 characters long (it has 0).",
		"The password must contain at least 1 letter.",
		"The password must contain at least 2 digits.",
		"The password must contain at least 1 character other than letters and digits.",
		"The password must differ from your last 3 passwords.",
	}
	var msgs []string
	for _, v := range got {
		msgs = append(msgs, v.Message)
	}
	if !reflect.DeepEqual(msgs, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(msgs, "\n"), strings.Join(want, "\n"))
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		p    PasswordPolicy
		want []string
	}{
		{PasswordPolicy{}, []string{"At least 9 characters.", "Not your username."}},
		{PasswordPolicy{MinLength: 12, MinLetters: 1, MinDigits: 2, MinOther: 3, History: 1, ValidityDays: 1}, []string{
			"At least 12 characters.", "At least 1 letter.", "At least 2 digits.",
			"At least 3 characters other than letters and digits.",
			"Not the same as your current password.", "Not your username.", "It must be changed every 1 day.",
		}},
		{PasswordPolicy{History: 5, ValidityDays: 90}, []string{"At least 9 characters.", "Not one of your last 5 passwords.", "Not your username.", "It must be changed every 90 days."}},
	}
	for _, tc := range tests {
		if got := Describe(tc.p); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Describe(%+v) = %q, want %q", tc.p, got, tc.want)
		}
	}
}

func TestCheckUsername(t *testing.T) {
	tests := []struct {
		p     UsernamePolicy
		name  string
		codes []string
	}{
		{UsernamePolicy{MinLength: 3}, "jd", []string{ViolationTooShort}},
		{UsernamePolicy{MinLength: 3}, "jdo", nil},
		{UsernamePolicy{MinLength: 3}, "", []string{ViolationEmpty}},
		{UsernamePolicy{}, "x", nil},
		{UsernamePolicy{MinLetters: 2}, "j1234", []string{ViolationLetters}},
		{UsernamePolicy{MinDigits: 1}, "jdoe", []string{ViolationDigits}},
		{UsernamePolicy{MinDigits: 1}, "jdoe7", nil},
		{UsernamePolicy{}, "j doe", []string{ViolationWhitespace}},
		{UsernamePolicy{}, "jdoe\n", []string{ViolationWhitespace}},
		{UsernamePolicy{}, "jd\x00oe", []string{ViolationWhitespace}},
		{UsernamePolicy{}, "jd\xffoe", []string{ViolationWhitespace}},
		{UsernamePolicy{MinLength: 9, MinDigits: 1}, "a b", []string{ViolationTooShort, ViolationDigits, ViolationWhitespace}},
		{UsernamePolicy{}, "jdoe@corp.example.com", nil},
		{UsernamePolicy{MinOther: 1}, "jdoe", []string{ViolationOther}},
		{UsernamePolicy{MinOther: 1}, "j.doe", nil},
		{UsernamePolicy{MinOther: 2}, "j.doe", []string{ViolationOther}},
	}
	for _, tc := range tests {
		got := CheckUsername(tc.p, tc.name)
		if !reflect.DeepEqual(violationCodes(got), tc.codes) {
			t.Errorf("CheckUsername(%+v, %q) = %v, want %v", tc.p, tc.name, got, tc.codes)
		}
	}
}

func TestLocalPasswordExpiry(t *testing.T) {
	changed := time.Date(2026, 1, 10, 9, 30, 0, 0, time.UTC)
	p := PasswordPolicy{ValidityDays: 90, NeverExpireUsers: []string{" svc-app ", "Admin"}}
	tests := []struct {
		name    string
		p       PasswordPolicy
		user    string
		changed time.Time
		must    bool
		want    directory.PasswordInfo
	}{
		{"validity", p, "jdoe", changed, false, directory.PasswordInfo{ChangedAt: changed, ExpiresAt: changed.AddDate(0, 0, 90)}},
		{"exception, case-insensitive and trimmed", p, "ADMIN", changed, false, directory.PasswordInfo{ChangedAt: changed, NeverExpires: true}},
		{"exception svc", p, "svc-app", changed, true, directory.PasswordInfo{ChangedAt: changed, NeverExpires: true, MustChange: true}},
		{"no validity", PasswordPolicy{}, "jdoe", changed, false, directory.PasswordInfo{ChangedAt: changed, NeverExpires: true}},
		{"unknown change time", p, "jdoe", time.Time{}, true, directory.PasswordInfo{MustChange: true}},
	}
	for _, tc := range tests {
		if got := LocalPasswordExpiry(tc.p, tc.user, tc.changed, tc.must); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
