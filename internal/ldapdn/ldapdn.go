// Package ldapdn checks distinguished names cheaply. A configuration can
// list thousands of group DNs, and go-ldap's parser takes a couple of
// microseconds and a dozen allocations for each: a plain DN is checked
// here by one scan, and anything else is left to the parser.
package ldapdn

import (
	"strings"

	goldap "github.com/go-ldap/ldap/v3"
)

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
