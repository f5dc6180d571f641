package kerberos_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	krbclient "github.com/jcmturner/gokrb5/v8/client"
	krbconfig "github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/chksumtype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/internal/password"
	"github.com/dirbridge/dirbridge/sso"
	"github.com/dirbridge/dirbridge/sso/kerberos"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/sqlite"
)

const (
	spn      = "HTTP/sso.example.test"
	otherSPN = "HTTP/other.example.test"
	userPW   = "Kerb-Passw0rd!"
)

// domain is the Samba DC with a service account for dirbridge (SPN and
// exported keytab), a second service with its own SPN, and test users.
type domain struct {
	dc      *harness.Samba
	keytab  *keytab.Keytab
	krb5    *krbconfig.Config
	userDNs map[string]string
}

func startDomain(t testing.TB) *domain {
	t.Helper()
	dc := harness.StartSamba(t)
	ou := dc.AddOU(t, "KerberosTests")
	d := &domain{dc: dc, userDNs: map[string]string{}}
	for _, name := range []string{"alice", "bob", "carol"} {
		d.userDNs[name] = dc.AddUser(t, ou, harness.SambaUser{Name: name, Password: userPW})
	}
	// The daemon's service account and a second web service.
	svc := dc.AddUser(t, ou, harness.SambaUser{Name: "svc-dirbridge", Password: "Svc-Passw0rd-1!"})
	// AES only, as docs/kerberos.md advises: without it AD issues RC4
	// service tickets and exports only the RC4 key.
	dc.Replace(t, svc, "msDS-SupportedEncryptionTypes", "24")
	dc.AddUser(t, ou, harness.SambaUser{Name: "svc-other", Password: "Svc-Passw0rd-2!"})
	dc.Tool(t, "spn", "add", spn, "svc-dirbridge")
	dc.Tool(t, "spn", "add", otherSPN, "svc-other")
	ktFile := filepath.Join(t.TempDir(), "http.keytab")
	dc.ExportKeytab(t, ktFile, spn)
	raw, err := os.ReadFile(ktFile)
	if err != nil {
		t.Fatal(err)
	}
	d.keytab = keytab.New()
	if err := d.keytab.Unmarshal(raw); err != nil {
		t.Fatalf("exported keytab: %v", err)
	}
	d.krb5, err = krbconfig.NewFromString(dc.KRB5Conf())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// login gets a TGT for name with gokrb5's client (no kinit).
func (d *domain) login(t testing.TB, name string) *krbclient.Client {
	t.Helper()
	cl := krbclient.NewWithPassword(name, d.dc.Realm, userPW, d.krb5, krbclient.DisablePAFXFAST(true))
	if err := cl.Login(); err != nil {
		t.Fatalf("kerberos login as %s: %v", name, err)
	}
	t.Cleanup(cl.Destroy)
	return cl
}

// negotiate is the Authorization header a browser would send for service.
func negotiate(t testing.TB, cl *krbclient.Client, service string) string {
	t.Helper()
	r, _ := http.NewRequest(http.MethodGet, "http://sso.example.test/", nil)
	if err := spnego.SetSPNEGOHeader(cl, r, service); err != nil {
		t.Fatalf("SPNEGO header for %s: %v", service, err)
	}
	return r.Header.Get("Authorization")
}

// skewedNegotiate is a Negotiate header whose authenticator claims a time
// off by skew.
func skewedNegotiate(t testing.TB, cl *krbclient.Client, skew time.Duration) string {
	t.Helper()
	tkt, key, err := cl.GetServiceTicket(spn)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := spnego.NewKRB5TokenAPREQ(cl, tkt, key, []int{gssapi.ContextFlagInteg, gssapi.ContextFlagConf}, nil)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := types.NewAuthenticator(cl.Credentials.Domain(), cl.Credentials.CName())
	if err != nil {
		t.Fatal(err)
	}
	auth.CTime = auth.CTime.Add(skew)
	auth.Cksum = types.Checksum{CksumType: chksumtype.GSSAPI, Checksum: make([]byte, 24)}
	auth.Cksum.Checksum[0] = 16
	if tok.APReq, err = messages.NewAPReq(tkt, key, auth); err != nil {
		t.Fatal(err)
	}
	mech, err := tok.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	st := spnego.SPNEGOToken{Init: true, NegTokenInit: spnego.NegTokenInit{
		MechTypes: []asn1.ObjectIdentifier{gssapi.OIDKRB5.OID()}, MechTokenBytes: mech}}
	b, err := st.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return "Negotiate " + base64.StdEncoding.EncodeToString(b)
}

// site is dirbridge's sign-in surface with Kerberos, over a SQLite store
// holding the synced users of directory "corp".
type site struct {
	st  store.Store
	srv *httptest.Server
	svc *sso.Service
}

func newSite(t testing.TB, d *domain, realms map[string]string, skew time.Duration) *site {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "dirbridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	err = st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.PutProfile(ctx, store.Profile{Name: "Agent", Privileges: []string{"handle_calls"}}); err != nil {
			return err
		}
		for _, n := range []string{"alice", "carol"} {
			if err := tx.CreateUser(ctx, &store.User{
				Username: n, DisplayName: n + " Test", UPN: n + "@example.test", SAMAccountName: n,
				State: store.StateActive, Source: "corp", Anchor: "guid-" + n, Profile: "Agent",
			}); err != nil {
				return err
			}
		}
		// A local user named like bob's account: never matched by Kerberos.
		return tx.CreateUser(ctx, &store.User{Username: "bob", SAMAccountName: "bob", State: store.StateActive, Source: "local", Profile: "Agent"})
	})
	if err != nil {
		t.Fatal(err)
	}
	return newSiteOn(t, d, st, realms, skew, st, nil)
}

// newSiteOn is a site on an existing store (another replica), with
// replay remembering authenticators (nil: gokrb5's process cache) and
// users resolving principals (nil: the store).
func newSiteOn(t testing.TB, d *domain, st store.Store, realms map[string]string, skew time.Duration, replay kerberos.Recorder, users kerberos.Users) *site {
	t.Helper()
	if users == nil {
		users = st
	}
	h, err := password.NewHasher(password.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, 2)
	if err != nil {
		t.Fatal(err)
	}
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	svc, err := sso.New(sso.Options{Store: st, Hasher: h, PublicURL: srv.URL, Enforce: true})
	if err != nil {
		t.Fatal(err)
	}
	m, err := kerberos.New(kerberos.Options{Keytab: d.keytab, ServicePrincipal: spn + "@" + d.dc.Realm,
		Realms: realms, MaxClockSkew: skew, Users: users, Replay: replay, Finisher: svc})
	if err != nil {
		t.Fatal(err)
	}
	svc.AddMethod(m)
	svc.SetNegotiator(m)
	handler = svc
	return &site{st: st, srv: srv, svc: svc}
}

// get requests path with an Authorization header (none when "") and
// without following redirects.
func (s *site) get(t testing.TB, path, authz string, cookies ...*http.Cookie) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	cl := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp
}

// lastSignIn is the newest sign-in audit event.
func (s *site) lastSignIn(t testing.TB) store.AuditEvent {
	t.Helper()
	evs, err := s.st.ListAudit(context.Background(), store.AuditFilter{Action: sso.ActionSignIn, Limit: 1})
	if err != nil || len(evs) == 0 {
		t.Fatalf("no sign-in audited (%v)", err)
	}
	return evs[0]
}

// refused asserts a refusal page and an audited reason carrying code.
func (s *site) refused(t testing.TB, resp *http.Response, code string) store.AuditEvent {
	t.Helper()
	if resp.StatusCode != http.StatusForbidden {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d, want 403 refusal: %s", resp.StatusCode, b)
	}
	ev := s.lastSignIn(t)
	if ev.Outcome == store.OutcomeSuccess || !strings.Contains(ev.Reason, code) || ev.Details["method"] != sso.MethodKerberos {
		t.Fatalf("audit = %+v, want a refusal with method kerberos and reason %s", ev, code)
	}
	return ev
}

func TestKerberosAgainstSamba(t *testing.T) {
	d := startDomain(t)
	corp := map[string]string{d.dc.Realm: "corp"}
	s := newSite(t, d, corp, 0)

	t.Run("no negotiation falls back to the sign-in page", func(t *testing.T) {
		for _, path := range []string{"/login", "/kerberos/login"} {
			resp := s.get(t, path, "")
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != "Negotiate" {
				t.Fatalf("%s: %d %q, want 401 Negotiate", path, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
			if !strings.Contains(string(body), "Sign in with Windows") {
				t.Fatalf("%s: the challenge's body is not the sign-in page:\n%s", path, body)
			}
		}
		// The bypass path and the signed-out page are not challenged.
		for _, path := range []string{"/login?bypass-sso=1", "/login?logged_out=1"} {
			if resp := s.get(t, path, ""); resp.StatusCode != http.StatusOK || resp.Header.Get("WWW-Authenticate") != "" {
				t.Fatalf("%s: %d %q, want the plain page", path, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
		}
		// NTLM inside Negotiate (a machine outside the domain): the page, no error.
		ntlm := "Negotiate " + base64.StdEncoding.EncodeToString([]byte("NTLMSSP\x00\x01\x00\x00\x00\x07\x82\x08\xa2"))
		if resp := s.get(t, "/login", ntlm); resp.StatusCode != http.StatusOK {
			t.Fatalf("NTLM: %d, want the page", resp.StatusCode)
		}
	})

	t.Run("kerberos check reads the exported keytab", func(t *testing.T) {
		r := kerberos.Check(d.keytab, spn+"@"+d.dc.Realm, "https://sso.example.test")
		if !r.OK() || len(r.Entries) != 1 || !strings.Contains(strings.Join(r.Entries[0].EncTypes, ","), "aes256-cts-hmac-sha1-96") || len(r.Notes) != 0 {
			t.Fatalf("report %+v", r)
		}
	})

	alice := d.login(t, "alice")
	var sid string
	t.Run("a ticket signs the synced user in", func(t *testing.T) {
		resp := s.get(t, "/login?return_to=/app", negotiate(t, alice, spn))
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/app" {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("sign-in: %d to %q: %s", resp.StatusCode, resp.Header.Get("Location"), b)
		}
		v := s.get(t, "/auth/verify", "", resp.Cookies()...)
		if v.StatusCode != http.StatusOK || v.Header.Get("X-Dirbridge-User") != "alice" || v.Header.Get("X-Dirbridge-Profile") != "Agent" {
			t.Fatalf("verify: %d user %q profile %q", v.StatusCode, v.Header.Get("X-Dirbridge-User"), v.Header.Get("X-Dirbridge-Profile"))
		}
		ev := s.lastSignIn(t)
		claims, _ := ev.Details["claims"].(map[string]any)
		if ev.Outcome != store.OutcomeSuccess || ev.Details["method"] != sso.MethodKerberos || ev.Details["bypass"] != false ||
			claims["principal"] != "alice@EXAMPLE.TEST" || claims["pac"] != true || claims["etype"] != float64(18) {
			t.Fatalf("audit = %+v", ev)
		}
		// The PAC's SID is alice's objectSid (its RID is the last part).
		sid, _ = claims["sid"].(string)
		if want := fmt.Sprintf("-%d", d.dc.RID(t, d.userDNs["alice"])); !strings.HasPrefix(sid, "S-1-5-21-") || !strings.HasSuffix(sid, want) {
			t.Fatalf("sid %q, want a domain SID ending %s", sid, want)
		}
	})

	t.Run("the bound SID resolves a renamed account", func(t *testing.T) {
		ctx := context.Background()
		u, err := s.st.GetUserByUsername(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		links, err := s.st.ListIdPLinks(ctx, u.ID)
		if err != nil || len(links) != 1 || links[0].Subject != sid || links[0].Issuer != "kerberos:EXAMPLE.TEST" {
			t.Fatalf("links = %+v (%v), want the SID bound", links, err)
		}
		// As a sync would after a rename in AD.
		setUser(t, s.st, "alice", func(u *store.User) { u.UPN, u.SAMAccountName = "alice.renamed@example.test", "alice.renamed" })
		defer setUser(t, s.st, "alice", func(u *store.User) { u.UPN, u.SAMAccountName = "alice@example.test", "alice" })
		if resp := s.get(t, "/kerberos/login", negotiate(t, alice, spn)); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if ev := s.lastSignIn(t); ev.Details["claims"].(map[string]any)["key_matched"] != "sid" {
			t.Fatalf("matched by %v, want sid", ev.Details["claims"])
		}
	})

	t.Run("replayed authenticator", func(t *testing.T) {
		h := negotiate(t, alice, spn)
		if resp := s.get(t, "/kerberos/login", h); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("first use: %d", resp.StatusCode)
		}
		s.refused(t, s.get(t, "/kerberos/login", h), kerberos.CodeReplay)
	})

	t.Run("replayed to another replica", func(t *testing.T) {
		// A second daemon on the same store: the authenticator is
		// remembered in the store, not only in this process.
		other := newSiteOn(t, d, s.st, corp, 0, s.st, nil)
		h := negotiate(t, alice, spn)
		if resp := s.get(t, "/kerberos/login", h); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("first use: %d", resp.StatusCode)
		}
		ev := other.refused(t, other.get(t, "/kerberos/login", h), kerberos.CodeReplay)
		if !strings.Contains(ev.Reason, "another replica") {
			t.Fatalf("reason %q, want the store's refusal", ev.Reason)
		}
	})

	t.Run("replayed, gokrb5's process cache", func(t *testing.T) {
		local := newSiteOn(t, d, s.st, corp, 0, nil, nil)
		h := negotiate(t, alice, spn)
		if resp := local.get(t, "/kerberos/login", h); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("first use: %d", resp.StatusCode)
		}
		local.refused(t, local.get(t, "/kerberos/login", h), kerberos.CodeReplay)
	})

	t.Run("a store outage answers 503, not a refusal", func(t *testing.T) {
		down := newSiteOn(t, d, s.st, corp, 0, nil, outage{s.st})
		resp := down.get(t, "/kerberos/login", negotiate(t, alice, spn))
		if body, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "try again") {
			t.Fatalf("status %d, want 503 asking to try again: %s", resp.StatusCode, body)
		}
		ev := down.lastSignIn(t)
		if ev.Outcome != store.OutcomeFailure || ev.Reason != "internal error" || ev.Details["method"] != sso.MethodKerberos ||
			!strings.Contains(fmt.Sprint(ev.Details["error"]), "database is locked") {
			t.Fatalf("audit = %+v, want an internal error naming the cause", ev)
		}
	})

	t.Run("clock skew", func(t *testing.T) {
		s.refused(t, s.get(t, "/kerberos/login", skewedNegotiate(t, alice, -10*time.Minute)), kerberos.CodeClockSkew)
		s.refused(t, s.get(t, "/kerberos/login", skewedNegotiate(t, alice, 10*time.Minute)), kerberos.CodeClockSkew)
	})

	t.Run("wrong SPN", func(t *testing.T) {
		s.refused(t, s.get(t, "/kerberos/login", negotiate(t, alice, otherSPN)), kerberos.CodeWrongSPN)
	})

	t.Run("wrong realm", func(t *testing.T) {
		other := newSite(t, d, map[string]string{"OTHER.TEST": "corp"}, 0)
		other.refused(t, other.get(t, "/kerberos/login", negotiate(t, alice, spn)), kerberos.CodeWrongRealm)
	})

	t.Run("disabled account", func(t *testing.T) {
		carol := d.login(t, "carol")
		setUser(t, s.st, "carol", func(u *store.User) { u.State, u.DeactivatedReason = store.StateInactive, "disabled in directory" })
		ev := s.refused(t, s.get(t, "/kerberos/login", negotiate(t, carol, spn)), kerberos.CodeDisabled)
		if !strings.Contains(ev.Reason, "disabled in directory") {
			t.Fatalf("reason %q", ev.Reason)
		}
	})

	t.Run("a principal of no synced user, though a local user shares the name", func(t *testing.T) {
		s.refused(t, s.get(t, "/kerberos/login", negotiate(t, d.login(t, "bob"), spn)), kerberos.CodeUnknownUser)
	})

	t.Run("expired ticket", func(t *testing.T) {
		// A service ticket that lives 2 s, checked with 1 s of tolerance.
		short := newSite(t, d, corp, time.Second)
		cl := krbclient.NewWithPassword("alice", d.dc.Realm, userPW, d.krb5, krbclient.DisablePAFXFAST(true))
		t.Cleanup(cl.Destroy)
		if err := cl.Login(); err != nil {
			t.Fatal(err)
		}
		cl.Config.LibDefaults.TicketLifetime = 2 * time.Second
		h := negotiate(t, cl, spn)
		time.Sleep(4 * time.Second)
		short.refused(t, short.get(t, "/kerberos/login", h), kerberos.CodeExpired)
	})
}

// setUser changes a stored user.
func setUser(t testing.TB, st store.Store, name string, change func(*store.User)) {
	t.Helper()
	ctx := context.Background()
	u, err := st.GetUserByUsername(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	change(&u)
	if err := st.Tx(ctx, func(tx store.Tx) error { return tx.UpdateUser(ctx, &u) }); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkKerberosSignIn is Kerberos sign-ins per second on loopback:
// each one a fresh authenticator (gokrb5's client, the service ticket
// cached) checked against the keytab and the PAC, the user resolved, a
// session written to SQLite and the sign-in audited.
func BenchmarkKerberosSignIn(b *testing.B) {
	d := startDomain(b)
	s := newSite(b, d, map[string]string{d.dc.Realm: "corp"}, 0)
	alice := d.login(b, "alice")
	if resp := s.get(b, "/kerberos/login", negotiate(b, alice, spn)); resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("warm-up sign-in: %d", resp.StatusCode)
	}
	start := time.Now()
	b.ResetTimer()
	for b.Loop() {
		if resp := s.get(b, "/kerberos/login", negotiate(b, alice, spn)); resp.StatusCode != http.StatusSeeOther {
			b.Fatalf("sign-in: %d", resp.StatusCode)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "signins/s")
}

// outage is a store whose user lookups fail, as a locked or unreachable
// database's do.
type outage struct{ store.Store }

func (outage) FindUsers(context.Context, store.UserKey, string) ([]store.User, error) {
	return nil, errors.New("database is locked")
}

func (outage) GetIdPLink(context.Context, string, string) (store.IdPLink, error) {
	return store.IdPLink{}, errors.New("database is locked")
}
