// Package leanldap is the LDAP client a directory read runs on: a small
// client that decodes search results straight from one reused buffer.
// go-ldap decodes every message into a tree of packets, copying each value
// into several buffers on the way; on a 100,000-user directory that was
// most of the read's CPU time and gigabytes of garbage. Requests are still
// encoded with go-ldap's and asn1-ber's types (they are small), and results
// come back as go-ldap's Entry, so the reader's code is the same on either
// client.
//
// A Conn offers what a read needs (simple bind, StartTLS, search); sign-in
// and password changes keep go-ldap's connection. It runs one request at a
// time: SearchAsync holds the connection until its response has ended, and
// other callers wait. A search whose context ends is abandoned (RFC 4511
// 4.11): the server is told to stop, and the connection stays usable, the
// late answers to the abandoned request being skipped by message ID.
//
// Lengths read from the wire are never trusted for allocation: a message's
// buffer grows as its bytes arrive, up to MaxMessage.
package leanldap

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

// MaxMessage bounds one LDAP message (a group with a million members is
// ~50 MB): a length beyond it is a broken or hostile peer.
const MaxMessage = 256 << 20

// readChunk is the first size of a message buffer that has to grow, and
// the bufio reader's size.
const readChunk = 64 << 10

// Conn is one LDAP connection for reading. Its methods are safe for
// concurrent use; requests run one at a time.
type Conn struct {
	nc      net.Conn
	r       *bufio.Reader
	timeout atomic.Int64 // per message read or request written; 0 none

	mu       sync.Mutex // held by a request until its response is read
	wmu      sync.Mutex // serialises writes (an Abandon from Close may race a request)
	msgID    atomic.Int64
	inflight atomic.Int64 // the search in progress, for Close's Abandon; 0 none
	buf      []byte       // one message body, reused
	closing  atomic.Bool
}

// New makes a Conn of an established connection (TLS already set up for
// ldaps://). timeout bounds each later request; see SetTimeout.
func New(nc net.Conn, timeout time.Duration) *Conn {
	c := &Conn{nc: nc, r: bufio.NewReaderSize(nc, readChunk)}
	c.SetTimeout(timeout)
	return c
}

// SetTimeout bounds each later message read and request written (the
// reader sets the connect timeout for the bind, then the read timeout).
func (c *Conn) SetTimeout(d time.Duration) { c.timeout.Store(int64(d)) }

// deadline is now plus the timeout, or no deadline.
func (c *Conn) deadline() time.Time {
	if d := time.Duration(c.timeout.Load()); d > 0 {
		return time.Now().Add(d)
	}
	return time.Time{}
}

// Close closes the connection, first abandoning a search in progress so
// the server stops working on it (best effort: the connection is closing
// anyway). It may be called from any goroutine, and more than once.
func (c *Conn) Close() error {
	if c.closing.Swap(true) {
		return nil
	}
	if id := c.inflight.Load(); id != 0 {
		// A courtesy to the server, bounded so a peer that stopped
		// reading cannot hold Close; the bound is wide enough that a
		// busy machine does not miss it before the write even starts
		// (a write to a healthy socket returns at once). The close that
		// follows, with answers unread, resets the connection, and a
		// server may drop the Abandon with it: it ends the search anyway.
		c.writeAbandon(id, time.Now().Add(2*time.Second))
	}
	return c.nc.Close()
}

// IsClosing reports whether the connection was closed (by Close or after
// a failure that left the stream unusable).
func (c *Conn) IsClosing() bool { return c.closing.Load() }

// Modify is not something a read does.
func (c *Conn) Modify(*goldap.ModifyRequest) error {
	return errors.New("ldap: the read connection does not modify entries")
}

// envelope wraps op in an LDAPMessage with the next message ID.
func (c *Conn) envelope(op *ber.Packet, controls []goldap.Control) (int64, []byte) {
	id := c.msgID.Add(1)
	env := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAP Request")
	env.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, "MessageID"))
	env.AppendChild(op)
	if len(controls) > 0 {
		cs := ber.Encode(ber.ClassContext, ber.TypeConstructed, 0, nil, "Controls")
		for _, ctl := range controls {
			cs.AppendChild(ctl.Encode())
		}
		env.AppendChild(cs)
	}
	return id, env.Bytes()
}

// write writes one encoded message by deadline.
func (c *Conn) write(b []byte, deadline time.Time) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(deadline)
	_, err := c.nc.Write(b)
	return err
}

// send writes one request and returns its message ID. A failed write
// closes the connection.
func (c *Conn) send(op *ber.Packet, controls []goldap.Control) (int64, error) {
	id, b := c.envelope(op, controls)
	if err := c.write(b, c.deadline()); err != nil {
		_ = c.Close()
		return 0, fmt.Errorf("ldap: write request: %w", err)
	}
	return id, nil
}

// writeAbandon asks the server to stop working on request id (RFC 4511
// 4.11). There is no response; answers already on their way still come
// and are skipped by their ID.
func (c *Conn) writeAbandon(id int64, deadline time.Time) {
	op := ber.NewInteger(ber.ClassApplication, ber.TypePrimitive, goldap.ApplicationAbandonRequest, id, "Abandon Request")
	_, b := c.envelope(op, nil)
	_ = c.write(b, deadline)
}

// read reads the next message. Any failure closes the connection: the
// stream can no longer be trusted to be at a message boundary.
func (c *Conn) read() (message, error) {
	_ = c.nc.SetReadDeadline(c.deadline())
	m, buf, err := readMessage(c.r, c.buf)
	c.buf = buf
	if err != nil {
		_ = c.Close()
		return message{}, fmt.Errorf("unable to read LDAP response packet: %w", err)
	}
	return m, nil
}

// readMessage reads one LDAPMessage from r into buf (grown as needed and
// returned for reuse) and splits its envelope.
func readMessage(r *bufio.Reader, buf []byte) (message, []byte, error) {
	tag, err := r.ReadByte()
	if err != nil {
		return message{}, buf, err
	}
	if tag != 0x30 {
		return message{}, buf, fmt.Errorf("message tag %#x, want a sequence", tag)
	}
	n, err := readLength(r)
	if err != nil {
		return message{}, buf, err
	}
	body, err := readBody(r, buf, n)
	if err != nil {
		return message{}, body[:0], err
	}
	m, err := splitMessage(body)
	return m, body[:0], err
}

// readLength reads a definite BER length of at most MaxMessage.
func readLength(r io.ByteReader) (int, error) {
	b, err := r.ReadByte()
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
		b, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		n = n<<8 | int(b)
	}
	if n > MaxMessage {
		return 0, fmt.Errorf("message of %d bytes exceeds %d", n, MaxMessage)
	}
	return n, nil
}

// readBody reads n bytes into buf. A buffer that must grow grows as the
// bytes arrive (doubling from readChunk), so a hostile length costs at
// most twice what the peer really sent, not what it announced.
func readBody(r io.Reader, buf []byte, n int) ([]byte, error) {
	if cap(buf) >= n {
		body := buf[:n]
		_, err := io.ReadFull(r, body)
		return body, err
	}
	body := buf[:0]
	for len(body) < n {
		if len(body) == cap(body) {
			grown := make([]byte, len(body), min(n, max(2*cap(body), readChunk)))
			copy(grown, body)
			body = grown
		}
		m, err := io.ReadFull(r, body[len(body):cap(body)])
		body = body[:len(body)+m]
		if err != nil {
			return body, err
		}
	}
	return body, nil
}

// Bind is a simple bind. Like go-ldap's, it refuses an empty password: a
// simple bind without one is an unauthenticated bind that "succeeds".
func (c *Conn) Bind(username, password string) error {
	if password == "" {
		return goldap.NewError(goldap.ErrorEmptyPassword, errors.New("ldap: empty password not allowed by the client"))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	req := ber.Encode(ber.ClassApplication, ber.TypeConstructed, goldap.ApplicationBindRequest, nil, "Bind Request")
	req.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 3, "Version"))
	req.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, username, "User Name"))
	req.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, password, "Password"))
	return c.roundTrip(req, tagBindResponse)
}

// StartTLS upgrades the connection (RFC 4511 4.14); ctx bounds the
// handshake.
func (c *Conn) StartTLS(ctx context.Context, tc *tls.Config) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	req := ber.Encode(ber.ClassApplication, ber.TypeConstructed, goldap.ApplicationExtendedRequest, nil, "Start TLS")
	req.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, "1.3.6.1.4.1.1466.20037", "TLS Extended Command"))
	if err := c.roundTrip(req, tagExtendedResponse); err != nil {
		return err
	}
	tlsConn := tls.Client(c.nc, tc)
	if err := tlsConn.HandshakeContext(ctx); err != nil {
		_ = c.Close()
		return fmt.Errorf("tls handshake: %w", err)
	}
	c.nc, c.r = tlsConn, bufio.NewReaderSize(tlsConn, readChunk)
	return nil
}

// roundTrip sends op and reads its one response, of tag want.
func (c *Conn) roundTrip(op *ber.Packet, want byte) error {
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
			continue // a late answer to an abandoned request
		}
		if m.opTag != want {
			_ = c.Close()
			return fmt.Errorf("ldap: response %#x, want %#x", m.opTag, want)
		}
		return result(m.op)
	}
}

// SearchAsync starts req and returns its response, read as the caller
// iterates. The connection is held until the response ends; a caller
// whose ctx ends has the search abandoned at its next call to Next.
func (c *Conn) SearchAsync(ctx context.Context, req *goldap.SearchRequest, _ int) goldap.Response {
	c.mu.Lock()
	r := &response{c: c, ctx: ctx}
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
		return r
	}
	c.inflight.Store(r.id)
	return r
}

// response is one search's response, decoded message by message. It
// implements go-ldap's Response.
type response struct {
	c        *Conn
	ctx      context.Context
	id       int64
	done     bool
	entry    *goldap.Entry
	referral string
	controls []goldap.Control
	err      error
}

func (r *response) Entry() *goldap.Entry       { return r.entry }
func (r *response) Referral() string           { return r.referral }
func (r *response) Controls() []goldap.Control { return r.controls }
func (r *response) Err() error                 { return r.err }

// finish ends the response and frees the connection.
func (r *response) finish(err error) {
	if !r.done {
		r.done, r.err = true, err
		r.c.inflight.CompareAndSwap(r.id, 0)
		r.c.mu.Unlock()
	}
}

// Next reads the next message: true for an entry, a referral, and once
// for the end (no entry, no referral: Controls hold the response
// controls); false after that or on failure (Err then says why). When the
// search's context has ended, the search is abandoned and Next returns
// false with the context's error.
func (r *response) Next() bool {
	r.entry, r.referral = nil, ""
	if r.done {
		return false
	}
	if err := r.ctx.Err(); err != nil {
		if !r.c.IsClosing() {
			r.c.writeAbandon(r.id, r.c.deadline())
		}
		r.finish(err)
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
		case tagSearchResultEntry:
			e, err := decodeEntry(m.op)
			if err != nil {
				_ = r.c.Close()
				r.finish(fmt.Errorf("ldap: search result entry: %w", err))
				return false
			}
			r.entry = e
			return true
		case tagSearchResultReference:
			if _, s, e, err := element(m.op, 0); err == nil {
				r.referral = string(m.op[s:e])
			} else {
				r.referral = "?"
			}
			return true
		case tagSearchResultDone: // one more step, as go-ldap's does,
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
