package adguid

import (
	"bytes"
	"encoding/base64"
	"testing"
)

func TestText(t *testing.T) {
	tests := []struct {
		name string
		wire []byte
		want string
	}{
		{"first three fields little-endian",
			[]byte{0x67, 0x45, 0x23, 0x01, 0xab, 0x89, 0xef, 0xcd, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef},
			"01234567-89ab-cdef-0123-456789abcdef"},
		{"Entra onPremisesImmutableId ABEiM0RVZneImaq7zN3u/w==",
			[]byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff},
			"33221100-5544-7766-8899-aabbccddeeff"},
		{"zero", make([]byte, 16), "00000000-0000-0000-0000-000000000000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Text(tc.wire)
			if err != nil || got != tc.want {
				t.Fatalf("Text = %q, %v; want %q", got, err, tc.want)
			}
			for _, in := range []string{tc.want, "{" + tc.want + "}", upper(tc.want)} {
				back, ok := Bytes(in)
				if !ok || !bytes.Equal(back, tc.wire) {
					t.Errorf("Bytes(%q) = %x, %v; want %x", in, back, ok, tc.wire)
				}
			}
		})
	}
	for _, n := range []int{0, 15, 17} {
		if _, err := Text(make([]byte, n)); err == nil {
			t.Errorf("Text of %d bytes accepted", n)
		}
	}
	for _, bad := range []string{"", "staff", "01234567-89ab-cdef-0123-456789abcdeg", "0123456789abcdef0123456789abcdef", "01234567-89ab-cdef-0123_456789abcdef"} {
		if b, ok := Bytes(bad); ok {
			t.Errorf("Bytes(%q) = %x, want not GUID text", bad, b)
		}
	}
}

func upper(s string) string { return string(bytes.ToUpper([]byte(s))) }

func TestFromImmutableID(t *testing.T) {
	const guid = "01234567-89ab-cdef-0123-456789abcdef"
	b, ok := Bytes(guid)
	if !ok {
		t.Fatal("Bytes")
	}
	for in, want := range map[string]string{
		base64.StdEncoding.EncodeToString(b):       guid,
		" " + base64.StdEncoding.EncodeToString(b): guid, // trimmed
		"01234567-89AB-CDEF-0123-456789ABCDEF":     guid, // GUID text already
		base64.StdEncoding.EncodeToString(b[:15]):  "",   // 15 bytes
		"not base64!": "",
		"":            "",
	} {
		if got := FromImmutableID(in); got != want {
			t.Errorf("FromImmutableID(%q) = %q, want %q", in, got, want)
		}
	}
}
