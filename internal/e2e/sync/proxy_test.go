package synce2e

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// cutProxy forwards loopback TCP to a directory server and counts the
// bytes the server sends. Once a limit is set and reached it calls onCut
// (by default: drop every connection and refuse new ones), as a
// directory dying in the middle of a read would.
type cutProxy struct {
	l      net.Listener
	target string
	sent   atomic.Int64 // server -> client bytes since the last reset

	mu     sync.Mutex
	limit  int64
	cut    bool
	onCut  func()
	conns  []net.Conn
	closed bool
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{l: l, target: target}
	t.Cleanup(p.close)
	go p.accept()
	return p
}

func (p *cutProxy) addr() string { return p.l.Addr().String() }

// reset zeroes the byte count and sets the limit (0: none).
func (p *cutProxy) reset(limit int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent.Store(0)
	p.limit, p.cut = limit, false
}

func (p *cutProxy) accept() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse := p.cut || p.closed
		p.mu.Unlock()
		if refuse {
			_ = c.Close()
			continue
		}
		u, err := net.Dial("tcp", p.target)
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
}

// downstream copies server -> client, counting, until the limit.
func (p *cutProxy) downstream(c, u net.Conn) {
	defer c.Close()
	buf := make([]byte, 4096)
	for {
		n, err := u.Read(buf)
		if n > 0 {
			total := p.sent.Add(int64(n))
			p.mu.Lock()
			over := p.limit > 0 && total >= p.limit && !p.cut
			if over {
				p.cut = true
			}
			p.mu.Unlock()
			if over {
				p.fire()
				return
			}
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *cutProxy) fire() {
	p.mu.Lock()
	f := p.onCut
	p.mu.Unlock()
	if f != nil {
		f()
	}
	p.dropAll()
}

func (p *cutProxy) dropAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

func (p *cutProxy) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	_ = p.l.Close()
	p.dropAll()
}
