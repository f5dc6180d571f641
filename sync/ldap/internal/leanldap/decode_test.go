package leanldap

import (
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	goldap "github.com/go-ldap/ldap/v3"
)

// TestDecoding pins the decoding against what
// asn1-ber encodes: an entry with binary and repeated values, the paging
// control of a search's end, and truncated input refused, not read past.
func TestDecoding(t *testing.T) {
	entry := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 4, nil, "entry")
	entry.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "uid=a,dc=x", "dn"))
	attrs := ber.NewSequence("attributes")
	for _, a := range []struct {
		name string
		vals []string
	}{{"cn", []string{"A", "Ä b"}}, {"objectGUID", []string{"\x00\xff\x10"}}, {"empty", nil}} {
		pa := ber.NewSequence("attribute")
		pa.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, a.name, "type"))
		set := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "vals")
		for _, v := range a.vals {
			set.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, v, "val"))
		}
		pa.AppendChild(set)
		attrs.AppendChild(pa)
	}
	entry.AppendChild(attrs)
	raw := entry.Bytes()
	_, s, e, err := element(raw, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeEntry(raw[s:e])
	if err != nil {
		t.Fatal(err)
	}
	if got.DN != "uid=a,dc=x" || len(got.Attributes) != 3 ||
		got.GetAttributeValues("cn")[1] != "Ä b" || string(got.GetRawAttributeValue("objectGUID")) != "\x00\xff\x10" ||
		len(got.GetAttributeValues("empty")) != 0 {
		t.Fatalf("entry = %+v", got)
	}
	for cut := 1; cut < e-s; cut++ {
		if _, err := decodeEntry(raw[s : e-cut]); err == nil {
			t.Fatalf("entry cut by %d bytes decoded", cut)
		}
	}

	paging := goldap.NewControlPaging(1000)
	paging.SetCookie([]byte("next\x00page"))
	controls := ber.Encode(ber.ClassContext, ber.TypeConstructed, 0, nil, "controls")
	controls.AppendChild(paging.Encode())
	craw := controls.Bytes()
	_, s, e, err = element(craw, 0)
	if err != nil {
		t.Fatal(err)
	}
	cs := decodeControls(craw[s:e])
	p, ok := goldap.FindControl(cs, goldap.ControlTypePaging).(*goldap.ControlPaging)
	if !ok || string(p.Cookie) != "next\x00page" {
		t.Fatalf("controls = %+v", cs)
	}

	if _, _, _, err := element([]byte{0x04, 0x84, 0x7f, 0xff, 0xff, 0xff}, 0); err == nil {
		t.Fatal("a length past the buffer was accepted")
	}
	if parseInt([]byte{0xff}) != -1 || parseInt([]byte{0x01, 0x00}) != 256 {
		t.Fatal("parseInt")
	}
}
