package leanldap

import (
	"errors"
	"fmt"

	goldap "github.com/go-ldap/ldap/v3"
)

// Protocol op tags of the responses a read gets (RFC 4511 4.2 to 4.12).
const (
	tagBindResponse          = 0x61
	tagSearchResultEntry     = 0x64
	tagSearchResultDone      = 0x65
	tagSearchResultReference = 0x73
	tagExtendedResponse      = 0x78
)

// message is one decoded response envelope; its slices point into the
// connection's buffer and are valid until the next read.
type message struct {
	id       int64
	opTag    byte
	op       []byte // the protocolOp's content
	controls []byte // the controls' content, if any
}

// splitMessage splits an LDAPMessage's content: message ID, protocol op
// and the optional controls.
func splitMessage(body []byte) (message, error) {
	var m message
	t, s, e, err := element(body, 0)
	if err != nil || t != 0x02 {
		return message{}, fmt.Errorf("message ID: %w", orMalformed(err))
	}
	m.id = parseInt(body[s:e])
	if m.opTag, s, e, err = element(body, e); err != nil {
		return message{}, fmt.Errorf("protocol op: %w", err)
	}
	m.op = body[s:e]
	if e < len(body) {
		t, cs, ce, err := element(body, e)
		if err != nil {
			return message{}, fmt.Errorf("controls: %w", err)
		}
		if t == 0xa0 {
			m.controls = body[cs:ce]
		}
	}
	return m, nil
}

// element parses the BER element at b[i:]: its tag and the bounds of its
// content. Only single-byte tags and definite lengths occur in LDAP.
func element(b []byte, i int) (tag byte, start, end int, err error) {
	if i < 0 || i+2 > len(b) {
		return 0, 0, 0, errMalformed
	}
	tag = b[i]
	if tag&0x1f == 0x1f {
		return 0, 0, 0, errMalformed
	}
	l := int(b[i+1])
	i += 2
	if l >= 0x80 {
		k := l & 0x7f
		if k == 0 || k > 4 || i+k > len(b) {
			return 0, 0, 0, errMalformed
		}
		l = 0
		for _, c := range b[i : i+k] {
			l = l<<8 | int(c)
		}
		i += k
	}
	if l < 0 || l > len(b)-i {
		return 0, 0, 0, errMalformed
	}
	return tag, i, i + l, nil
}

var errMalformed = errors.New("malformed BER")

func orMalformed(err error) error {
	if err == nil {
		return errMalformed
	}
	return err
}

// parseInt reads a BER INTEGER's content (two's complement, big endian);
// more than eight bytes keep the low 64 bits.
func parseInt(b []byte) int64 {
	var v int64
	for i, c := range b {
		if i == 0 && c&0x80 != 0 {
			v = -1
		}
		v = v<<8 | int64(c)
	}
	return v
}

// result decodes an LDAPResult (resultCode, matchedDN, diagnosticMessage)
// into go-ldap's error for a code other than success.
func result(op []byte) error {
	t, s, e, err := element(op, 0)
	if err != nil || t != 0x0a {
		return fmt.Errorf("ldap: result code: %w", orMalformed(err))
	}
	code := parseInt(op[s:e])
	if code == 0 {
		return nil
	}
	diag := ""
	if _, _, me, err := element(op, e); err == nil {
		if _, ds, de, err := element(op, me); err == nil {
			diag = string(op[ds:de])
		}
	}
	return goldap.NewError(uint16(code), errors.New(diag))
}

// decodeEntry builds a go-ldap Entry from a SearchResultEntry's content.
// The values are copied once into one block the entry owns; Values are
// strings of it and ByteValues slices of it. Every allocation is bounded
// by len(op): counts come from elements really present, never from a
// length field.
func decodeEntry(op []byte) (*goldap.Entry, error) {
	t, s, e, err := element(op, 0)
	if err != nil || t != 0x04 {
		return nil, orMalformed(err)
	}
	ent := &goldap.Entry{DN: string(op[s:e])}
	t, as, ae, err := element(op, e)
	if err != nil || t != 0x30 {
		return nil, orMalformed(err)
	}
	block := make([]byte, ae-as)
	copy(block, op[as:ae])
	n, err := count(block, 0, len(block))
	if err != nil {
		return nil, err
	}
	ent.Attributes = make([]*goldap.EntryAttribute, 0, n)
	attrs := make([]goldap.EntryAttribute, n)
	for i, k := 0, 0; i < len(block); k++ {
		_, ps, pe, err := element(block, i)
		if err != nil {
			return nil, err
		}
		i = pe
		t, ts, te, err := element(block[:pe], ps)
		if err != nil || t != 0x04 {
			return nil, orMalformed(err)
		}
		t, vs, ve, err := element(block[:pe], te)
		if err != nil || t != 0x31 {
			return nil, orMalformed(err)
		}
		cnt, err := count(block, vs, ve)
		if err != nil {
			return nil, err
		}
		a := &attrs[k]
		a.Name = string(block[ts:te])
		a.Values = make([]string, 0, cnt)
		a.ByteValues = make([][]byte, 0, cnt)
		for j := vs; j < ve; {
			_, s, e, _ := element(block[:ve], j)
			a.ByteValues = append(a.ByteValues, block[s:e:e])
			a.Values = append(a.Values, string(block[s:e]))
			j = e
		}
		ent.Attributes = append(ent.Attributes, a)
	}
	return ent, nil
}

// count counts the elements that fill b[i:end] exactly.
func count(b []byte, i, end int) (int, error) {
	n := 0
	for i < end {
		_, _, e, err := element(b[:end], i)
		if err != nil {
			return 0, err
		}
		i = e
		n++
	}
	return n, nil
}

// decodeControls reads the response controls a read looks at: paging.
// Anything malformed is skipped, as an absent control would be.
func decodeControls(b []byte) []goldap.Control {
	var out []goldap.Control
	for i := 0; i < len(b); {
		_, cs, ce, err := element(b, i)
		if err != nil {
			return out
		}
		i = ce
		t, ts, te, err := element(b[:ce], cs)
		if err != nil || t != 0x04 {
			continue
		}
		oid := string(b[ts:te])
		var value []byte
		for j := te; j < ce; {
			t, s, e, err := element(b[:ce], j)
			if err != nil {
				break
			}
			if t == 0x04 {
				value = b[s:e]
			}
			j = e
		}
		if oid != goldap.ControlTypePaging || value == nil {
			continue
		}
		// realSearchControlValue ::= SEQUENCE { size INTEGER, cookie OCTET STRING }
		t, ss, se, err := element(value, 0)
		if err != nil || t != 0x30 {
			continue
		}
		_, is, ie, err := element(value[:se], ss)
		if err != nil {
			continue
		}
		p := &goldap.ControlPaging{PagingSize: uint32(parseInt(value[is:ie]))}
		if _, ks, ke, err := element(value[:se], ie); err == nil && ke > ks {
			p.Cookie = append([]byte(nil), value[ks:ke]...)
		}
		out = append(out, p)
	}
	return out
}
