// Package adguid converts an Active Directory objectGUID between its wire
// form (16 bytes) and canonical GUID text. The first three fields of the
// wire form are little-endian, so the bytes are not simply hex-encoded in
// order: that mistake makes anchors mismatch between tools (the LDAP
// reader, which gets the bytes, and Entra ID's onPremisesImmutableId,
// which is their base64). It is pure and imports no LDAP library, so
// sign-in can use it too.
package adguid

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
)

// Text renders objectGUID bytes as lower-case canonical GUID text,
// "01234567-89ab-cdef-0123-456789abcdef".
func Text(b []byte) (string, error) {
	if len(b) != 16 {
		return "", fmt.Errorf("objectGUID: %d bytes, want 16", len(b))
	}
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x",
		binary.LittleEndian.Uint32(b[0:4]),
		binary.LittleEndian.Uint16(b[4:6]),
		binary.LittleEndian.Uint16(b[6:8]),
		b[8:10], b[10:16]), nil
}

// Bytes is the inverse of Text: GUID text (either case, braces allowed)
// to wire bytes. ok is false when s is not GUID text.
func Bytes(s string) (b []byte, ok bool) {
	s = strings.Trim(s, "{}")
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return nil, false
	}
	raw, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(raw) != 16 {
		return nil, false
	}
	out := make([]byte, 16)
	binary.LittleEndian.PutUint32(out[0:4], binary.BigEndian.Uint32(raw[0:4]))
	binary.LittleEndian.PutUint16(out[4:6], binary.BigEndian.Uint16(raw[4:6]))
	binary.LittleEndian.PutUint16(out[6:8], binary.BigEndian.Uint16(raw[6:8]))
	copy(out[8:], raw[8:])
	return out, true
}

// FromImmutableID turns Entra ID's onPremisesImmutableId — the base64 of
// AD's objectGUID bytes — into the canonical GUID text the sync stores as
// the anchor. A value that already is GUID text is returned lower-cased;
// anything else gives "".
func FromImmutableID(v string) string {
	v = strings.TrimSpace(v)
	if len(v) == 36 && strings.Count(v, "-") == 4 {
		return strings.ToLower(v)
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return ""
	}
	g, err := Text(b)
	if err != nil {
		return ""
	}
	return g
}
