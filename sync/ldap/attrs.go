package ldap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirbridge/dirbridge/internal/adguid"
	"github.com/dirbridge/dirbridge/internal/ldapdn"
)

// AD userAccountControl bits the reader uses; those that decide password
// expiry are internal/pwdexpiry's.
const (
	uacAccountDisable = 0x0002
	uacLockout        = 0x0010
)

// looksLikeUUID reports whether s is GUID/UUID text (entryUUID, objectGUID).
func looksLikeUUID(s string) bool {
	_, ok := adguid.Bytes(s)
	return ok
}

// escapeBytes hex-escapes every byte, for binary assertions in filters.
func escapeBytes(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		fmt.Fprintf(&sb, `\%02x`, c)
	}
	return sb.String()
}

// sidText renders a binary objectSid as S-1-5-21-...
func sidText(b []byte) (string, error) {
	if len(b) < 8 || int(b[1])*4+8 != len(b) {
		return "", fmt.Errorf("objectSid: malformed (%d bytes)", len(b))
	}
	var auth uint64
	for _, c := range b[2:8] {
		auth = auth<<8 | uint64(c)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "S-%d-%d", b[0], auth)
	for i := 0; i < int(b[1]); i++ {
		fmt.Fprintf(&sb, "-%d", binary.LittleEndian.Uint32(b[8+4*i:]))
	}
	return sb.String(), nil
}

// generalizedTime parses LDAP GeneralizedTime as servers send it:
// 20261123122700Z, 20261123122700.0Z, or with a +hhmm offset.
func generalizedTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, ok := plainGeneralizedTime(s); ok {
		return t, nil
	}
	for _, layout := range []string{"20060102150405Z0700", "20060102150405.0Z0700", "20060102150405.000Z0700", "20060102150405.000000Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("generalized time %q: unrecognised", s)
}

// plainGeneralizedTime parses the form servers send most, YYYYMMDDHHMMSSZ,
// without time.Parse's layout matching (a read parses one or two per user).
func plainGeneralizedTime(s string) (time.Time, bool) {
	if len(s) != 15 || s[14] != 'Z' {
		return time.Time{}, false
	}
	var n [7]int
	widths := [7]int{4, 2, 2, 2, 2, 2}
	pos := 0
	for i, w := range widths[:6] {
		for _, c := range []byte(s[pos : pos+w]) {
			if c < '0' || c > '9' {
				return time.Time{}, false
			}
			n[i] = n[i]*10 + int(c-'0')
		}
		pos += w
	}
	if n[1] < 1 || n[1] > 12 || n[2] < 1 || n[2] > 31 || n[3] > 23 || n[4] > 59 || n[5] > 60 {
		return time.Time{}, false
	}
	t := time.Date(n[0], time.Month(n[1]), n[2], n[3], n[4], n[5], 0, time.UTC)
	if t.Day() != n[2] { // 31 February and the like: let time.Parse refuse it
		return time.Time{}, false
	}
	return t, true
}

// formatGeneralizedTime is the filter form of t.
func formatGeneralizedTime(t time.Time) string { return t.UTC().Format("20060102150405Z") }

// dnKey is a comparison key for a DN (ldapdn.Key: go-ldap's EqualFold),
// so "cn=Sales\2C EMEA" (slapd) and "CN=Sales\, EMEA" (another tool) give
// one key. A plain DN is keyed without a parse: the reader keys hundreds of
// thousands of member DNs.
func dnKey(dn string) (string, error) { return ldapdn.Key(dn) }

// mustDNKey is dnKey for DNs that came from the server: a DN it cannot
// parse is kept as its lowered text rather than failing the read.
func mustDNKey(dn string) string {
	k, err := dnKey(dn)
	if err != nil {
		return strings.ToLower(dn)
	}
	return k
}

// errSubcode extracts the AD "data NNN" sub-code from a bind error's
// diagnostic message ("80090308: LdapErr: ..., data 52e, v4563").
func errSubcode(err error) string {
	var le *goldap.Error
	if !errors.As(err, &le) || le.Err == nil {
		return ""
	}
	msg := le.Err.Error()
	i := strings.Index(msg, "data ")
	if i < 0 {
		return ""
	}
	code := msg[i+5:]
	if j := strings.IndexAny(code, ", "); j >= 0 {
		code = code[:j]
	}
	return strings.ToLower(code)
}

// encodeUnicodePwd is AD's unicodePwd value: the password in double quotes,
// UTF-16LE.
func encodeUnicodePwd(pw string) string {
	quoted := "\"" + pw + "\""
	var b []byte
	for _, r := range quoted {
		if r >= 0x10000 {
			r -= 0x10000
			hi, lo := 0xD800+(r>>10), 0xDC00+(r&0x3FF)
			b = append(b, byte(hi), byte(hi>>8), byte(lo), byte(lo>>8))
			continue
		}
		b = append(b, byte(r), byte(r>>8))
	}
	return string(b)
}
