package harness

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SMTP is a real SMTP server (emersion/go-smtp) on loopback that records
// every message it accepts. It offers STARTTLS with a test certificate and,
// when a user is set, requires AUTH PLAIN.
type SMTP struct {
	Addr string
	Host string
	Port int

	server   *smtp.Server
	mu       sync.Mutex
	messages []SMTPMessage
	failNext int
	user     string
	password string
}

// SMTPMessage is one accepted message.
type SMTPMessage struct {
	From    string
	To      []string
	Subject string
	Raw     string
	TLS     bool
}

// SMTPOptions configures the test server.
type SMTPOptions struct {
	// Leaf is the server certificate for STARTTLS (nil: no STARTTLS).
	Leaf *Leaf
	// User and Password, when set, are required through AUTH PLAIN.
	User, Password string
}

// StartSMTP starts the server and stops it at cleanup.
func StartSMTP(t TB, opts SMTPOptions) *SMTP {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("harness: smtp listen: %v", err)
	}
	s := &SMTP{Addr: l.Addr().String(), Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, user: opts.User, password: opts.Password}
	srv := smtp.NewServer(s)
	srv.Domain = "localhost"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.MaxMessageBytes = 1 << 20
	srv.AllowInsecureAuth = opts.Leaf == nil
	if opts.Leaf != nil {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{opts.Leaf.TLS}, MinVersion: tls.VersionTLS12}
	}
	s.server = srv
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

// FailNext makes the next n deliveries fail with a temporary error.
func (s *SMTP) FailNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = n
}

// Messages returns what was accepted so far.
func (s *SMTP) Messages() []SMTPMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SMTPMessage(nil), s.messages...)
}

// Reset forgets the accepted messages.
func (s *SMTP) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = nil
}

// NewSession implements smtp.Backend.
func (s *SMTP) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &smtpSession{srv: s, conn: c}, nil
}

type smtpSession struct {
	srv    *SMTP
	conn   *smtp.Conn
	authed bool
	from   string
	to     []string
}

func (ss *smtpSession) AuthMechanisms() []string {
	if ss.srv.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *smtpSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != ss.srv.user || password != ss.srv.password {
			return errors.New("invalid credentials")
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if ss.srv.user != "" && !ss.authed {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	ss.from = from
	return nil
}

func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *smtpSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.srv.mu.Lock()
	defer ss.srv.mu.Unlock()
	if ss.srv.failNext > 0 {
		ss.srv.failNext--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	msg := SMTPMessage{From: ss.from, To: append([]string(nil), ss.to...), Raw: string(raw)}
	if m, err := mail.ReadMessage(strings.NewReader(string(raw))); err == nil {
		dec := new(mimeWordDecoder)
		msg.Subject = dec.decode(m.Header.Get("Subject"))
	}
	if _, ok := ss.conn.TLSConnectionState(); ok {
		msg.TLS = true
	}
	ss.srv.messages = append(ss.srv.messages, msg)
	return nil
}

func (ss *smtpSession) Reset() { ss.from, ss.to = "", nil }

func (ss *smtpSession) Logout() error { return nil }
