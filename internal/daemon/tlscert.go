package daemon

import (
	"crypto/tls"
	"fmt"
	"sync/atomic"
)

// certReloader serves the listener's certificate and re-reads it from the
// same files on SIGHUP, so a renewed certificate (ACME, an internal CA) is
// picked up without a restart. New paths in the config still need one.
type certReloader struct {
	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate]
}

func newCertReloader(certFile, keyFile string) (*certReloader, error) {
	c := &certReloader{certFile: certFile, keyFile: keyFile}
	if err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// reload reads the pair; on error the current certificate stays.
func (c *certReloader) reload() error {
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("server.tls: %w", err)
	}
	c.cert.Store(&pair)
	return nil
}

func (c *certReloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.cert.Load(), nil
}
