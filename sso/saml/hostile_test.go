package saml

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"

	crewsaml "github.com/crewjam/saml"

	"github.com/dirbridge/dirbridge/sso/internal/token"
	"github.com/dirbridge/dirbridge/store/sqlite"
)

// The hostile catalogue: responses made by a generator at test time,
// signed with a test IdP key, on a pinned clock (never committed XML with
// real dates). Each case must be refused with a precise reason passed to
// Finisher.Fail. These tests pin crewjam's package clock and so must not
// run in parallel.

var pinnedNow = time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)

const (
	hostileIdP = "https://idp.hostile.test/metadata"
	hostileSP  = "https://sp.hostile.test"
	hostileACS = hostileSP + "/saml/acs"
	hostileAud = hostileSP + "/saml/metadata"
	reqID      = "id-request-0001"
)

// pinClock sets crewjam's package clock for one test and restores it.
func pinClock(t *testing.T, now time.Time) {
	t.Helper()
	old := crewsaml.TimeNow
	crewsaml.TimeNow = func() time.Time { return now }
	t.Cleanup(func() { crewsaml.TimeNow = old })
}

// testIdP is a hostile test's IdP: a key pair and its metadata.
type testIdP struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
}

// Certificates span real time and the pinned clock: goxmldsig checks
// validity on the real clock, the SP's checks run on the pinned one.
var (
	certFrom = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	certTo   = time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
)

func newTestIdP(t *testing.T) *testIdP {
	key, cert := keyPair(t, "hostile test IdP", certFrom, certTo)
	return &testIdP{key: key, cert: cert}
}

func (p *testIdP) metadata(t *testing.T) []byte {
	t.Helper()
	ed := crewsaml.EntityDescriptor{
		EntityID: hostileIdP,
		IDPSSODescriptors: []crewsaml.IDPSSODescriptor{{
			SSODescriptor: crewsaml.SSODescriptor{RoleDescriptor: crewsaml.RoleDescriptor{
				ProtocolSupportEnumeration: "urn:oasis:names:tc:SAML:2.0:protocol",
				KeyDescriptors: []crewsaml.KeyDescriptor{{
					Use: "signing",
					KeyInfo: crewsaml.KeyInfo{X509Data: crewsaml.X509Data{X509Certificates: []crewsaml.X509Certificate{
						{Data: base64.StdEncoding.EncodeToString(p.cert.Raw)},
					}}},
				}},
			}},
			SingleSignOnServices: []crewsaml.Endpoint{{Binding: crewsaml.HTTPRedirectBinding, Location: "https://idp.hostile.test/sso"}},
		}},
	}
	b, err := xml.Marshal(ed)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixture describes one generated response.
type fixture struct {
	RespIssuer, AssertIssuer         string
	Destination, Recipient, Audience string
	InResponseTo, SCDInResponseTo    string
	AssertionID, NameID              string
	IssueInstant                     time.Time
	NotBefore, NotOnOrAfter          time.Time
	SCDNotOnOrAfter                  time.Time
	Extensions                       string // raw XML inside samlp:Extensions
	NoConditions, NoAudience         bool
	NoSubjectConfirmation            bool
}

func baseFixture(now time.Time) fixture {
	return fixture{
		RespIssuer: hostileIdP, AssertIssuer: hostileIdP,
		Destination: hostileACS, Recipient: hostileACS, Audience: hostileAud,
		InResponseTo: reqID, SCDInResponseTo: reqID,
		AssertionID: "_assertion-0001", NameID: "alice@example.test",
		IssueInstant: now, NotBefore: now.Add(-time.Minute), NotOnOrAfter: now.Add(5 * time.Minute),
		SCDNotOnOrAfter: now.Add(5 * time.Minute),
	}
}

var assertionTmpl = template.Must(template.New("a").Funcs(template.FuncMap{
	"ts": func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") },
}).Parse(`<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{{.AssertionID}}" Version="2.0" IssueInstant="{{ts .IssueInstant}}">` +
	`<saml:Issuer>{{.AssertIssuer}}</saml:Issuer>` +
	`<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{{.NameID}}</saml:NameID>` +
	`{{if not .NoSubjectConfirmation}}<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">` +
	`<saml:SubjectConfirmationData NotOnOrAfter="{{ts .SCDNotOnOrAfter}}" Recipient="{{.Recipient}}"{{if .SCDInResponseTo}} InResponseTo="{{.SCDInResponseTo}}"{{end}}/>` +
	`</saml:SubjectConfirmation>{{end}}</saml:Subject>` +
	`{{if not .NoConditions}}<saml:Conditions NotBefore="{{ts .NotBefore}}" NotOnOrAfter="{{ts .NotOnOrAfter}}">` +
	`{{if not .NoAudience}}<saml:AudienceRestriction><saml:Audience>{{.Audience}}</saml:Audience></saml:AudienceRestriction>{{end}}` +
	`</saml:Conditions>{{end}}` +
	`<saml:AuthnStatement AuthnInstant="{{ts .IssueInstant}}" SessionIndex="_session-1"><saml:AuthnContext>` +
	`<saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
	`<saml:AttributeStatement><saml:Attribute Name="email"><saml:AttributeValue>{{.NameID}}</saml:AttributeValue></saml:Attribute>` +
	`<saml:Attribute Name="groups"><saml:AttributeValue>CC-Agents</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>` +
	`</saml:Assertion>`))

var responseTmpl = template.Must(template.New("r").Funcs(template.FuncMap{
	"ts": func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") },
}).Parse(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_response-0001" Version="2.0" IssueInstant="{{ts .IssueInstant}}" Destination="{{.Destination}}"{{if .InResponseTo}} InResponseTo="{{.InResponseTo}}"{{end}}>` +
	`<saml:Issuer>{{.RespIssuer}}</saml:Issuer>` +
	`{{if .Extensions}}<samlp:Extensions>{{.Extensions}}</samlp:Extensions>{{end}}` +
	`<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
	`ASSERTIONS</samlp:Response>`))

func render(t *testing.T, tm *template.Template, f fixture) string {
	t.Helper()
	var b strings.Builder
	if err := tm.Execute(&b, f); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// signedAssertion renders f's assertion and signs it with key, as
// signResponse signs a whole Response (goxmldsig appends the Signature;
// verifiers find it anywhere among the children, so it stays there).
func signedAssertion(t *testing.T, f fixture, key *rsa.PrivateKey, cert *x509.Certificate) string {
	t.Helper()
	return string(signResponse(t, []byte(render(t, assertionTmpl, f)), key, cert))
}

func response(t *testing.T, f fixture, assertions ...string) []byte {
	return []byte(strings.Replace(render(t, responseTmpl, f), "ASSERTIONS", strings.Join(assertions, ""), 1))
}

// hostileSPEnv is an SP trusting the test IdP, on the pinned clock.
type hostileSPEnv struct {
	sp  *ServiceProvider
	fin *recorder
	st  *memStore
}

func newHostileSP(t *testing.T, idp *testIdP, st *memStore, mod func(*Options)) *hostileSPEnv {
	t.Helper()
	now := func() time.Time { return pinnedNow }
	if st == nil {
		st = newMemStore(now)
	}
	fin := &recorder{}
	o := Options{
		PublicURL:   hostileSP,
		Preset:      PresetOkta,
		IDPMetadata: idp.metadata(t),
		Store:       st,
		Finisher:    fin,
		Now:         now,
	}
	if mod != nil {
		mod(&o)
	}
	sp, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return &hostileSPEnv{sp: sp, fin: fin, st: st}
}

// pend records a pending request as /saml/login would and returns the
// browser-binding cookie.
func (e *hostileSPEnv) pend(t *testing.T, id string) *http.Cookie {
	t.Helper()
	tok := "binding-" + id
	rec := fmt.Sprintf(`{"return_to":"/after","binding":%q,"issued_at":"2031-05-06T07:00:00Z"}`, token.Hash(tok))
	if err := e.st.PutEphemeral(context.Background(), storeRequests, id, []byte(rec), pinnedNow.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	return &http.Cookie{Name: e.sp.bindCookie, Value: tok}
}

// post sends a response to the ACS and returns the status and the
// refusal reason (empty when it signed in).
func (e *hostileSPEnv) post(t *testing.T, body []byte, relayState string, cookie *http.Cookie) (int, string) {
	t.Helper()
	form := url.Values{"SAMLResponse": {base64.StdEncoding.EncodeToString(body)}}
	if relayState != "" {
		form.Set("RelayState", relayState)
	}
	req := httptest.NewRequest(http.MethodPost, hostileACS, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if cookie != nil {
		req.AddCookie(cookie)
	}
	w := httptest.NewRecorder()
	mux := http.NewServeMux()
	e.sp.Routes(mux)
	mux.ServeHTTP(w, req)
	_, _, reasons := e.fin.take()
	if len(reasons) > 1 {
		t.Fatalf("Fail called %d times: %q", len(reasons), reasons)
	}
	if len(reasons) == 1 {
		return w.Code, reasons[0]
	}
	return w.Code, ""
}

func TestHostileCatalogue(t *testing.T) {
	pinClock(t, pinnedNow)
	idp := newTestIdP(t)
	other := newTestIdP(t) // a key the SP does not trust
	good := func() fixture { return baseFixture(pinnedNow) }
	sign := func(f fixture) string { return signedAssertion(t, f, idp.key, idp.cert) }

	deep := strings.Repeat("<x>", 100) + strings.Repeat("</x>", 100)

	cases := []struct {
		name string
		body func() []byte
		want string // substring of the refusal reason; "" = signs in
	}{
		{"valid", func() []byte { return response(t, good(), sign(good())) }, ""},
		{"unsigned assertion", func() []byte {
			return response(t, good(), render(t, assertionTmpl, good()))
		}, "signature element not present"},
		{"signed by an untrusted key", func() []byte {
			return response(t, good(), signedAssertion(t, good(), other.key, other.cert))
		}, "cannot validate signature"},
		{"signature over a different element", func() []byte {
			// The IdP signed assertion _assertion-0001 for alice; the
			// attacker moves that Signature into a forged assertion for
			// admin with another ID.
			signed := sign(good())
			forged := good()
			forged.AssertionID = "_forged"
			forged.NameID = "admin@example.test"
			sigStart := strings.Index(signed, "<ds:Signature")
			sigEnd := strings.Index(signed, "</ds:Signature>") + len("</ds:Signature>")
			f := render(t, assertionTmpl, forged)
			i := strings.Index(f, "</saml:Issuer>") + len("</saml:Issuer>")
			f = f[:i] + signed[sigStart:sigEnd] + f[i:]
			return response(t, good(), f)
		}, "cannot validate signature"},
		{"signature wrapping: signed original hidden in Extensions", func() []byte {
			forged := good()
			forged.AssertionID = "_forged"
			forged.NameID = "admin@example.test"
			wrap := good()
			wrap.Extensions = sign(good())
			return response(t, wrap, render(t, assertionTmpl, forged))
		}, "2 assertions"},
		{"wrong audience", func() []byte {
			f := good()
			f.Audience = "https://other-sp.test/metadata"
			return response(t, f, sign(f))
		}, "AudienceRestriction"},
		{"missing audience", func() []byte {
			f := good()
			f.NoAudience = true
			return response(t, f, sign(f))
		}, "no AudienceRestriction/Audience"},
		{"expired (crewjam window)", func() []byte {
			f := baseFixture(pinnedNow.Add(-time.Hour))
			return response(t, f, sign(f))
		}, "expired"},
		{"expired (configured skew)", func() []byte {
			// Within crewjam's fixed 180 s but past the SP's 30 s skew.
			f := good()
			f.NotOnOrAfter = pinnedNow.Add(-time.Minute)
			f.SCDNotOnOrAfter = pinnedNow.Add(-time.Minute)
			return response(t, f, sign(f))
		}, "assertion expired at 2031-05-06T07:07:09Z"},
		{"not yet valid", func() []byte {
			f := good()
			f.NotBefore = pinnedNow.Add(2 * time.Minute)
			return response(t, f, sign(f))
		}, "not valid before"},
		{"tampered NameID", func() []byte {
			s := sign(good())
			s = strings.Replace(s, ">alice@example.test</saml:NameID>", ">admin@example.test</saml:NameID>", 1)
			return response(t, good(), s)
		}, "cannot validate signature"},
		{"wrong issuer", func() []byte {
			f := good()
			f.RespIssuer, f.AssertIssuer = "https://evil-idp.test", "https://evil-idp.test"
			return response(t, f, signedAssertion(t, f, other.key, other.cert))
		}, `response issuer "https://evil-idp.test" is not the configured IdP`},
		{"wrong assertion issuer", func() []byte {
			f := good()
			f.AssertIssuer = "https://evil-idp.test"
			return response(t, good(), sign(f))
		}, "issuer is not"},
		{"DOCTYPE", func() []byte {
			return append([]byte(`<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "y">]>`), response(t, good(), sign(good()))...)
		}, "DOCTYPE"},
		{"deep nesting", func() []byte {
			f := good()
			f.Extensions = deep
			return response(t, f, sign(good()))
		}, "XML nesting deeper than 32"},
		{"two assertions", func() []byte {
			second := good()
			second.AssertionID = "_assertion-0002"
			return response(t, good(), sign(good()), sign(second))
		}, "2 assertions"},
		{"missing Conditions", func() []byte {
			f := good()
			f.NoConditions = true
			return response(t, f, sign(f))
		}, "assertion has no Conditions"},
		{"missing SubjectConfirmation", func() []byte {
			f := good()
			f.NoSubjectConfirmation = true
			return response(t, f, sign(f))
		}, "no bearer SubjectConfirmation"},
		{"wrong recipient", func() []byte {
			f := good()
			f.Recipient = "https://other-sp.test/acs"
			return response(t, f, sign(f))
		}, "Recipient"},
		{"wrong destination", func() []byte {
			f := good()
			f.Destination = "https://other-sp.test/acs"
			return response(t, f, sign(good()))
		}, "Destination"},
		{"assertion answers another request", func() []byte {
			f := good()
			f.SCDInResponseTo = "id-someone-elses"
			return response(t, good(), sign(f))
		}, "possible request IDs"},
		{"comment injection", func() []byte {
			s := sign(good())
			s = strings.Replace(s, ">alice@example.test</saml:NameID>", ">alice@example.test<!---->.evil</saml:NameID>", 1)
			return response(t, good(), s)
		}, "comments are not allowed"},
		{"no assertion", func() []byte { return response(t, good()) }, "no assertion"},
		{"not XML", func() []byte { return []byte("<samlp:Response") }, "malformed XML"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newHostileSP(t, idp, nil, func(o *Options) { o.ClockSkew = 30 * time.Second })
			code, reason := e.post(t, c.body(), "", e.pend(t, reqID))
			if c.want == "" {
				if reason != "" || code != http.StatusOK {
					t.Fatalf("refused (%d): %s", code, reason)
				}
				return
			}
			if code != http.StatusForbidden || !strings.Contains(reason, c.want) {
				t.Fatalf("status %d, reason %q; want a refusal containing %q", code, reason, c.want)
			}
			t.Logf("refused: %s", reason)
			if !strings.HasPrefix(reason, "saml: ") {
				t.Errorf("Fail got method %q", reason)
			}
		})
	}
}

func TestHostileUnsolicited(t *testing.T) {
	pinClock(t, pinnedNow)
	idp := newTestIdP(t)
	f := baseFixture(pinnedNow)
	f.InResponseTo, f.SCDInResponseTo = "", ""
	body := response(t, f, signedAssertion(t, f, idp.key, idp.cert))

	t.Run("refused by default", func(t *testing.T) {
		e := newHostileSP(t, idp, nil, nil)
		code, reason := e.post(t, body, "/x", nil)
		if code != http.StatusForbidden || !strings.Contains(reason, "IdP-initiated sign-in is disabled") {
			t.Fatalf("%d %q", code, reason)
		}
	})

	t.Run("replay refused on another replica", func(t *testing.T) {
		shared := newMemStore(func() time.Time { return pinnedNow })
		allow := func(o *Options) { o.AllowIDPInitiated = true }
		a := newHostileSP(t, idp, shared, allow)
		b := newHostileSP(t, idp, shared, allow)
		if code, reason := a.post(t, body, "/queue", nil); code != http.StatusOK {
			t.Fatalf("first post refused: %s", reason)
		}
		code, reason := b.post(t, body, "/queue", nil)
		if code != http.StatusForbidden || !strings.Contains(reason, `assertion "_assertion-0001" was already used (replay)`) {
			t.Fatalf("replay: %d %q", code, reason)
		}
	})

	t.Run("replay refused on another replica sharing SQLite", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "dirbridge.db")
		open := func() *sqlite.Store {
			st, err := sqlite.Open(context.Background(), file)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			return st
		}
		allow := func(st Store) func(*Options) {
			return func(o *Options) { o.AllowIDPInitiated, o.Store = true, st }
		}
		a := newHostileSP(t, idp, nil, allow(open()))
		b := newHostileSP(t, idp, nil, allow(open()))
		if code, reason := a.post(t, body, "/queue", nil); code != http.StatusOK {
			t.Fatalf("first post refused: %s", reason)
		}
		code, reason := b.post(t, body, "/queue", nil)
		if code != http.StatusForbidden || !strings.Contains(reason, "already used (replay)") {
			t.Fatalf("replay: %d %q", code, reason)
		}
	})

	t.Run("RelayState open redirect", func(t *testing.T) {
		for _, rs := range []string{"https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "http://sp.hostile.test.evil.example/"} {
			e := newHostileSP(t, idp, nil, func(o *Options) { o.AllowIDPInitiated = true })
			req := httptest.NewRequest(http.MethodPost, hostileACS, strings.NewReader(url.Values{
				"SAMLResponse": {base64.StdEncoding.EncodeToString(body)}, "RelayState": {rs},
			}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			w := httptest.NewRecorder()
			e.sp.serveACS(w, req)
			ids, returnTo, reasons := e.fin.take()
			if len(ids) != 1 || returnTo[0] != "/" {
				t.Errorf("RelayState %q: returnTo %q, refusals %q", rs, returnTo, reasons)
			}
		}
	})

	t.Run("assertion claiming to answer a request", func(t *testing.T) {
		g := baseFixture(pinnedNow)
		g.InResponseTo = ""
		e := newHostileSP(t, idp, nil, func(o *Options) { o.AllowIDPInitiated = true })
		code, reason := e.post(t, response(t, g, signedAssertion(t, g, idp.key, idp.cert)), "", nil)
		if code != http.StatusForbidden || !strings.Contains(reason, "InResponseTo") {
			t.Fatalf("%d %q", code, reason)
		}
	})
}

func TestHostileBodyTooLarge(t *testing.T) {
	pinClock(t, pinnedNow)
	idp := newTestIdP(t)
	e := newHostileSP(t, idp, nil, func(o *Options) { o.MaxResponseBytes = 4096 })
	code, reason := e.post(t, []byte(strings.Repeat("A", 8192)), "", nil)
	if code != http.StatusForbidden || !strings.Contains(reason, "larger than 4096 bytes") {
		t.Fatalf("%d %q", code, reason)
	}
}

func TestHostileUnknownRequest(t *testing.T) {
	pinClock(t, pinnedNow)
	idp := newTestIdP(t)
	e := newHostileSP(t, idp, nil, nil)
	f := baseFixture(pinnedNow)
	code, reason := e.post(t, response(t, f, signedAssertion(t, f, idp.key, idp.cert)), "", nil)
	if code != http.StatusForbidden || !strings.Contains(reason, "matches no pending request") {
		t.Fatalf("%d %q", code, reason)
	}
}

// Behind the guard, crewjam itself dereferences nil on a signed assertion
// without Conditions; parseWithCrewjam turns that into a refusal.
func TestCrewjamPanicIsRefusal(t *testing.T) {
	pinClock(t, pinnedNow)
	idp := newTestIdP(t)
	e := newHostileSP(t, idp, nil, nil)
	f := baseFixture(pinnedNow)
	f.NoConditions = true
	_, err := parseWithCrewjam(e.sp.crew(e.sp.idp.Load()), response(t, f, signedAssertion(t, f, idp.key, idp.cert)), []string{reqID})
	if err == nil || !strings.Contains(err.Error(), "SAML library failed") {
		t.Fatalf("err = %v", err)
	}
}

// The notes' measured attack: a deeply nested ~400 KB POST with no cookie
// cost crewjam ~29 s of CPU. The guard refuses it in one linear pass.
func TestDeepNestingIsCheap(t *testing.T) {
	idp := newTestIdP(t)
	e := newHostileSP(t, idp, nil, nil)
	const depth = 45000
	doc := `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">` +
		strings.Repeat("<a>", depth) + strings.Repeat("</a>", depth) + `</samlp:Response>`
	start := time.Now()
	code, reason := e.post(t, []byte(doc), "", nil)
	if code != http.StatusForbidden || !strings.Contains(reason, "nesting deeper") {
		t.Fatalf("%d %q", code, reason)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusing a deep document took %s", d)
	}
}

func FuzzGuard(f *testing.F) {
	f.Add([]byte(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"/></samlp:Response>`))
	f.Add([]byte(`<!DOCTYPE x><x/>`))
	f.Add([]byte(`<a xmlns:p="u"><p:b/></a>`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		_, _ = guard(doc, guardOptions{maxDepth: 32}) // must not panic
	})
}
