// Package ldap is dirbridge's reader of Active Directory and generic LDAP
// directories: a directory.Source for the sync engine, plus pass-through
// password checks and password changes for sign-in.
//
// It dials a list of servers with failover (a dead DC makes it try the
// next; a refused bind does not), binds once per read, streams paged
// searches (RFC 2696) so memory stays bounded, follows AD ranged attribute
// retrieval, expands nested groups with cycles terminating, and keeps
// incremental cursors per domain controller. No go-ldap type leaves the
// package; it depends on a small interface of its own around go-ldap's
// connection.
package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/sync/directory"
	"github.com/dirbridge/dirbridge/sync/ldap/internal/leanldap"
)

// Kinds of directory.
const (
	KindAD   = "ad"
	KindLDAP = "ldap"
)

// Config is one directory as this package needs it. The daemon's config
// package converts its own directory section into this, so the reader does
// not depend on the YAML shape.
type Config struct {
	Name string
	Kind string // "ad" or "ldap"
	// URLs are tried in order: ldap://host[:port] or ldaps://host[:port].
	URLs     []string
	StartTLS bool // upgrade ldap:// URLs with StartTLS
	CAFile   string
	// ClientCertFile and ClientKeyFile, when set, present a certificate.
	ClientCertFile string
	ClientKeyFile  string
	// InsecureSkipVerify disables certificate checks. It is logged as a
	// warning on every connection.
	InsecureSkipVerify bool
	BindDN             string
	BindPassword       string
	BaseDN             string
	UserBaseDN         string // default BaseDN
	GroupBaseDN        string // default BaseDN
	PageSize           int    // default 1000 (AD's MaxPageSize)
	// RangeSize asks for member values in explicit ranges of this size
	// (member;range=0-N). 0 lets the server decide: AD sends ranges of
	// 1,500 by itself above that size, others send everything.
	RangeSize      int
	ConnectTimeout time.Duration // default 10s
	// ReadTimeout bounds each request (a page, a bind, a lookup); default 2m.
	ReadTimeout     time.Duration
	ExtraAttributes []string
	// DisabledFilter marks users disabled on generic LDAP, e.g.
	// "(pwdAccountLockedTime=*)". AD uses userAccountControl.
	DisabledFilter string
	// UserFilter narrows which entries are users; it is ANDed with the
	// kind's default object class test.
	UserFilter string
	// ReadPasswordExpiry reads msDS-UserPasswordExpiryTimeComputed on AD.
	// It is constructed per entry and slow on some servers (~1 ms/entry on
	// Samba), hence optional.
	// On generic LDAP it reads pwdPolicySubentry and the password
	// policies' pwdMaxAge (ppolicy.go).
	ReadPasswordExpiry bool
	// PasswordPolicyDN is generic LDAP's default password policy entry,
	// for users without pwdPolicySubentry (the server's own default is in
	// cn=config, out of a service account's reach).
	PasswordPolicyDN string
	// AllowPlainPassthrough allows user password binds over ldap:// without
	// StartTLS. Never for production.
	AllowPlainPassthrough bool
	// IncrementalOverlap is subtracted from a generic LDAP cursor's time
	// so changes made within the same second are not missed; default 2m.
	IncrementalOverlap time.Duration
	// ProgressEvery is the least time between progress reports; default 5s.
	ProgressEvery time.Duration
	Logger        *zap.Logger
}

// Source reads one directory. It is safe for concurrent use: every Read,
// Authenticate and password change uses its own connection.
type Source struct {
	cfg  Config
	log  *zap.Logger
	tls  *tls.Config
	dial func(ctx context.Context, rawURL string, kind dialKind) (conn, error)
	// lookupMax is the most imported members looked up one by one; above
	// it the reader streams every user once instead.
	lookupMax int
	// fewGroups is the most imported groups resolved one by one and
	// expanded from themselves; with more, one pass reads every group.
	fewGroups int
}

// dialKind chooses the client a connection runs on.
type dialKind int

const (
	// dialFull is go-ldap's connection: binds, modifies and password
	// changes for sign-in.
	dialFull dialKind = iota
	// dialRead is leanldap's, for a directory read: it decodes search
	// results itself (go-ldap's decoding was most of a large read's time).
	dialRead
)

// conn is the part of a go-ldap connection the package uses. Keeping it this
// small keeps the package honest about what it does to the directory.
type conn interface {
	SearchAsync(ctx context.Context, req *goldap.SearchRequest, bufferSize int) goldap.Response
	Bind(username, password string) error
	Modify(req *goldap.ModifyRequest) error
	Close() error
	// IsClosing is needed because go-ldap's SearchAsync on a connection
	// that has dropped returns no entries and no error.
	IsClosing() bool
}

// Both clients are conns.
var (
	_ conn = (*goldap.Conn)(nil)
	_ conn = (*leanldap.Conn)(nil)
)

// passwordModifier is the Password Modify extended operation (RFC 3062),
// which only generic LDAP password changes need.
type passwordModifier interface {
	PasswordModify(req *goldap.PasswordModifyRequest) (*goldap.PasswordModifyResult, error)
}

// New checks cfg and returns a Source. It does no network I/O.
func New(cfg Config) (*Source, error) {
	if cfg.Name == "" {
		return nil, errors.New("ldap: name is required")
	}
	prefix := "ldap " + cfg.Name
	switch cfg.Kind {
	case KindAD, KindLDAP:
	case "":
		cfg.Kind = KindAD
	default:
		return nil, fmt.Errorf("%s: kind %q: want ad or ldap", prefix, cfg.Kind)
	}
	if len(cfg.URLs) == 0 {
		return nil, fmt.Errorf("%s: at least one URL is required", prefix)
	}
	for _, u := range cfg.URLs {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "ldap" && pu.Scheme != "ldaps") || pu.Host == "" {
			return nil, fmt.Errorf("%s: url %q: want ldap://host[:port] or ldaps://host[:port]", prefix, u)
		}
	}
	if cfg.BaseDN == "" {
		return nil, fmt.Errorf("%s: base DN is required", prefix)
	}
	for _, dn := range []string{cfg.BaseDN, cfg.UserBaseDN, cfg.GroupBaseDN, cfg.PasswordPolicyDN} {
		if dn == "" {
			continue
		}
		if _, err := goldap.ParseDN(dn); err != nil {
			return nil, fmt.Errorf("%s: base DN %q: %w", prefix, dn, err)
		}
	}
	for _, f := range []string{cfg.UserFilter, cfg.DisabledFilter} {
		if f == "" {
			continue
		}
		if _, err := goldap.CompileFilter(f); err != nil {
			return nil, fmt.Errorf("%s: filter %q: %w", prefix, f, err)
		}
	}
	if cfg.UserBaseDN == "" {
		cfg.UserBaseDN = cfg.BaseDN
	}
	if cfg.GroupBaseDN == "" {
		cfg.GroupBaseDN = cfg.BaseDN
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 1000
	}
	if cfg.RangeSize < 0 {
		return nil, fmt.Errorf("%s: range size %d: must not be negative", prefix, cfg.RangeSize)
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 2 * time.Minute
	}
	if cfg.IncrementalOverlap <= 0 {
		cfg.IncrementalOverlap = 2 * time.Minute
	}
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify} //nolint:gosec // opt-in, warned on every run
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s: ca file: %w", prefix, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: ca file %s: no PEM certificates", prefix, cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	if cfg.ClientCertFile != "" || cfg.ClientKeyFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.ClientCertFile, cfg.ClientKeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s: client certificate: %w", prefix, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	s := &Source{
		cfg:       cfg,
		log:       cfg.Logger.Named("ldap").With(zap.String("directory", cfg.Name)),
		tls:       tc,
		lookupMax: 1000,
		fewGroups: 50,
	}
	s.dial = s.dialURL
	return s, nil
}

// Name is the directory's configured name.
func (s *Source) Name() string { return s.cfg.Name }

var _ directory.Source = (*Source)(nil)

func (s *Source) errf(format string, args ...any) error {
	return fmt.Errorf("ldap "+s.cfg.Name+": "+format, args...)
}

// dialURL connects to one server with the client kind names and sets up
// TLS as configured. The dial and the TLS handshake honour ctx; later
// requests are bounded by ReadTimeout.
func (s *Source) dialURL(ctx context.Context, rawURL string, kind dialKind) (conn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		host, port = u.Host, ""
	}
	if port == "" {
		port = "389"
		if u.Scheme == "ldaps" {
			port = "636"
		}
	}
	d := net.Dialer{Timeout: s.cfg.ConnectTimeout}
	nc, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", rawURL, directory.ErrUnavailable, err)
	}
	tc := s.tls.Clone()
	tc.ServerName = host
	isTLS := false
	if u.Scheme == "ldaps" {
		tlsConn := tls.Client(nc, tc)
		hctx, cancel := context.WithTimeout(ctx, s.cfg.ConnectTimeout)
		err := tlsConn.HandshakeContext(hctx)
		cancel()
		if err != nil {
			_ = nc.Close()
			return nil, fmt.Errorf("%s: tls: %w", rawURL, err)
		}
		nc, isTLS = tlsConn, true
	}
	if kind == dialRead {
		c := leanldap.New(nc, s.cfg.ReadTimeout)
		if u.Scheme == "ldap" && s.cfg.StartTLS {
			stop := context.AfterFunc(ctx, func() { _ = c.Close() })
			err := c.StartTLS(ctx, tc)
			stop()
			if err != nil {
				_ = c.Close()
				return nil, fmt.Errorf("%s: starttls: %w", rawURL, err)
			}
		}
		return c, nil
	}
	lc := goldap.NewConn(nc, isTLS)
	lc.Start()
	lc.SetTimeout(s.cfg.ReadTimeout)
	if u.Scheme == "ldap" && s.cfg.StartTLS {
		stop := context.AfterFunc(ctx, func() { _ = lc.Close() })
		err := lc.StartTLS(tc)
		stop()
		if err != nil {
			_ = lc.Close()
			return nil, fmt.Errorf("%s: starttls: %w", rawURL, err)
		}
	}
	return lc, nil
}

// secure reports whether rawURL's connection is encrypted as configured.
func (s *Source) secure(rawURL string) bool {
	return strings.HasPrefix(rawURL, "ldaps://") || s.cfg.StartTLS
}

// isNetworkError tells an unreachable or failing server (try the next
// one) from an answer the directory gave (do not).
func isNetworkError(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, directory.ErrUnavailable) {
		return true
	}
	var le *goldap.Error
	if errors.As(err, &le) {
		return le.ResultCode == goldap.ErrorNetwork || le.ResultCode == goldap.LDAPResultUnavailable ||
			le.ResultCode == goldap.LDAPResultBusy || le.ResultCode == goldap.LDAPResultServerDown ||
			le.ResultCode == goldap.LDAPResultTimeout
	}
	// Anything that is not an LDAP result came from the connection: go-ldap
	// reports a dropped connection as a plain error ("unable to read LDAP
	// response packet: EOF").
	return true
}

// connect dials the URLs in order and binds as bindDN (when set). A server
// that cannot be reached is skipped; a refused bind ends the attempt.
func (s *Source) connect(ctx context.Context, bindDN, password string, kind dialKind) (conn, string, error) {
	if s.cfg.InsecureSkipVerify {
		s.log.Warn("TLS certificate verification is disabled (insecure_skip_verify)")
	}
	var errs []error
	for _, u := range s.cfg.URLs {
		if err := ctx.Err(); err != nil {
			return nil, "", err
		}
		c, err := s.dial(ctx, u, kind)
		if err != nil {
			s.log.Warn("directory server unreachable, trying the next", zap.String("url", u), zap.Error(err))
			errs = append(errs, err)
			continue
		}
		if bindDN != "" {
			// The bind is still connecting: a server that accepts and never
			// answers is as dead as one that refuses, and must cost the
			// connect timeout, not the read timeout, before the next.
			setTimeout(c, s.cfg.ConnectTimeout)
			stop := context.AfterFunc(ctx, func() { _ = c.Close() })
			err := c.Bind(bindDN, password)
			stop()
			setTimeout(c, s.cfg.ReadTimeout)
			if ctx.Err() != nil {
				_ = c.Close()
				return nil, "", ctx.Err()
			}
			if err != nil {
				_ = c.Close()
				if isNetworkError(err) {
					s.log.Warn("directory server failed during bind, trying the next", zap.String("url", u), zap.Error(err))
					errs = append(errs, fmt.Errorf("%s: bind: %w", u, err))
					continue
				}
				return nil, u, fmt.Errorf("%s: bind as %s: %w: %w", u, bindDN, directory.ErrBindRefused, err)
			}
		}
		return c, u, nil
	}
	return nil, "", fmt.Errorf("no directory server answered (%d tried): %w: %w", len(s.cfg.URLs), directory.ErrUnavailable, errors.Join(errs...))
}

// setTimeout bounds c's following requests (go-ldap connections).
func setTimeout(c conn, d time.Duration) {
	if tc, ok := c.(interface{ SetTimeout(time.Duration) }); ok {
		tc.SetTimeout(d)
	}
}

// serviceConn connects and binds as the service account (anonymous when
// BindDN is empty).
func (s *Source) serviceConn(ctx context.Context) (conn, string, error) {
	return s.connect(ctx, s.cfg.BindDN, s.cfg.BindPassword, dialFull)
}

// readConn is serviceConn on the read's client (leanldap).
func (s *Source) readConn(ctx context.Context) (conn, string, error) {
	return s.connect(ctx, s.cfg.BindDN, s.cfg.BindPassword, dialRead)
}

// closeOnCancel closes c when ctx ends, so requests go-ldap runs without a
// context (bind, StartTLS, modify) return at once; the returned func
// closes c and stops the watch.
func closeOnCancel(ctx context.Context, c conn) func() {
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	return func() {
		stop()
		_ = c.Close()
	}
}
