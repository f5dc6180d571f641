package sso

import (
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/sso/policy"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// certs is client-certificate sign-in at /login/certificate.
type certs struct {
	*core
	fin *finisher
}

func (ce *certs) routes(mux *http.ServeMux) {
	if ce.opts.ClientCert != nil {
		mux.HandleFunc("GET /login/certificate", ce.handleCertLogin)
	}
}

// ClientCert configures client-certificate sign-in. When dirbridge
// terminates TLS, its tls.Config should request a certificate
// (tls.VerifyClientCertIfGiven with CAs as ClientCAs); behind a proxy that
// terminates TLS, Header names the header carrying the certificate the
// proxy verified, believed only from TrustedProxies. Either way the chain
// and validity are checked here against CAs with the Service's clock.
type ClientCert struct {
	CAs *x509.CertPool
	// MapBy is the order certificate names are matched to users: "upn"
	// (SAN otherName UPN, matched to the user's UPN), "email" (SAN e-mail
	// or subject e-mail, matched to e-mail), "cn" (subject CN, matched to
	// username). Default: upn, email, cn.
	MapBy []string
	// Header, when set, is e.g. "X-Ssl-Client-Cert" (nginx
	// $ssl_client_escaped_cert: URL-escaped PEM) or
	// "X-Forwarded-Tls-Client-Cert" (Traefik: base64 DER).
	Header string
	// CRLFiles are CRLs (PEM or DER) of the CAs that issue client
	// certificates, re-read when a file changes. When set, a certificate
	// whose issuer has no current CRL among them is refused.
	CRLFiles []string
	// OCSP, when set, asks each certificate's OCSP responder too.
	OCSP *OCSP
}

// oidUPN is Microsoft's user principal name otherName in SANs.
var (
	oidUPN = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3}
	oidSAN = asn1.ObjectIdentifier{2, 5, 29, 17}
)

// handleCertLogin signs in with a client certificate. With SSO enforced it
// is a bypass and needs bypass_sso, like a password.
func (ce *certs) handleCertLogin(w http.ResponseWriter, r *http.Request) {
	cc := ce.opts.ClientCert
	returnTo := SafeReturnTo(r.URL.Query().Get("return_to"), ce.allowed)
	a := &attempt{method: MethodCert, ip: clientIP(r, ce.opts.TrustedProxies), returnTo: returnTo,
		bypass: ce.opts.Enforce, details: map[string]any{}}
	generic := "No usable client certificate was presented, or it does not belong to an account allowed to sign in this way."

	cert, err := ce.clientCertificate(r)
	if err != nil {
		ce.refuse(w, r, a, store.OutcomeFailure, http.StatusUnauthorized, "certificate: "+err.Error(), generic)
		return
	}
	a.details["certificate"] = map[string]any{"subject": cert.Subject.String(), "issuer": cert.Issuer.String(),
		"serial": cert.SerialNumber.String(), "not_after": cert.NotAfter}
	opts := x509.VerifyOptions{Roots: cc.CAs, CurrentTime: ce.now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	chains, err := cert.Verify(opts)
	if err != nil {
		ce.refuse(w, r, a, store.OutcomeFailure, http.StatusUnauthorized, "certificate not trusted: "+err.Error(), generic)
		return
	}
	if ce.revoke != nil {
		if err := ce.revoke.check(r.Context(), cert, issuerOf(chains[0]), ce.now()); err != nil {
			outcome, why := store.OutcomeFailure, "certificate revocation status unknown: "
			if errors.Is(err, errRevoked) {
				outcome, why = store.OutcomeDenied, ""
			}
			ce.log.Warn("certificate sign-in refused: revocation", zap.String("subject", cert.Subject.String()), zap.Error(err))
			ce.refuse(w, r, a, outcome, http.StatusUnauthorized, why+err.Error(), generic)
			return
		}
	}
	u, key, err := ce.userForCert(r, cert)
	if err != nil {
		if !errors.Is(err, errUnknownUser) && !errors.Is(err, errAmbiguousUser) {
			ce.unavailable(w, r, a, err)
			return
		}
		a.username = cert.Subject.CommonName
		ce.refuse(w, r, a, store.OutcomeDenied, http.StatusUnauthorized, err.Error(), generic)
		return
	}
	a.user, a.details["key_matched"] = u, key
	if a.bypass && !canBypass(r.Context(), ce.core, u) {
		ce.refuse(w, r, a, store.OutcomeDenied, http.StatusUnauthorized, "bypass refused: user lacks bypass_sso", generic)
		return
	}
	if refusal, err := ce.directoryState(r.Context(), u); err != nil {
		ce.unavailable(w, r, a, err)
		return
	} else if refusal != "" {
		ce.refuse(w, r, a, store.OutcomeDenied, http.StatusUnauthorized, refusal, generic)
		return
	}
	ce.fin.complete(w, r, a)
}

// issuerOf is the certificate that signed a verified chain's leaf (the
// leaf itself when it is its own root).
func issuerOf(chain []*x509.Certificate) *x509.Certificate {
	if len(chain) > 1 {
		return chain[1]
	}
	return chain[0]
}

// directoryState asks a directory user's directory for the account's live
// state, as a password sign-in's bind does: a certificate proves nothing
// to the directory, so without this an account disabled there would sign
// in until the next sync. It returns the audit reason of a refusal, or an
// error when the directory could not be asked (an outage: no verdict).
// Local users have no directory to ask.
func (ce *certs) directoryState(ctx context.Context, u store.User) (string, error) {
	if u.Source == store.SourceLocal || u.Source == "" {
		return "", nil
	}
	if u.Source == store.SourceIdP {
		// Its factors are the IdP's; a certificate is not one of them.
		return reasonIdPOnly, nil
	}
	dir := ce.opts.Directories[u.Source]
	if dir == nil {
		return fmt.Sprintf("no directory %q configured to check the account's state", u.Source), nil
	}
	du, err := dir.LookupAccount(ctx, directoryAccount(u))
	switch {
	case errors.Is(err, directory.ErrNoSuchUser):
		return "directory refused: account not found (deleted, or its name now belongs to another object)", nil
	case err != nil:
		return "", fmt.Errorf("%w: %s: %w", errDirectoryOutage, u.Source, err)
	case du.Disabled:
		return "directory refused: " + directory.ErrAccountDisabled.Error(), nil
	case !du.AccountExpiresAt.IsZero() && !ce.now().Before(du.AccountExpiresAt):
		return "directory refused: " + directory.ErrAccountExpired.Error(), nil
	}
	return "", nil
}

// clientCertificate is the certificate of this request: from the TLS
// handshake, or from the configured header when the peer is a trusted proxy.
func (ce *certs) clientCertificate(r *http.Request) (*x509.Certificate, error) {
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return r.TLS.PeerCertificates[0], nil
	}
	h := ce.opts.ClientCert.Header
	if h == "" || r.Header.Get(h) == "" {
		return nil, errors.New("none presented")
	}
	if !isTrustedPeer(r, ce.opts.TrustedProxies) {
		return nil, fmt.Errorf("header %s from %s, which is not a trusted proxy", h, r.RemoteAddr)
	}
	raw, err := url.QueryUnescape(r.Header.Get(h))
	if err != nil {
		return nil, fmt.Errorf("header %s: %w", h, err)
	}
	var der []byte
	if b, _ := pem.Decode([]byte(raw)); b != nil {
		der = b.Bytes
	} else if der, err = base64.StdEncoding.DecodeString(strings.TrimSpace(raw)); err != nil {
		return nil, fmt.Errorf("header %s: neither PEM nor base64 DER", h)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("header %s: %w", h, err)
	}
	return cert, nil
}

// isTrustedPeer reports whether the connection itself comes from a
// trusted proxy (X-Forwarded-For plays no part).
func isTrustedPeer(r *http.Request, trusted []netip.Prefix) bool {
	peer := policy.ClientIP(r.RemoteAddr, "", nil)
	return peer.IsValid() && slices.ContainsFunc(trusted, func(p netip.Prefix) bool { return p.Contains(peer) })
}

// userForCert maps a certificate to the one active user it names.
func (ce *certs) userForCert(r *http.Request, cert *x509.Certificate) (store.User, string, error) {
	order := ce.opts.ClientCert.MapBy
	if len(order) == 0 {
		order = []string{"upn", "email", "cn"}
	}
	for _, by := range order {
		var (
			k      store.UserKey
			values []string
		)
		switch by {
		case "upn":
			k, values = store.KeyUPN, certUPNs(cert)
		case "email":
			k, values = store.KeyEmail, cert.EmailAddresses
			for _, n := range cert.Subject.Names {
				if n.Type.Equal(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}) {
					if v, ok := n.Value.(string); ok {
						values = append(values, v)
					}
				}
			}
		case "cn":
			k, values = store.KeyUsername, []string{cert.Subject.CommonName}
		}
		for _, v := range values {
			if v == "" {
				continue
			}
			users, err := ce.store.FindUsers(r.Context(), k, v)
			if err != nil {
				return store.User{}, "", fmt.Errorf("find user by %s: %w", k, err)
			}
			users = slices.DeleteFunc(users, func(u store.User) bool { return u.State != store.StateActive })
			switch len(users) {
			case 0:
			case 1:
				return users[0], by, nil
			default:
				return store.User{}, by, fmt.Errorf("%w (certificate %s %q)", errAmbiguousUser, by, v)
			}
		}
	}
	return store.User{}, "", fmt.Errorf("%w (certificate %q)", errUnknownUser, cert.Subject.String())
}

// certUPNs reads the UPN otherNames of a certificate's SAN extension,
// which crypto/x509 does not parse.
func certUPNs(cert *x509.Certificate) []string {
	var out []string
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(oidSAN) {
			continue
		}
		var seq asn1.RawValue
		if _, err := asn1.Unmarshal(ext.Value, &seq); err != nil {
			return nil
		}
		rest := seq.Bytes
		for len(rest) > 0 {
			var gn asn1.RawValue
			var err error
			if rest, err = asn1.Unmarshal(rest, &gn); err != nil {
				return out
			}
			if gn.Class != asn1.ClassContextSpecific || gn.Tag != 0 {
				continue
			}
			// otherName ::= [0] IMPLICIT SEQUENCE { type-id OID, value [0] EXPLICIT ANY }
			var id asn1.ObjectIdentifier
			body, err := asn1.Unmarshal(gn.Bytes, &id)
			if err != nil || !id.Equal(oidUPN) {
				continue
			}
			var val asn1.RawValue
			if _, err := asn1.Unmarshal(body, &val); err != nil || val.Class != asn1.ClassContextSpecific || val.Tag != 0 {
				continue
			}
			var upn string
			if _, err := asn1.Unmarshal(val.Bytes, &upn); err == nil {
				out = append(out, upn)
			}
		}
	}
	return out
}
