package sso

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"
)

// OCSP asks the responder named in a client certificate (its Authority
// Information Access extension) whether it is revoked. Any answer other
// than "good" — revoked, unknown, no responder, a responder that does not
// answer, a stale or badly signed response — refuses the sign-in.
type OCSP struct {
	// Client sends the requests; nil means a client with Timeout.
	Client *http.Client
	// Timeout bounds one request; default 5 s.
	Timeout time.Duration
}

// errRevoked is a certificate its issuer has revoked (by CRL or OCSP);
// other revocation errors mean the status could not be established.
var errRevoked = errors.New("certificate revoked")

// maxOCSPResponse caps what is read from a responder.
const maxOCSPResponse = 1 << 20

// revocation checks client certificates against CRL files and OCSP.
type revocation struct {
	crls *crlSet // nil: no CRL files
	ocsp *OCSP   // nil: no OCSP
}

func newRevocation(cc *ClientCert) (*revocation, error) {
	if cc == nil || (len(cc.CRLFiles) == 0 && cc.OCSP == nil) {
		return nil, nil
	}
	rv := &revocation{}
	if len(cc.CRLFiles) > 0 {
		rv.crls = &crlSet{files: cc.CRLFiles, loaded: map[string]*crlFile{}}
		if err := rv.crls.refresh(); err != nil {
			return nil, err
		}
	}
	if cc.OCSP != nil {
		o := *cc.OCSP
		if o.Timeout <= 0 {
			o.Timeout = 5 * time.Second
		}
		if o.Client == nil {
			o.Client = &http.Client{Timeout: o.Timeout}
		}
		rv.ocsp = &o
	}
	return rv, nil
}

// check answers nil when neither the CRLs nor OCSP say cert is revoked and
// each configured source could say so; errRevoked (wrapped) when one does.
func (rv *revocation) check(ctx context.Context, cert, issuer *x509.Certificate, now time.Time) error {
	if rv.crls != nil {
		if err := rv.crls.check(cert, issuer, now); err != nil {
			return fmt.Errorf("crl: %w", err)
		}
	}
	if rv.ocsp != nil {
		if err := rv.ocsp.check(ctx, cert, issuer, now); err != nil {
			return fmt.Errorf("ocsp: %w", err)
		}
	}
	return nil
}

// crlSet holds the CRLs of the configured files, re-read whenever a file's
// size or modification time changes (a CA publishes a new CRL by replacing
// the file; no restart needed).
type crlSet struct {
	files  []string
	mu     sync.Mutex
	loaded map[string]*crlFile
}

type crlFile struct {
	mod   time.Time
	size  int64
	lists []*x509.RevocationList
}

// refresh re-reads the files that changed. A file that cannot be read or
// parsed is an error: certificate sign-in then fails closed rather than
// trusting an older list that might miss a revocation.
func (cs *crlSet) refresh() error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, f := range cs.files {
		fi, err := os.Stat(f)
		if err != nil {
			return fmt.Errorf("crl file: %w", err)
		}
		if old := cs.loaded[f]; old != nil && old.mod.Equal(fi.ModTime()) && old.size == fi.Size() {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("crl file: %w", err)
		}
		lists, err := parseCRLs(raw)
		if err != nil {
			delete(cs.loaded, f)
			return fmt.Errorf("crl file %s: %w", f, err)
		}
		cs.loaded[f] = &crlFile{mod: fi.ModTime(), size: fi.Size(), lists: lists}
	}
	return nil
}

// parseCRLs reads PEM ("X509 CRL" blocks) or one DER CRL.
func parseCRLs(raw []byte) ([]*x509.RevocationList, error) {
	if !bytes.Contains(raw, []byte("-----BEGIN")) {
		l, err := x509.ParseRevocationList(raw)
		if err != nil {
			return nil, err
		}
		return []*x509.RevocationList{l}, nil
	}
	var out []*x509.RevocationList
	for rest := raw; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "X509 CRL" {
			continue
		}
		l, err := x509.ParseRevocationList(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		return nil, errors.New("no X509 CRL block")
	}
	return out, nil
}

// check finds the newest CRL the certificate's issuer signed and looks the
// serial number up in it. No CRL for the issuer, or one past its
// NextUpdate, is an error: the status is unknown.
func (cs *crlSet) check(cert, issuer *x509.Certificate, now time.Time) error {
	if err := cs.refresh(); err != nil {
		return err
	}
	cs.mu.Lock()
	var best *x509.RevocationList
	for _, f := range cs.loaded {
		for _, l := range f.lists {
			if !bytes.Equal(l.RawIssuer, cert.RawIssuer) || l.CheckSignatureFrom(issuer) != nil {
				continue
			}
			if best == nil || l.ThisUpdate.After(best.ThisUpdate) {
				best = l
			}
		}
	}
	cs.mu.Unlock()
	if best == nil {
		return fmt.Errorf("no CRL signed by %s", issuer.Subject)
	}
	if !best.NextUpdate.IsZero() && now.After(best.NextUpdate) {
		return fmt.Errorf("the CRL of %s expired at %s", issuer.Subject, best.NextUpdate.UTC().Format(time.RFC3339))
	}
	for _, e := range best.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
			return fmt.Errorf("%w at %s (CRL of %s)", errRevoked, e.RevocationTime.UTC().Format(time.RFC3339), issuer.Subject)
		}
	}
	return nil
}

// check asks the certificate's first OCSP responder.
func (o *OCSP) check(ctx context.Context, cert, issuer *x509.Certificate, now time.Time) error {
	if len(cert.OCSPServer) == 0 {
		return errors.New("the certificate names no OCSP responder")
	}
	der, err := ocsp.CreateRequest(cert, issuer, nil)
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	// The responder's URL is in a certificate the configured CA signed,
	// verified before revocation is asked: the CA, not the client, names it.
	url := cert.OCSPServer[0]
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(der)) //nolint:gosec // G704: URL from a CA-signed certificate, see above

	if err != nil {
		return fmt.Errorf("request %s: %w", url, err)
	}
	req.Header.Set("Content-Type", "application/ocsp-request")
	resp, err := o.Client.Do(req) //nolint:gosec // G704: URL from a CA-signed certificate, see above
	if err != nil {
		return fmt.Errorf("ask %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("ask %s: HTTP %d", url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxOCSPResponse))
	if err != nil {
		return fmt.Errorf("read %s: %w", url, err)
	}
	r, err := ocsp.ParseResponseForCert(body, cert, issuer)
	if err != nil {
		return fmt.Errorf("response of %s: %w", url, err)
	}
	const skew = 5 * time.Minute
	if r.ThisUpdate.After(now.Add(skew)) || (!r.NextUpdate.IsZero() && now.After(r.NextUpdate.Add(skew))) {
		return fmt.Errorf("response of %s is outside its validity (%s to %s)", url, r.ThisUpdate, r.NextUpdate)
	}
	switch r.Status {
	case ocsp.Good:
		return nil
	case ocsp.Revoked:
		return fmt.Errorf("%w at %s (OCSP %s)", errRevoked, r.RevokedAt.UTC().Format(time.RFC3339), url)
	default:
		return fmt.Errorf("%s does not know the certificate", url)
	}
}
