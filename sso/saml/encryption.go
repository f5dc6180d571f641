package saml

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/beevik/etree"
	crewsaml "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"
)

// Encryption algorithms of XML Encryption, as IdPs name them.
const (
	algRSAOAEPMGF1P = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
	algAES128GCM    = "http://www.w3.org/2009/xmlenc11#aes128-gcm"
	algAES128CBC    = "http://www.w3.org/2001/04/xmlenc#aes128-cbc"
	algAES192CBC    = "http://www.w3.org/2001/04/xmlenc#aes192-cbc"
	algAES256CBC    = "http://www.w3.org/2001/04/xmlenc#aes256-cbc"
)

// keyTransport are the accepted EncryptedKey algorithms: RSA-OAEP only
// (rsa-oaep-mgf1p; the SAML library cannot decrypt the xmlenc11 spelling).
// RSA PKCS#1 v1.5 (rsa-1_5) is never accepted: a server that decrypts it
// and answers differently on bad padding is a Bleichenbacher oracle.
var keyTransport = map[string]bool{algRSAOAEPMGF1P: true}

// dataGCM are the accepted EncryptedData algorithms by default: AES-GCM,
// which authenticates the ciphertext. (The SAML library decrypts AES-128
// GCM only; AES-192/256-GCM would be refused by it as unimplemented.)
var dataGCM = map[string]bool{algAES128GCM: true}

// dataCBC are the AES-CBC algorithms accepted only with
// Options.AllowCBCEncryption: CBC without a MAC is malleable and open to
// padding-oracle attacks on the decrypting side (the XML Encryption
// attack of Jager and Somorovsky), but some IdPs (SimpleSAMLphp 1.x, older
// ADFS) encrypt with nothing else.
var dataCBC = map[string]bool{algAES128CBC: true, algAES192CBC: true, algAES256CBC: true}

// checkEncryptionAlgorithms refuses an EncryptedAssertion whose key or
// data encryption is not allowed, before anything is decrypted. Every
// EncryptedKey (beside EncryptedData or inside its KeyInfo) must use
// RSA-OAEP; the EncryptedData must use AES-GCM, or AES-CBC when allowCBC.
func checkEncryptionAlgorithms(enc *etree.Element, allowCBC bool) error {
	data := childNS(enc, nsXMLEnc, "EncryptedData")
	if data == nil {
		return errors.New("EncryptedAssertion has no EncryptedData")
	}
	alg, err := encryptionMethod(data)
	if err != nil {
		return fmt.Errorf("EncryptedData: %w", err)
	}
	switch {
	case dataGCM[alg]:
	case dataCBC[alg] && allowCBC:
	case dataCBC[alg]:
		return fmt.Errorf("data encryption %s is not allowed: AES-CBC is accepted only with sso.saml.allow_cbc_encryption (the IdP should use AES-GCM)", alg)
	default:
		return fmt.Errorf("data encryption %q is not allowed (AES-128-GCM only)", alg)
	}
	keys := 0
	var walk func(*etree.Element) error
	walk = func(el *etree.Element) error {
		for _, c := range el.ChildElements() {
			if c.Tag == "EncryptedKey" && c.NamespaceURI() == nsXMLEnc {
				keys++
				alg, err := encryptionMethod(c)
				if err != nil {
					return fmt.Errorf("EncryptedKey: %w", err)
				}
				if !keyTransport[alg] {
					return fmt.Errorf("key transport %q is not allowed (RSA-OAEP only)", alg)
				}
			}
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(enc); err != nil {
		return err
	}
	if keys == 0 {
		return errors.New("EncryptedAssertion carries no EncryptedKey")
	}
	return nil
}

func encryptionMethod(el *etree.Element) (string, error) {
	m := childNS(el, nsXMLEnc, "EncryptionMethod")
	if m == nil {
		return "", errors.New("no EncryptionMethod")
	}
	return strings.TrimSpace(m.SelectAttrValue("Algorithm", "")), nil
}

// childNS is el's first child element with this namespace and local name.
func childNS(el *etree.Element, ns, local string) *etree.Element {
	for _, c := range el.ChildElements() {
		if c.Tag == local && c.NamespaceURI() == ns {
			return c
		}
	}
	return nil
}

// signingCerts are the IdP's signing certificates from its metadata
// (KeyDescriptors with use "signing" or no use).
func signingCerts(ed *crewsaml.EntityDescriptor) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for _, d := range ed.IDPSSODescriptors {
		for _, kd := range d.KeyDescriptors {
			if kd.Use != "" && kd.Use != "signing" {
				continue
			}
			for _, c := range kd.KeyInfo.X509Data.X509Certificates {
				der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(c.Data), ""))
				if err != nil {
					return nil, fmt.Errorf("signing certificate: %w", err)
				}
				cert, err := x509.ParseCertificate(der)
				if err != nil {
					return nil, fmt.Errorf("signing certificate: %w", err)
				}
				out = append(out, cert)
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no signing certificate")
	}
	return out, nil
}

// verifyEnveloped checks the enveloped signature of el (a Response)
// against certs, as the SAML library does later, so a signed Response is
// known to come from the IdP before its assertion is decrypted. It works
// on a copy: el is left as it was.
func verifyEnveloped(el *etree.Element, certs []*x509.Certificate) error {
	el = el.Copy()
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: certs})
	vc.IdAttribute = "ID"
	// A KeyInfo without a certificate (a bare RSAKeyValue) names a key we
	// cannot tie to the metadata: drop it so the metadata's keys decide,
	// as the SAML library does.
	if el.FindElement("./Signature/KeyInfo/X509Data/X509Certificate") == nil {
		if sig := el.FindElement("./Signature"); sig != nil {
			if ki := sig.FindElement("KeyInfo"); ki != nil {
				sig.RemoveChild(ki)
			}
		}
	}
	ctx, err := etreeutils.NSBuildParentContext(el)
	if err != nil {
		return err
	}
	if ctx, err = ctx.SubContext(el); err != nil {
		return err
	}
	if el, err = etreeutils.NSDetatch(ctx, el); err != nil {
		return err
	}
	if _, err := vc.Validate(el); err != nil {
		return err
	}
	return nil
}
