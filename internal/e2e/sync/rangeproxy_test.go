package synce2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
)

// maxValRange is Windows AD's default MaxValRange: a multi-valued
// attribute with more values is answered in ranges of this size.
const maxValRange = 1500

// rangeProxy sits between the reader and Samba on plain LDAP and makes
// Samba answer as Windows AD does: a member attribute (asked for whole or
// as a range) with more than maxValRange values comes back as
// member;range=LOW-(LOW+1499) with those values only. Samba does not
// force ranged retrieval by itself, so without it the reader's handling
// of an unasked-for range would be tested against no real server.
type rangeProxy struct {
	l         net.Listener
	target    string
	rewritten atomic.Int64 // entries answered with a forced range

	mu    sync.Mutex
	conns []net.Conn
}

func newRangeProxy(t *testing.T, target string) *rangeProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &rangeProxy{l: l, target: target}
	t.Cleanup(func() {
		_ = l.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			_ = c.Close()
		}
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); _ = u.Close() }()
			go p.downstream(c, u)
		}
	}()
	return p
}

func (p *rangeProxy) url() string { return "ldap://" + p.l.Addr().String() }

// downstream forwards the server's LDAP messages one by one, rewriting
// search result entries.
func (p *rangeProxy) downstream(c, u net.Conn) {
	defer c.Close()
	r := bufio.NewReader(u)
	for {
		pkt, err := ber.ReadPacket(r)
		if err != nil {
			return
		}
		if p.forceRange(pkt) {
			p.rewritten.Add(1)
			pkt = rebuild(pkt)
		}
		if _, err := c.Write(pkt.Bytes()); err != nil {
			return
		}
	}
}

// forceRange cuts the member values of a SearchResultEntry to one
// Windows-sized range; it reports whether it changed anything.
func (p *rangeProxy) forceRange(msg *ber.Packet) bool {
	const searchResultEntry = 4
	if len(msg.Children) < 2 || msg.Children[1].ClassType != ber.ClassApplication || msg.Children[1].Tag != searchResultEntry {
		return false
	}
	entry := msg.Children[1]
	if len(entry.Children) < 2 {
		return false
	}
	changed := false
	for _, attr := range entry.Children[1].Children {
		if len(attr.Children) < 2 {
			continue
		}
		name := string(attr.Children[0].ByteValue)
		low, ok := memberRangeStart(name)
		vals := attr.Children[1]
		if !ok || len(vals.Children) <= maxValRange {
			continue
		}
		forced := fmt.Sprintf("member;range=%d-%d", low, low+maxValRange-1)
		attr.Children[0] = ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, forced, "type")
		vals.Children = vals.Children[:maxValRange]
		changed = true
	}
	return changed
}

// memberRangeStart parses "member" (start 0) or "member;range=LOW-HIGH".
func memberRangeStart(name string) (int, bool) {
	lower := strings.ToLower(name)
	if lower == "member" {
		return 0, true
	}
	rest, ok := strings.CutPrefix(lower, "member;range=")
	if !ok {
		return 0, false
	}
	lo, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(lo)
	return n, err == nil
}

// rebuild re-encodes a packet whose children were changed: a constructed
// packet's bytes are its children's, written when they are appended.
func rebuild(p *ber.Packet) *ber.Packet {
	if p.TagType != ber.TypeConstructed {
		return p
	}
	np := ber.Encode(p.ClassType, p.TagType, p.Tag, nil, p.Description)
	for _, c := range p.Children {
		np.AppendChild(rebuild(c))
	}
	return np
}
