package saml

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/crewjam/saml/xmlenc"
	dsig "github.com/russellhaering/goxmldsig"
)

// gcmAssertion encrypts a (signed) assertion with AES-128-GCM under a
// fresh key, itself encrypted to the SP certificate with keyAlg (OAEP
// with SHA-1, or PKCS#1 v1.5). Written out here because the SAML
// library's own GCM encrypter does not produce decryptable output.
func gcmAssertion(t *testing.T, assertion string, spCert *x509.Certificate, keyAlg string) string {
	t.Helper()
	key, nonce := make([]byte, 16), make([]byte, 12)
	_, _ = rand.Read(key)
	_, _ = rand.Read(nonce)
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	ct := g.Seal(nonce, nonce, []byte(assertion), nil)
	pub := spCert.PublicKey.(*rsa.PublicKey)
	var ek []byte
	if keyAlg == algRSAOAEPMGF1P {
		ek, err = rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, key, nil)
	} else {
		ek, err = rsa.EncryptPKCS1v15(rand.Reader, pub, key) //nolint:staticcheck // SA1019: an IdP may still send rsa-1_5 key transport; the test makes one
	}
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString
	return `<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element">` +
		`<xenc:EncryptionMethod Algorithm="` + algAES128GCM + `"/>` +
		`<ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="` + keyAlg + `"/>` +
		`<xenc:CipherData><xenc:CipherValue>` + b64(ek) + `</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo>` +
		`<xenc:CipherData><xenc:CipherValue>` + b64(ct) + `</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion>`
}

const algRSA15 = "http://www.w3.org/2001/04/xmlenc#rsa-1_5"

// encryptedAssertion encrypts a (signed) assertion to the SP certificate
// with the given key transport and block cipher.
func encryptedAssertion(t *testing.T, assertion string, spCert *x509.Certificate, kt xmlenc.RSA, bc xmlenc.BlockCipher) string {
	t.Helper()
	kt.BlockCipher = bc
	el, err := kt.Encrypt(spCert, []byte(assertion), make([]byte, 12))
	if err != nil {
		t.Fatalf("encrypt: %v", err)
	}
	doc := etree.NewDocument()
	doc.SetRoot(el)
	s, err := doc.WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	return `<saml:EncryptedAssertion>` + s + `</saml:EncryptedAssertion>`
}

// signResponse signs a whole Response (enveloped signature).
func signResponse(t *testing.T, body []byte, key *rsa.PrivateKey, cert *x509.Certificate) []byte {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(body); err != nil {
		t.Fatal(err)
	}
	ctx, err := dsig.NewSigningContext(key, [][]byte{cert.Raw})
	if err != nil {
		t.Fatal(err)
	}
	if err := ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
		t.Fatal(err)
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	signed, err := ctx.SignEnveloped(doc.Root())
	if err != nil {
		t.Fatal(err)
	}
	out := etree.NewDocument()
	out.SetRoot(signed)
	b, err := out.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Encrypted assertions are decrypted only with RSA-OAEP key transport and
// AES-GCM data encryption unless AES-CBC is allowed; rsa-1_5 never; and a
// signed Response is verified before anything in it is decrypted.
func TestEncryptedAssertionAlgorithms(t *testing.T) {
	pinClock(t, pinnedNow)
	idp := newTestIdP(t)
	other := newTestIdP(t)
	spKey, spCert := keyPair(t, "hostile test SP", certFrom, certTo)
	good := baseFixture(pinnedNow)
	signed := signedAssertion(t, good, idp.key, idp.cert)

	cases := []struct {
		name     string
		allowCBC bool
		body     func() []byte
		want     string // "" = signs in
	}{
		{"OAEP + AES-128-GCM", false, func() []byte {
			return response(t, good, gcmAssertion(t, signed, spCert, algRSAOAEPMGF1P))
		}, ""},
		{"AES-256-CBC refused by default", false, func() []byte {
			return response(t, good, encryptedAssertion(t, signed, spCert, xmlenc.OAEP(), xmlenc.AES256CBC))
		}, "AES-CBC is accepted only with sso.saml.allow_cbc_encryption"},
		{"AES-128-CBC when allowed", true, func() []byte {
			return response(t, good, encryptedAssertion(t, signed, spCert, xmlenc.OAEP(), xmlenc.AES128CBC))
		}, ""},
		{"rsa-1_5 refused", false, func() []byte {
			return response(t, good, gcmAssertion(t, signed, spCert, algRSA15))
		}, "key transport \"http://www.w3.org/2001/04/xmlenc#rsa-1_5\" is not allowed"},
		{"rsa-1_5 refused even with CBC allowed", true, func() []byte {
			return response(t, good, encryptedAssertion(t, signed, spCert, xmlenc.PKCS1v15(), xmlenc.AES128CBC))
		}, "RSA-OAEP only"},
		{"signed Response, IdP key", false, func() []byte {
			return signResponse(t, response(t, good, gcmAssertion(t, signed, spCert, algRSAOAEPMGF1P)), idp.key, idp.cert)
		}, ""},
		{"signed Response, untrusted key: refused before decrypting", false, func() []byte {
			// The ciphertext is garbage: had it been decrypted first, the
			// reason would be a decryption error.
			enc := gcmAssertion(t, signed, spCert, algRSAOAEPMGF1P)
			i := strings.Index(enc, "<xenc:CipherValue>") + len("<xenc:CipherValue>")
			enc = enc[:i] + "AAAA" + enc[i+4:]
			return signResponse(t, response(t, good, enc), other.key, other.cert)
		}, "response signature invalid (checked before decryption)"},
		{"signed Response tampered after signing", false, func() []byte {
			b := signResponse(t, response(t, good, gcmAssertion(t, signed, spCert, algRSAOAEPMGF1P)), idp.key, idp.cert)
			return []byte(strings.Replace(string(b), `Version="2.0"`, `Version="2.0" Consent="urn:x"`, 1))
		}, "response signature invalid (checked before decryption)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newHostileSP(t, idp, nil, func(o *Options) {
				o.Key, o.Certificate, o.AllowCBCEncryption = spKey, spCert, tc.allowCBC
			})
			code, reason := e.post(t, tc.body(), "", e.pend(t, reqID))
			if tc.want == "" {
				if reason != "" || code != http.StatusOK {
					t.Fatalf("refused (%d): %s", code, reason)
				}
				return
			}
			if code != http.StatusForbidden || !strings.Contains(reason, tc.want) {
				t.Fatalf("status %d reason %q, want one containing %q", code, reason, tc.want)
			}
		})
	}
}
