package expiry

import (
	"context"
	"crypto/tls"
	"fmt"

	mail "github.com/wneessen/go-mail"
)

// SMTP TLS modes.
const (
	TLSStartTLS = "starttls" // plain connection upgraded with STARTTLS (required)
	TLSImplicit = "tls"      // TLS from the first byte (port 465)
	TLSNone     = "none"     // no TLS; only for a relay on loopback
)

// SMTPConfig says how to reach the mail server.
type SMTPConfig struct {
	Host     string
	Port     int
	TLS      string
	Username string
	Password string
	// TLSConfig carries the CA pool (and ServerName) for verification.
	TLSConfig *tls.Config
}

// SMTPMailer delivers messages over SMTP with github.com/wneessen/go-mail.
type SMTPMailer struct {
	cfg SMTPConfig
}

// NewSMTPMailer checks the settings and returns a mailer.
func NewSMTPMailer(cfg SMTPConfig) (*SMTPMailer, error) {
	switch cfg.TLS {
	case "":
		cfg.TLS = TLSStartTLS
	case TLSStartTLS, TLSImplicit, TLSNone:
	default:
		return nil, fmt.Errorf("smtp: tls must be starttls, tls or none, not %q", cfg.TLS)
	}
	if cfg.Host == "" {
		return nil, fmt.Errorf("smtp: host is empty")
	}
	return &SMTPMailer{cfg: cfg}, nil
}

func (s *SMTPMailer) client() (*mail.Client, error) {
	opts := []mail.Option{}
	if s.cfg.Port != 0 {
		opts = append(opts, mail.WithPort(s.cfg.Port))
	}
	tc := s.cfg.TLSConfig
	if tc == nil {
		tc = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tc = tc.Clone()
	if tc.ServerName == "" {
		tc.ServerName = s.cfg.Host
	}
	opts = append(opts, mail.WithTLSConfig(tc))
	switch s.cfg.TLS {
	case TLSStartTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case TLSImplicit:
		opts = append(opts, mail.WithSSL())
	case TLSNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	}
	if s.cfg.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthPlain), mail.WithUsername(s.cfg.Username), mail.WithPassword(s.cfg.Password))
	}
	return mail.NewClient(s.cfg.Host, opts...)
}

// Send delivers one message (multipart/alternative when it has HTML).
func (s *SMTPMailer) Send(ctx context.Context, m Message) error {
	msg := mail.NewMsg()
	if err := msg.From(m.From); err != nil {
		return fmt.Errorf("smtp: from %q: %w", m.From, err)
	}
	if err := msg.To(m.To...); err != nil {
		return fmt.Errorf("smtp: to %v: %w", m.To, err)
	}
	msg.Subject(m.Subject)
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	}
	c, err := s.client()
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("smtp %s: %w", s.cfg.Host, err)
	}
	return nil
}
