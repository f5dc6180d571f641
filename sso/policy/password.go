package policy

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dirbridge/dirbridge/sync/directory"
)

// DefaultMinLength is the minimum password length when none is configured:
// the seed products' "longer than 8 characters".
const DefaultMinLength = 9

// PasswordPolicy is the password policy for local users. Field names follow
// the configuration (policy.password.*).
type PasswordPolicy struct {
	// MinLength in characters (runes); zero or less means DefaultMinLength.
	MinLength  int
	MinLetters int
	MinDigits  int
	// MinOther counts characters that are neither letters nor digits.
	MinOther int
	// History forbids reusing the last History passwords; 0 disables it.
	History int
	// ValidityDays after which a password must be changed; 0 never.
	ValidityDays int
	// NeverExpireUsers are usernames (case-insensitive) exempt from
	// ValidityDays.
	NeverExpireUsers []string
}

func (p PasswordPolicy) minLength() int {
	if p.MinLength <= 0 {
		return DefaultMinLength
	}
	return p.MinLength
}

// Violation codes.
const (
	ViolationTooShort   = "too_short"
	ViolationLetters    = "too_few_letters"
	ViolationDigits     = "too_few_digits"
	ViolationOther      = "too_few_other"
	ViolationReused     = "reused"
	ViolationUsername   = "is_username"
	ViolationWhitespace = "invalid_characters"
	ViolationEmpty      = "empty"
)

// Violation is one broken rule, with a message fit to show the user.
type Violation struct {
	Code    string
	Message string
}

func (v Violation) String() string { return v.Message }

// Verifier tells whether pw matches a stored hash (argon2id in practice).
// It is passed in so this package needs no crypto.
type Verifier func(hash, pw string) bool

// CheckPassword checks a new password of username against p and returns
// every rule it breaks (nil when it is acceptable), so the change form can
// show them all at once.
//
// Besides p's rules, a password may never be the username itself (compared
// case-insensitively): it is the first guess of every attacker.
//
// history holds the user's password hashes newest first, the current one
// included; the first p.History entries are checked with verify. verify
// may be nil when p.History is 0.
func CheckPassword(p PasswordPolicy, username, pw string, history []string, verify Verifier) []Violation {
	var out []Violation
	letters, digits, other := classes(pw)
	if n, want := utf8.RuneCountInString(pw), p.minLength(); n < want {
		out = append(out, Violation{ViolationTooShort, fmt.Sprintf("The password must be at least %d characters long (it has %d).", want, n)})
	}
	if letters < p.MinLetters {
		out = append(out, Violation{ViolationLetters, fmt.Sprintf("The password must contain at least %s.", plural(p.MinLetters, "letter"))})
	}
	if digits < p.MinDigits {
		out = append(out, Violation{ViolationDigits, fmt.Sprintf("The password must contain at least %s.", plural(p.MinDigits, "digit"))})
	}
	if other < p.MinOther {
		out = append(out, Violation{ViolationOther, fmt.Sprintf("The password must contain at least %s other than letters and digits.", plural(p.MinOther, "character"))})
	}
	if username != "" && strings.EqualFold(strings.TrimSpace(pw), strings.TrimSpace(username)) {
		out = append(out, Violation{ViolationUsername, "The password must not be your username."})
	}
	if p.History > 0 && verify != nil {
		n := min(p.History, len(history))
		for _, h := range history[:n] {
			if h != "" && verify(h, pw) {
				out = append(out, Violation{ViolationReused, fmt.Sprintf("The password must differ from your last %s.", plural(p.History, "password"))})
				break
			}
		}
	}
	return out
}

// Describe lists the rules of p as sentences for the change-password form.
func Describe(p PasswordPolicy) []string {
	out := []string{fmt.Sprintf("At least %d characters.", p.minLength())}
	if p.MinLetters > 0 {
		out = append(out, fmt.Sprintf("At least %s.", plural(p.MinLetters, "letter")))
	}
	if p.MinDigits > 0 {
		out = append(out, fmt.Sprintf("At least %s.", plural(p.MinDigits, "digit")))
	}
	if p.MinOther > 0 {
		out = append(out, fmt.Sprintf("At least %s other than letters and digits.", plural(p.MinOther, "character")))
	}
	if p.History == 1 {
		out = append(out, "Not the same as your current password.")
	} else if p.History > 1 {
		out = append(out, fmt.Sprintf("Not one of your last %d passwords.", p.History))
	}
	out = append(out, "Not your username.")
	if p.ValidityDays > 0 {
		out = append(out, fmt.Sprintf("It must be changed every %s.", plural(p.ValidityDays, "day")))
	}
	return out
}

// LocalPasswordExpiry computes when a local user's password expires under
// p: never when p.ValidityDays is 0 or the user is one of the exceptions;
// unknown (zero ExpiresAt, not NeverExpires) when changedAt is zero.
// mustChange (first sign-in, administrator reset) is carried through.
// Validity is counted in whole days of 24 hours from the change.
func LocalPasswordExpiry(p PasswordPolicy, username string, changedAt time.Time, mustChange bool) directory.PasswordInfo {
	e := directory.PasswordInfo{ChangedAt: changedAt, MustChange: mustChange}
	if p.ValidityDays <= 0 || NeverExpires(p, username) {
		e.NeverExpires = true
		return e
	}
	if !changedAt.IsZero() {
		e.ExpiresAt = changedAt.Add(time.Duration(p.ValidityDays) * 24 * time.Hour)
	}
	return e
}

// NeverExpires reports whether username is exempt from password validity.
func NeverExpires(p PasswordPolicy, username string) bool {
	for _, u := range p.NeverExpireUsers {
		if strings.EqualFold(strings.TrimSpace(u), username) {
			return true
		}
	}
	return false
}

// UsernamePolicy is the username policy for local users.
type UsernamePolicy struct {
	MinLength  int
	MinLetters int
	MinDigits  int
	MinOther   int
}

// CheckUsername checks a new local username against p. Beyond p's minimums
// a username may never contain white space or control characters: it
// travels in headers (forward auth) and log lines, where those break
// parsing or hide the real name.
func CheckUsername(p UsernamePolicy, name string) []Violation {
	var out []Violation
	if name == "" {
		return []Violation{{ViolationEmpty, "The username must not be empty."}}
	}
	letters, digits, other := classes(name)
	if n := utf8.RuneCountInString(name); n < p.MinLength {
		out = append(out, Violation{ViolationTooShort, fmt.Sprintf("The username must be at least %d characters long (it has %d).", p.MinLength, n)})
	}
	if letters < p.MinLetters {
		out = append(out, Violation{ViolationLetters, fmt.Sprintf("The username must contain at least %s.", plural(p.MinLetters, "letter"))})
	}
	if digits < p.MinDigits {
		out = append(out, Violation{ViolationDigits, fmt.Sprintf("The username must contain at least %s.", plural(p.MinDigits, "digit"))})
	}
	if other < p.MinOther {
		out = append(out, Violation{ViolationOther, fmt.Sprintf("The username must contain at least %s that is neither a letter nor a digit.", plural(p.MinOther, "character"))})
	}
	if !utf8.ValidString(name) || strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		out = append(out, Violation{ViolationWhitespace, "The username must not contain spaces or control characters."})
	}
	return out
}

// classes counts letters, digits and everything else, by Unicode class, so
// "é" is a letter and "٣" a digit.
func classes(s string) (letters, digits, other int) {
	for _, r := range s {
		switch {
		case unicode.IsLetter(r):
			letters++
		case unicode.IsDigit(r):
			digits++
		default:
			other++
		}
	}
	return
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// Messages joins the violations' messages into one sentence list.
func Messages(vs []Violation) string {
	msgs := make([]string, len(vs))
	for i, v := range vs {
		msgs[i] = v.Message
	}
	return strings.Join(msgs, " ")
}
