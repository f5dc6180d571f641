package ldap

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	goldap "github.com/go-ldap/ldap/v3"
)

// leanConn is the connection a directory read runs on: a small LDAP client
// that decodes search results straight from one reused buffer. go-ldap
// decodes every message into a tree of packets, copying each value into
// several buffers on the way; on a 100,000-user directory that was most of
// the read's CPU time and gigabytes of garbage. Requests are still encoded
// with go-ldap's and asn1-ber's types (they are small).
//
// It runs one request at a time: SearchAsync holds the connection until its
// response has been read to the end, and other callers wait. It offers
// what a read needs (simple bind, StartTLS, search); sign-in and password
// changes keep go-ldap's connection.
type leanConn struct {
	nc      net.Conn
	r       *bufio.Reader
	timeout atomic.Int64 // per message read or request written; 0 none

	mu      sync.Mutex // held by a request until its response is read
	msgID   int64
	buf     []byte // one message body, reused
	closing atomic.Bool
}

// leanKey marks a context whose connections a read makes (see withLean).
type leanKey struct{}

// withLean asks dialURL for a leanConn instead of go-ldap's connection.
func withLean(ctx context.Context) context.Context { return context.WithValue(ctx, leanKey{}, true) }

func wantsLean(ctx context.Context) bool { v, _ := ctx.Value(leanKey{}).(bool); return v }

// maxMessage bounds one LDAP message (a group with a million members is
// ~50 MB): a length beyond it is a broken or hostile peer.
const maxMessage = 256 << 20

func newLeanConn(nc net.Conn, timeout time.Duration) *leanConn {
	c := &leanConn{nc: nc, r: bufio.NewReaderSize(nc, 64<<10)}
	c.SetTimeout(timeout)
	return c
}

// SetTimeout bounds each later request (connect sets the connect timeout
// for the bind, then the read timeout).
func (c *leanConn) SetTimeout(d time.Duration) { c.timeout.Store(int64(d)) }

// deadline is now plus the timeout, or no deadline.
func (c *leanConn) deadline() time.Time {
	if d := time.Duration(c.timeout.Load()); d > 0 {
		return time.Now().Add(d)
	}
	return time.Time{}
}

func (c *leanConn) Close() error {
	if c.closing.Swap(true) {
		return nil
	}
	return c.nc.Close()
}

func (c *leanConn) IsClosing() bool { return c.closing.Load() }

// Modify is not something a read does.
func (c *leanConn) Modify(*goldap.ModifyRequest) error {
	return errors.New("ldap: the read connection does not modify entries")
}

// send writes one request (an envelope with the next message ID).
func (c *leanConn) send(op *ber.Packet, controls []goldap.Control) (int64, error) {
	c.msgID++
	env := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAP Request")
	env.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, c.msgID, "MessageID"))
	env.AppendChild(op)
	if len(controls) > 0 {
		cs := ber.Encode(ber.ClassContext, ber.TypeConstructed, 0, nil, "Controls")
		for _, ctl := range controls {
			cs.AppendChild(ctl.Encode())
		}
		env.AppendChild(cs)
	}
	_ = c.nc.SetWriteDeadline(c.deadline())
	if _, err := c.nc.Write(env.Bytes()); err != nil {
		_ = c.Close()
		return 0, fmt.Errorf("ldap: write request: %w", err)
	}
	return c.msgID, nil
}

// message is one decoded response envelope; its slices point into the
// connection's buffer and are valid until the next read.
type message struct {
	id       int64
	opTag    byte
	op       []byte // the protocolOp's content
	controls []byte // the controls' content, if any
}

// read reads the next message. Any failure closes the connection: the
// stream can no longer be trusted to be at a message boundary.
func (c *leanConn) read() (message, error) {
	m, err := c.readMessage()
	if err != nil {
		_ = c.Close()
		return message{}, fmt.Errorf("unable to read LDAP response packet: %w", err)
	}
	return m, nil
}

func (c *leanConn) readMessage() (message, error) {
	_ = c.nc.SetReadDeadline(c.deadline())
	tag, err := c.r.ReadByte()
	if err != nil {
		return message{}, err
	}
	if tag != 0x30 {
		return message{}, fmt.Errorf("message tag %#x, want a sequence", tag)
	}
	n, err := c.readLength()
	if err != nil {
		return message{}, err
	}
	if cap(c.buf) < n {
		c.buf = make([]byte, n)
	}
	body := c.buf[:n]
	if _, err := io.ReadFull(c.r, body); err != nil {
		return message{}, err
	}
	var m message
	t, s, e, err := element(body, 0)
	if err != nil || t != 0x02 {
		return message{}, fmt.Errorf("message ID: %v", orMalformed(err))
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

func (c *leanConn) readLength() (int, error) {
	b, err := c.r.ReadByte()
	if err != nil {
		return 0, err
	}
	if b < 0x80 {
		return int(b), nil
	}
	k := int(b & 0x7f)
	if k == 0 || k > 4 {
		return 0, fmt.Errorf("unsupported length encoding %#x", b)
	}
	n := 0
	for range k {
		b, err := c.r.ReadByte()
		if err != nil {
			return 0, err
		}
		n = n<<8 | int(b)
	}
	if n > maxMessage {
		return 0, fmt.Errorf("message of %d bytes exceeds %d", n, maxMessage)
	}
	return n, nil
}

// element parses the BER element at b[i:]: its tag and the bounds of its
// content. Only single-byte tags and definite lengths occur in LDAP.
func element(b []byte, i int) (tag byte, start, end int, err error) {
	if i+2 > len(b) {
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
	if l < 0 || i+l > len(b) {
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

// Bind is a simple bind. Like go-ldap's, it refuses an empty password: a
// simple bind without one is an unauthenticated bind that "succeeds".
func (c *leanConn) Bind(username, password string) error {
	if password == "" {
		return goldap.NewError(goldap.ErrorEmptyPassword, errors.New("ldap: empty password not allowed by the client"))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	req := ber.Encode(ber.ClassApplication, ber.TypeConstructed, goldap.ApplicationBindRequest, nil, "Bind Request")
	req.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 3, "Version"))
	req.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, username, "User Name"))
	req.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, password, "Password"))
	return c.roundTrip(req, 0x61)
}

// startTLS upgrades the connection (RFC 4511 4.14).
func (c *leanConn) startTLS(ctx context.Context, tc *tls.Config) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	req := ber.Encode(ber.ClassApplication, ber.TypeConstructed, goldap.ApplicationExtendedRequest, nil, "Start TLS")
	req.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, "1.3.6.1.4.1.1466.20037", "TLS Extended Command"))
	if err := c.roundTrip(req, 0x78); err != nil {
		return err
	}
	tlsConn := tls.Client(c.nc, tc)
	if err := tlsConn.HandshakeContext(ctx); err != nil {
		_ = c.Close()
		return fmt.Errorf("tls handshake: %w", err)
	}
	c.nc, c.r = tlsConn, bufio.NewReaderSize(tlsConn, 64<<10)
	return nil
}

// roundTrip sends op and reads its one response, of tag want.
func (c *leanConn) roundTrip(op *ber.Packet, want byte) error {
	id, err := c.send(op, nil)
	if err != nil {
		return err
	}
	for {
		m, err := c.read()
		if err != nil {
			return err
		}
		if m.id != id {
			if m.id == 0 { // a notice of disconnection
				_ = c.Close()
				return result(m.op)
			}
			continue
		}
		if m.opTag != want {
			_ = c.Close()
			return fmt.Errorf("ldap: response %#x, want %#x", m.opTag, want)
		}
		return result(m.op)
	}
}

// SearchAsync starts req and returns its response, read as the caller
// iterates. The connection is held until then; a caller that stops early
// (ctx ended) leaves the rest of the response to be read and dropped.
func (c *leanConn) SearchAsync(ctx context.Context, req *goldap.SearchRequest, _ int) goldap.Response {
	c.mu.Lock()
	r := &leanResponse{c: c, ctx: ctx}
	if c.IsClosing() {
		r.finish(errors.New("ldap: connection closed"))
		return r
	}
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, goldap.ApplicationSearchRequest, nil, "Search Request")
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, req.BaseDN, "Base DN"))
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, uint64(req.Scope), "Scope"))
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, uint64(req.DerefAliases), "Deref Aliases"))
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, uint64(req.SizeLimit), "Size Limit"))
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, uint64(req.TimeLimit), "Time Limit"))
	op.AppendChild(ber.NewBoolean(ber.ClassUniversal, ber.TypePrimitive, ber.TagBoolean, req.TypesOnly, "Types Only"))
	filter, err := goldap.CompileFilter(req.Filter)
	if err != nil {
		r.finish(err)
		return r
	}
	op.AppendChild(filter)
	attrs := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Attributes")
	for _, a := range req.Attributes {
		attrs.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, a, "Attribute"))
	}
	op.AppendChild(attrs)
	if r.id, err = c.send(op, req.Controls); err != nil {
		r.finish(err)
	}
	return r
}

// leanResponse is one search's response, decoded message by message.
type leanResponse struct {
	c        *leanConn
	ctx      context.Context
	id       int64
	done     bool
	entry    *goldap.Entry
	referral string
	controls []goldap.Control
	err      error
}

func (r *leanResponse) Entry() *goldap.Entry       { return r.entry }
func (r *leanResponse) Referral() string           { return r.referral }
func (r *leanResponse) Controls() []goldap.Control { return r.controls }
func (r *leanResponse) Err() error                 { return r.err }

// finish ends the response and frees the connection.
func (r *leanResponse) finish(err error) {
	if !r.done {
		r.done, r.err = true, err
		r.c.mu.Unlock()
	}
}

// Next reads the next message: true for an entry, a referral, and once
// for the end (no entry, no referral: Controls hold the response
// controls); false after that or on failure (Err then says why).
func (r *leanResponse) Next() bool {
	r.entry, r.referral = nil, ""
	if r.done {
		return false
	}
	if r.ctx.Err() != nil {
		r.drain()
		return false
	}
	for {
		m, err := r.c.read()
		if err != nil {
			r.finish(err)
			return false
		}
		if m.id != r.id {
			if m.id == 0 {
				_ = r.c.Close()
				r.finish(result(m.op))
				return false
			}
			continue // a late answer to an abandoned request
		}
		switch m.opTag {
		case 0x64: // SearchResultEntry
			e, err := decodeEntry(m.op)
			if err != nil {
				_ = r.c.Close()
				r.finish(fmt.Errorf("ldap: search result entry: %w", err))
				return false
			}
			r.entry = e
			return true
		case 0x73: // SearchResultReference
			if _, s, e, err := element(m.op, 0); err == nil {
				r.referral = string(m.op[s:e])
			} else {
				r.referral = "?"
			}
			return true
		case 0x65: // SearchResultDone: one more step, as go-ldap's does,
			// with neither entry nor referral but the controls.
			r.controls = decodeControls(m.controls)
			r.finish(result(m.op))
			return true
		default:
			_ = r.c.Close()
			r.finish(fmt.Errorf("ldap: unexpected response %#x to a search", m.opTag))
			return false
		}
	}
}

// drain reads and drops the rest of a search its caller gave up on, so
// the connection is at a message boundary for the next request. A read
// whose context ended closes the connection instead (Read watches ctx).
func (r *leanResponse) drain() {
	for !r.done {
		m, err := r.c.read()
		if err != nil {
			r.finish(r.ctx.Err())
			return
		}
		if m.id == r.id && m.opTag == 0x65 {
			r.finish(r.ctx.Err())
			return
		}
	}
}

// decodeEntry builds a go-ldap Entry from a SearchResultEntry's content.
// The values are copied once into one block the entry owns; Values are
// strings of it and ByteValues slices of it.
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
	n := 0
	for i := 0; i < len(block); n++ {
		_, _, pe, err := element(block, i)
		if err != nil {
			return nil, err
		}
		i = pe
	}
	ent.Attributes = make([]*goldap.EntryAttribute, 0, n)
	attrs := make([]goldap.EntryAttribute, n)
	for i, k := 0, 0; i < len(block); k++ {
		_, ps, pe, err := element(block, i)
		if err != nil {
			return nil, err
		}
		i = pe
		t, ts, te, err := element(block, ps)
		if err != nil || t != 0x04 {
			return nil, orMalformed(err)
		}
		t, vs, ve, err := element(block, te)
		if err != nil || t != 0x31 {
			return nil, orMalformed(err)
		}
		cnt := 0
		for j := vs; j < ve; cnt++ {
			_, _, e, err := element(block, j)
			if err != nil {
				return nil, err
			}
			j = e
		}
		a := &attrs[k]
		a.Name = string(block[ts:te])
		a.Values = make([]string, 0, cnt)
		a.ByteValues = make([][]byte, 0, cnt)
		for j := vs; j < ve; {
			_, s, e, _ := element(block, j)
			a.ByteValues = append(a.ByteValues, block[s:e:e])
			a.Values = append(a.Values, string(block[s:e]))
			j = e
		}
		ent.Attributes = append(ent.Attributes, a)
	}
	return ent, nil
}

// decodeControls reads the response controls a read looks at: paging.
func decodeControls(b []byte) []goldap.Control {
	var out []goldap.Control
	for i := 0; i < len(b); {
		_, cs, ce, err := element(b, i)
		if err != nil {
			return out
		}
		i = ce
		t, ts, te, err := element(b, cs)
		if err != nil || t != 0x04 {
			continue
		}
		oid := string(b[ts:te])
		var value []byte
		for j := te; j < ce; {
			t, s, e, err := element(b, j)
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
