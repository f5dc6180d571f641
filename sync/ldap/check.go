package ldap

import (
	"context"
	"fmt"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// CheckResult is what Check found at one directory server.
type CheckResult struct {
	URL     string
	Elapsed time.Duration
	// Err is nil when the server answered, the service account bound and
	// the base DN could be read.
	Err error
}

// Check tries every configured server, not only the first that answers
// as a sync does: dial (TLS as configured, so a certificate problem shows
// here), bind as the service account, read the base DN. It is `config
// check --online`'s directory part.
func (s *Source) Check(ctx context.Context) []CheckResult {
	out := make([]CheckResult, 0, len(s.cfg.URLs))
	for _, u := range s.cfg.URLs {
		start := time.Now()
		err := s.checkURL(ctx, u)
		out = append(out, CheckResult{URL: u, Elapsed: time.Since(start), Err: err})
	}
	return out
}

func (s *Source) checkURL(ctx context.Context, u string) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ConnectTimeout+s.cfg.ReadTimeout)
	defer cancel()
	c, err := s.dial(ctx, u, dialFull)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()
	if s.cfg.BindDN != "" {
		if err := c.Bind(s.cfg.BindDN, s.cfg.BindPassword); err != nil {
			return fmt.Errorf("bind as %s: %w", s.cfg.BindDN, err)
		}
	}
	req := goldap.NewSearchRequest(s.cfg.BaseDN, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", []string{"1.1"}, nil)
	res := c.SearchAsync(ctx, req, 1)
	for res.Next() {
	}
	if err := res.Err(); err != nil {
		return fmt.Errorf("read base DN %s: %w", s.cfg.BaseDN, err)
	}
	return nil
}
