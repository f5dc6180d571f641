// Package ldapdn is dirbridge's one home for checking and comparing
// distinguished names. Two DNs are the same when go-ldap's DN.EqualFold
// says so (RFC 4517 distinguishedNameMatch, case folded): escapes decoded
// ("\," and "\2C" alike), spaces around separators ignored, types and
// values compared without regard to case, the attributes of a
// multi-valued RDN in any order. slapd hands DNs back hex-escaped
// ("cn=Sales\2C EMEA"), so DNs are never compared as strings.
//
// A sync keys hundreds of thousands of member DNs and a configuration can
// list thousands of group DNs, while go-ldap's parser takes a couple of
// microseconds and dozens of allocations for each: a plain DN — the form
// nearly every DN has — is checked and keyed here by a scan, and anything
// else is left to the parser.
package ldapdn

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	goldap "github.com/go-ldap/ldap/v3"
)

// Key returns a comparison key for dn: Key(a) == Key(b) exactly when
// go-ldap's ParseDN(a).EqualFold(ParseDN(b)). The key is itself a DN
// naming the same entry (servers compare DNs without case; the reader reads
// entries by their keys). The error is go-ldap's reason the text is no DN.
// The empty DN (the root) has the empty key.
func Key(dn string) (string, error) {
	if k, ok := plainKey(dn); ok {
		return k, nil
	}
	return parsedKey(dn)
}

// plainKey is Key of a plain DN (Plain): what parsedKey would return,
// without the parse — no escapes to decode, nothing to re-escape, one
// attribute per RDN — so the DN folded (lower-cased, for ASCII). One scan
// checks the grammar; ok is false for any other DN.
func plainKey(s string) (key string, ok bool) {
	upper, nonASCII := false, false
	for i, n := 0, len(s); ; i++ {
		// An attribute type: a letter, then letters, digits, hyphens; or
		// a numeric OID.
		start := i
		if i >= n {
			return "", false
		}
		numeric := s[i] >= '0' && s[i] <= '9'
		for ; i < n && s[i] != '='; i++ {
			switch c := s[i]; {
			case c >= '0' && c <= '9':
			case c == '.' && numeric:
			case c == '-' && !numeric && i > start:
			case c >= 'a' && c <= 'z' && !numeric:
			case c >= 'A' && c <= 'Z' && !numeric:
				upper = true
			default:
				return "", false
			}
		}
		if i == start || i == n {
			return "", false
		}
		// Its value: nothing that needs an escape, no space at either end.
		i++
		vstart := i
		for ; i < n && s[i] != ','; i++ {
			switch c := s[i]; {
			case c >= 'A' && c <= 'Z':
				upper = true
			case c >= utf8.RuneSelf:
				nonASCII = true
			case special(c):
				return "", false
			}
		}
		if i == vstart || s[vstart] == ' ' || s[i-1] == ' ' {
			return "", false
		}
		if i == n {
			break
		}
	}
	switch {
	case nonASCII:
		return fold(s), true
	case upper:
		return strings.ToLower(s), true
	}
	return s, true
}

// parsedKey is Key through go-ldap's parser, for any DN.
func parsedKey(dn string) (string, error) {
	parsed, err := goldap.ParseDN(dn)
	if err != nil {
		return "", fmt.Errorf("parse DN %q: %w", dn, err)
	}
	var b strings.Builder
	b.Grow(len(dn))
	var avs []string
	for i, rdn := range parsed.RDNs {
		if i > 0 {
			b.WriteByte(',')
		}
		if len(rdn.Attributes) == 1 {
			writeAV(&b, rdn.Attributes[0])
			continue
		}
		// A multi-valued RDN's attributes in one order, whatever the
		// order they were written in.
		avs = avs[:0]
		for _, a := range rdn.Attributes {
			var ab strings.Builder
			writeAV(&ab, a)
			avs = append(avs, ab.String())
		}
		slices.Sort(avs)
		b.WriteString(strings.Join(avs, "+"))
	}
	return b.String(), nil
}

// writeAV writes type=value folded (fold), every character RFC 4514 treats
// specially hex-escaped the same way ("\2c"), '=' and '#' included: the
// key is a DN servers accept (the reader reads entries by their keys),
// and a plain DN's key is the DN lower-cased.
func writeAV(b *strings.Builder, a *goldap.AttributeTypeAndValue) {
	writeEscaped(b, fold(a.Type))
	b.WriteByte('=')
	writeEscaped(b, fold(a.Value))
}

func writeEscaped(b *strings.Builder, v string) {
	const hexDigits = "0123456789abcdef"
	for i := 0; i < len(v); i++ {
		c := v[i]
		if special(c) || (c == ' ' && (i == 0 || i == len(v)-1)) {
			b.WriteByte('\\')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
			continue
		}
		b.WriteByte(c)
	}
}

// special: a byte a plain value never holds, escaped in a key.
func special(c byte) bool {
	switch c {
	case '\\', '"', '+', ',', ';', '<', '>', '#', '=', 0x7f:
		return true
	}
	return c < 0x20
}

// EqualFold reports whether a and b are both DNs and name the same entry
// (Key). Text that is no DN equals nothing.
func EqualFold(a, b string) bool {
	ka, err := Key(a)
	if err != nil {
		return false
	}
	kb, err := Key(b)
	return err == nil && ka == kb
}

// fold maps s to one representative of its case-fold class, so that
// fold(x) == fold(y) exactly when strings.EqualFold(x, y) (the test go-ldap's
// EqualFold makes). Each rune becomes the smallest of its Unicode simple
// fold orbit, lower-cased when that is an ASCII capital: the Kelvin sign
// and 'K' both become 'k', as plain ASCII lower-casing would make 'K'.
func fold(s string) string {
	var b strings.Builder
	for i, r := range s {
		f := foldRune(r)
		// An invalid byte reads as U+FFFD, as strings.EqualFold reads it,
		// and is written so.
		same := f == r && (r != utf8.RuneError || strings.HasPrefix(s[i:], "\uFFFD"))
		if same && b.Cap() == 0 {
			continue // nothing changed so far: copy nothing yet
		}
		if b.Cap() == 0 {
			b.Grow(len(s) + 2)
			b.WriteString(s[:i])
		}
		b.WriteRune(f)
	}
	if b.Cap() == 0 {
		return s
	}
	return b.String()
}

func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	min := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < min {
			min = f
		}
	}
	if 'A' <= min && min <= 'Z' {
		return min + 'a' - 'A'
	}
	return min
}

// Plain reports whether s is a DN of single-valued RDNs type=value joined
// by commas, with no escapes, quotes, hex values or spaces around the
// separators: the form nearly every configured DN has. Every type must be
// an attribute type (IsAttrType). A plain DN is a valid one; false says
// only that the parser must decide.
func Plain(s string) bool {
	if s == "" {
		return false
	}
	for rest := s; ; {
		rdn, tail, more := strings.Cut(rest, ",")
		typ, val, ok := strings.Cut(rdn, "=")
		if !ok || !IsAttrType(typ) || !plainValue(val) {
			return false
		}
		if !more {
			return true
		}
		rest = tail
	}
}

// plainValue: not empty, no character RFC 4514 escapes or treats
// specially (nor '=', so an RDN has one), no control characters, and no
// space at either end.
func plainValue(v string) bool {
	if v == "" || v[0] == ' ' || v[len(v)-1] == ' ' {
		return false
	}
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c < 0x20 || c == 0x7f:
			return false
		case c == '\\' || c == '"' || c == '+' || c == ';' || c == '<' || c == '>' || c == '#' || c == '=':
			return false
		}
	}
	return true
}

// Check returns nil when s is a DN (RFC 4514), and go-ldap's reason when
// it is not.
func Check(s string) error {
	if Plain(s) {
		return nil
	}
	_, err := goldap.ParseDN(s)
	return err
}

// IsAttrType reports whether t is an attribute description (RFC 4512
// descr: a letter, then letters, digits, hyphens) or a numeric OID. It
// keeps group names like "a*)(cn=*" from being taken for DNs.
func IsAttrType(t string) bool {
	if t == "" {
		return false
	}
	if t[0] >= '0' && t[0] <= '9' {
		for _, c := range t {
			if (c < '0' || c > '9') && c != '.' {
				return false
			}
		}
		return true
	}
	for i, c := range t {
		letter := (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !letter && (i == 0 || ((c < '0' || c > '9') && c != '-')) {
			return false
		}
	}
	return true
}
