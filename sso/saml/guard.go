package saml

import (
	"bytes"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/beevik/etree"
	"github.com/crewjam/saml/xmlenc"
)

// XML namespaces the guard looks for.
const (
	nsProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	nsAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsDSig      = "http://www.w3.org/2000/09/xmldsig#"
	nsXMLEnc    = "http://www.w3.org/2001/04/xmlenc#"

	bearerMethod = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
)

// guardResult is what the guard learned from the Response element itself,
// before any signature is checked. Nothing in it is trusted: it only
// decides which pending request to look up and which checks apply.
type guardResult struct {
	InResponseTo string
	Destination  string
	Issuer       string
	Encrypted    bool
}

// guard screens a decoded SAML response before crewjam parses it. crewjam
// v0.5.1 accepts a DOCTYPE, spends super-quadratic CPU canonicalising deeply
// nested XML before checking anything, panics on a signed assertion without
// Conditions and accepts an assertion without Audience or
// SubjectConfirmation. The guard streams the document once with
// encoding/xml (linear cost, no entity expansion) and refuses all of these
// with a precise reason. An encrypted assertion is decrypted with the SP key
// and screened the same way, because its structure is only visible then —
// but only after a signed Response's signature has been checked and only
// with the allowed algorithms (see decryptAssertion).
func guard(doc []byte, o guardOptions) (guardResult, error) {
	var res guardResult
	maxDepth := o.maxDepth
	sc := scanner{maxDepth: maxDepth}
	if err := sc.scan(doc, "Response"); err != nil {
		return res, err
	}
	res.InResponseTo = sc.rootAttr["InResponseTo"]
	res.Destination = sc.rootAttr["Destination"]
	res.Issuer = sc.responseIssuer
	switch n := sc.assertions + sc.encryptedAssertions; {
	case n == 0:
		return res, errors.New("response contains no assertion")
	case n > 1:
		return res, fmt.Errorf("response contains %d assertions; exactly one is accepted", n)
	}
	if sc.encryptedAssertions == 1 {
		res.Encrypted = true
		if o.key == nil {
			return res, errors.New("response holds an encrypted assertion but no SP key is configured")
		}
		plain, err := decryptAssertion(doc, o)
		if err != nil {
			return res, err
		}
		inner := scanner{maxDepth: maxDepth}
		if err := inner.scan(plain, "Assertion"); err != nil {
			return res, fmt.Errorf("encrypted assertion: %w", err)
		}
		if inner.assertions+inner.encryptedAssertions != 1 {
			return res, errors.New("encrypted assertion holds nested assertions")
		}
		return res, inner.checkAssertionShape()
	}
	return res, sc.checkAssertionShape()
}

// guardOptions are what the guard needs besides the document.
type guardOptions struct {
	maxDepth int
	// key is the SP's private key for encrypted assertions; nil without.
	key any
	// idpCerts are the IdP's signing certificates: a signed Response is
	// verified with them before its assertion is decrypted.
	idpCerts []*x509.Certificate
	// allowCBC accepts AES-CBC data encryption (Options.AllowCBCEncryption).
	allowCBC bool
}

// scanner walks the token stream and records the shape of the one
// assertion it expects.
type scanner struct {
	maxDepth int
	// ns holds the prefix bindings each open element declares. RawToken
	// does not resolve prefixes, and Token would also rewrite the stream
	// we screen, so the scanner resolves them itself.
	ns []map[string]string

	rootAttr            map[string]string
	responseIssuer      string
	assertions          int
	encryptedAssertions int

	// Shape of the (first) assertion.
	hasConditions       bool
	hasAudience         bool
	hasSubject          bool
	hasNameID           bool
	hasBearerConfirm    bool
	hasConfirmationData bool
}

// scanAny screens a document whose root may be anything (metadata).
func (sc *scanner) scanAny(doc []byte) error { return sc.scan(doc, "") }

func (sc *scanner) scan(doc []byte, rootLocal string) error {
	dec := xml.NewDecoder(bytes.NewReader(doc))
	dec.Strict = true
	// Entities other than the five predefined ones are an error: no
	// expansion, no external fetches.
	dec.Entity = nil
	var stack []xml.Name
	var text strings.Builder
	seenRoot := false
	for {
		tok, err := dec.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("malformed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			// <!DOCTYPE ...>, <!ENTITY ...>: SAML never needs a DTD, and a
			// DTD is how entity-expansion and XXE attacks start.
			return errors.New("XML DOCTYPE or other DTD directive is not allowed")
		case xml.ProcInst:
			if t.Target != "xml" || len(stack) > 0 {
				return fmt.Errorf("XML processing instruction %q is not allowed", t.Target)
			}
		case xml.Comment:
			// Comments inside signed values are how NameID truncation
			// attacks (comment injection) work; no IdP needs them.
			return errors.New("XML comments are not allowed in a SAML response")
		case xml.StartElement:
			if len(stack) >= sc.maxDepth {
				return fmt.Errorf("XML nesting deeper than %d elements", sc.maxDepth)
			}
			name := sc.resolve(t.Name, t.Attr)
			if !seenRoot {
				seenRoot = true
				if rootLocal != "" && name.Local != rootLocal || (rootLocal == "Response" && name.Space != nsProtocol) || (rootLocal == "Assertion" && name.Space != nsAssertion) {
					return fmt.Errorf("root element is %s, want %s", name.Local, rootLocal)
				}
				sc.rootAttr = map[string]string{}
				for _, a := range t.Attr {
					if a.Name.Space == "" {
						sc.rootAttr[a.Name.Local] = a.Value
					}
				}
			}
			sc.start(name, t.Attr, stack)
			stack = append(stack, name)
			text.Reset()
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			if len(stack) == 0 {
				return errors.New("malformed XML: unbalanced end element")
			}
			name := stack[len(stack)-1]
			sc.end(name, strings.TrimSpace(text.String()), stack)
			stack = stack[:len(stack)-1]
			sc.ns = sc.ns[:len(sc.ns)-1]
			text.Reset()
		}
	}
	if !seenRoot {
		return errors.New("empty XML document")
	}
	return nil
}

func (sc *scanner) start(name xml.Name, attrs []xml.Attr, stack []xml.Name) {
	if name.Space == nsAssertion && name.Local == "Assertion" {
		sc.assertions++
	}
	if name.Space == nsAssertion && name.Local == "EncryptedAssertion" {
		sc.encryptedAssertions++
	}
	if sc.assertions+sc.encryptedAssertions != 1 || name.Space != nsAssertion {
		return
	}
	parent := ""
	if len(stack) > 0 && stack[len(stack)-1].Space == nsAssertion {
		parent = stack[len(stack)-1].Local
	}
	switch {
	case name.Local == "Conditions" && parent == "Assertion":
		sc.hasConditions = true
	case name.Local == "Subject" && parent == "Assertion":
		sc.hasSubject = true
	case name.Local == "SubjectConfirmation" && parent == "Subject":
		for _, a := range attrs {
			if a.Name.Local == "Method" && a.Value == bearerMethod {
				sc.hasBearerConfirm = true
			}
		}
	case name.Local == "SubjectConfirmationData" && parent == "SubjectConfirmation":
		sc.hasConfirmationData = true
	}
}

func (sc *scanner) end(name xml.Name, text string, stack []xml.Name) {
	if name.Space != nsAssertion || sc.assertions+sc.encryptedAssertions > 1 {
		return
	}
	parent := ""
	if len(stack) > 1 && stack[len(stack)-2].Space == nsAssertion {
		parent = stack[len(stack)-2].Local
	}
	switch {
	case name.Local == "Issuer" && len(stack) == 2:
		sc.responseIssuer = text
	case name.Local == "Audience" && parent == "AudienceRestriction" && text != "":
		sc.hasAudience = true
	case name.Local == "NameID" && parent == "Subject" && text != "":
		sc.hasNameID = true
	}
}

// checkAssertionShape refuses assertions crewjam would mishandle.
func (sc *scanner) checkAssertionShape() error {
	switch {
	case !sc.hasConditions:
		return errors.New("assertion has no Conditions")
	case !sc.hasAudience:
		return errors.New("assertion Conditions has no AudienceRestriction/Audience")
	case !sc.hasSubject:
		return errors.New("assertion has no Subject")
	case !sc.hasBearerConfirm:
		return errors.New("assertion Subject has no bearer SubjectConfirmation")
	case !sc.hasConfirmationData:
		return errors.New("assertion SubjectConfirmation has no SubjectConfirmationData")
	}
	return nil
}

// resolve maps n's prefix to its namespace and opens a scope for the
// element's own declarations.
func (sc *scanner) resolve(n xml.Name, attrs []xml.Attr) xml.Name {
	var m map[string]string
	for _, a := range attrs {
		switch {
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			if m == nil {
				m = map[string]string{}
			}
			m[""] = a.Value
		case a.Name.Space == "xmlns":
			if m == nil {
				m = map[string]string{}
			}
			m[a.Name.Local] = a.Value
		}
	}
	sc.ns = append(sc.ns, m)
	for i := len(sc.ns) - 1; i >= 0; i-- {
		if v, ok := sc.ns[i][n.Space]; ok {
			return xml.Name{Space: v, Local: n.Local}
		}
	}
	return xml.Name{Local: n.Local}
}

// decryptAssertion decrypts the one EncryptedAssertion of a response with
// the SP key. The document has already passed the guard (no DTD, bounded
// depth), so etree may parse it. Nothing is decrypted before two checks:
// a Response that carries a signature must verify against the IdP's
// certificates (so a signed response is known to be the IdP's before any
// of it is decrypted), and the key and data algorithms must be allowed
// (RSA-OAEP and AES-GCM; AES-CBC only when allowed) — the decryption of
// attacker-chosen ciphertexts is what padding-oracle attacks feed on.
func decryptAssertion(doc []byte, o guardOptions) ([]byte, error) {
	d := etree.NewDocument()
	if err := d.ReadFromBytes(doc); err != nil {
		return nil, fmt.Errorf("decrypt assertion: parse: %w", err)
	}
	root := d.Root()
	if childNS(root, nsDSig, "Signature") != nil {
		if len(o.idpCerts) == 0 {
			return nil, errors.New("response signature cannot be checked before decryption: no IdP signing certificate")
		}
		if err := verifyEnveloped(root, o.idpCerts); err != nil {
			return nil, fmt.Errorf("response signature invalid (checked before decryption): %w", err)
		}
	}
	enc := childNS(root, nsAssertion, "EncryptedAssertion")
	if enc == nil {
		return nil, errors.New("decrypt assertion: EncryptedAssertion is not a child of Response")
	}
	if err := checkEncryptionAlgorithms(enc, o.allowCBC); err != nil {
		return nil, fmt.Errorf("encrypted assertion refused: %w", err)
	}
	data := childNS(enc, nsXMLEnc, "EncryptedData")
	// The key is either a sibling of EncryptedData (as crewjam reads it) or
	// inside its KeyInfo, which xmlenc.Decrypt handles itself.
	var dataKey = o.key
	if keyEl := enc.FindElement("./EncryptedKey"); keyEl != nil {
		k, err := xmlenc.Decrypt(o.key, keyEl)
		if err != nil {
			return nil, fmt.Errorf("decrypt assertion: decrypt key: %w", err)
		}
		dataKey = k
	}
	plain, err := xmlenc.Decrypt(dataKey, data)
	if err != nil {
		return nil, fmt.Errorf("decrypt assertion: decrypt data: %w", err)
	}
	return plain, nil
}
