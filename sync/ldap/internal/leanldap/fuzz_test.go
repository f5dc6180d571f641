package leanldap

import (
	"bufio"
	"bytes"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	goldap "github.com/go-ldap/ldap/v3"
)

// seedMessages are well-formed responses, for the fuzzers to mutate (the
// committed corpus in testdata/fuzz adds answers captured from slapd).
func seedMessages() [][]byte {
	entry := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 4, nil, "entry")
	entry.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "uid=a,dc=x", "dn"))
	attrs := ber.NewSequence("attributes")
	pa := ber.NewSequence("attribute")
	pa.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "cn", "type"))
	set := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "vals")
	set.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "A", "val"))
	set.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "\x00\xff", "val"))
	pa.AppendChild(set)
	attrs.AppendChild(pa)
	entry.AppendChild(attrs)

	done := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 5, nil, "done")
	done.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, 0, "code"))
	done.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "matched"))
	done.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "diag"))
	paging := goldap.NewControlPaging(1000)
	paging.SetCookie([]byte("cookie"))
	controls := ber.Encode(ber.ClassContext, ber.TypeConstructed, 0, nil, "controls")
	controls.AppendChild(paging.Encode())

	wrap := func(op *ber.Packet, ctl *ber.Packet) []byte {
		env := ber.NewSequence("msg")
		env.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 2, "id"))
		env.AppendChild(op)
		if ctl != nil {
			env.AppendChild(ctl)
		}
		return env.Bytes()
	}
	return [][]byte{wrap(entry, nil), wrap(done, controls)}
}

// FuzzReadMessage feeds a byte stream to the reader as a server would
// send it, and decodes each message as Next does. It must not panic, and
// the buffer it grows must stay within twice what was really sent (plus
// one chunk), whatever lengths the stream announces.
func FuzzReadMessage(f *testing.F) {
	seeds := seedMessages()
	for _, s := range seeds {
		f.Add(s)
	}
	f.Add(bytes.Join(seeds, nil))
	f.Add([]byte{0x30, 0x84, 0x0f, 0xff, 0xff, 0xff, 0x02, 0x01}) // announces 256 MB, sends 2 bytes
	f.Add([]byte{0x30, 0x84, 0xff, 0xff, 0xff, 0xff})             // past MaxMessage
	f.Add([]byte{0x30, 0x80, 0x00, 0x00})                         // indefinite length
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReaderSize(bytes.NewReader(data), 16)
		var buf []byte
		for range 64 {
			m, b, err := readMessage(r, buf)
			buf = b
			if cap(buf) > 2*len(data)+readChunk {
				t.Fatalf("a %d-byte stream grew the buffer to %d bytes", len(data), cap(buf))
			}
			if err != nil {
				return
			}
			switch m.opTag {
			case tagSearchResultEntry:
				_, _ = decodeEntry(m.op)
			case tagSearchResultDone:
				_ = decodeControls(m.controls)
				_ = result(m.op)
			default:
				_ = result(m.op)
			}
		}
	})
}

// FuzzDecodeEntry decodes arbitrary SearchResultEntry contents. It must
// not panic; what it accepts must hold only values it was given: the DN
// and every name and value are slices of the input.
func FuzzDecodeEntry(f *testing.F) {
	for _, s := range seedMessages() {
		if m, err := splitMessage(s[2:]); err == nil && m.opTag == tagSearchResultEntry {
			f.Add(m.op)
		}
	}
	f.Add([]byte{0x04, 0x00, 0x30, 0x84, 0x7f, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, op []byte) {
		e, err := decodeEntry(op)
		if err != nil {
			return
		}
		if !bytes.Contains(op, []byte(e.DN)) {
			t.Fatalf("DN %q is not in the input", e.DN)
		}
		total := 0
		for _, a := range e.Attributes {
			if len(a.Values) != len(a.ByteValues) {
				t.Fatalf("attribute %q: %d values, %d byte values", a.Name, len(a.Values), len(a.ByteValues))
			}
			for i, v := range a.ByteValues {
				if string(v) != a.Values[i] {
					t.Fatalf("attribute %q: value %d differs as string and bytes", a.Name, i)
				}
				total += len(v) + 2
			}
			total += len(a.Name) + 2
		}
		if total > len(op) {
			t.Fatalf("decoded %d bytes of values from %d bytes of input", total, len(op))
		}
	})
}
