package ssoe2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/internal/harness"
)

// noFollow is c with the same cookie jar that stops at the first redirect,
// to see where the daemon sends the browser.
func noFollow(c *http.Client) *http.Client {
	n := *c
	n.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &n
}

// samlSignIn signs user in at SimpleSAMLphp from in's /saml/login and
// posts the IdP's answer to the daemon's ACS; it returns the ACS answer.
func samlSignIn(t testing.TB, in *instance, c *http.Client, user, pass, returnTo string) *http.Response {
	t.Helper()
	ctx := context.Background()
	post, err := idp.SAMLResponse(ctx, c, in.base+"/saml/login?return_to="+url.QueryEscape(returnTo), user, pass)
	if err != nil {
		t.Fatalf("IdP sign-in: %v\nIdP log:\n%s\ndaemon log:\n%s", err, idp.Log(), in.logTail())
	}
	if post.Action != in.base+"/saml/acs" {
		t.Fatalf("IdP posts to %q, want the daemon's ACS", post.Action)
	}
	resp, err := post.Post(ctx, noFollow(c))
	if err != nil {
		t.Fatalf("post to ACS: %v", err)
	}
	_ = resp.Body.Close()
	return resp
}

// oidcSignIn starts at in's /oidc/login; the IdP signs in login (the
// login_hint stands for the person typing their name) and the chain ends
// at the daemon's redirect after the callback, which is not followed.
func oidcSignIn(t testing.TB, in *instance, c *http.Client, login, returnTo string) *http.Response {
	t.Helper()
	u := in.base + "/oidc/login?" + url.Values{"return_to": {returnTo}, "login_hint": {login}}.Encode()
	n := *c
	n.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		// Stop at the daemon's answer to the callback.
		if prev := via[len(via)-1]; prev.URL.Path == "/oidc/callback" {
			return http.ErrUseLastResponse
		}
		return nil
	}
	resp, body := get(t, &n, u)
	if resp.Request.URL.Path != "/oidc/callback" {
		t.Fatalf("sign-in ended at %s (%s): %.500s\nOP log:\n%s", resp.Request.URL, resp.Status, body, op.Log())
	}
	return resp
}

func wantSignedIn(t testing.TB, resp *http.Response, returnTo string) {
	t.Helper()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != returnTo {
		t.Fatalf("sign-in answered %s to %q, want 303 to %q", resp.Status, resp.Header.Get("Location"), returnTo)
	}
}

// wantIdentity checks /auth/verify's headers and /api/v1/me agree on who
// signed in, with which profile, privileges and method.
func wantIdentity(t testing.TB, in *instance, c *http.Client, user, email, profile, units, method string, privs ...string) {
	t.Helper()
	id := whoami(t, in, c)
	if id.Status != http.StatusOK {
		t.Fatalf("/auth/verify %d, want 200\n%s", id.Status, in.logTail())
	}
	if id.User != user || id.Email != email || id.Profile != profile || id.Units != units {
		t.Errorf("verify headers user=%q email=%q profile=%q units=%q, want %q %q %q %q", id.User, id.Email, id.Profile, id.Units, user, email, profile, units)
	}
	got := strings.Split(id.Privileges, ",")
	for _, p := range privs {
		if !slices.Contains(got, p) {
			t.Errorf("X-Dirbridge-Privileges %q lacks %s", id.Privileges, p)
		}
	}
	if id.Me == nil {
		t.Fatalf("/api/v1/me did not answer 200 for the session")
	}
	var mePrivs []string
	for _, p := range id.Me["privileges"].([]any) {
		mePrivs = append(mePrivs, p.(string))
	}
	if id.Me["username"] != user || id.Me["profile"] != profile || id.Me["method"] != method || strings.Join(mePrivs, ",") != id.Privileges {
		t.Errorf("/api/v1/me = %v, want %s/%s/%s and privileges %q", id.Me, user, profile, method, id.Privileges)
	}
}

func TestSAMLAzureUserLandsAsDirectoryUser(t *testing.T) {
	c := browser(t)
	resp := samlSignIn(t, entra, c, "adele", "adele-idp-pw", "/queue?tab=2")
	wantSignedIn(t, resp, "/queue?tab=2")
	wantIdentity(t, entra, c, "adele", "adele.vance@contoso.test", "Agent", "Floor 1", "saml", "handle_calls")
}

func TestSAMLOktaUserLandsAsDirectoryUser(t *testing.T) {
	c := browser(t)
	resp := samlSignIn(t, okta, c, "olivia", "olivia-idp-pw", "/")
	wantSignedIn(t, resp, "/")
	wantIdentity(t, okta, c, "olivia", "olivia@example.test", "Agent", "Floor 1", "saml", "handle_calls")
}

func TestOIDCAzureUserLandsAsDirectoryUser(t *testing.T) {
	c := browser(t)
	resp := oidcSignIn(t, entra, c, "adele", "/reports")
	wantSignedIn(t, resp, "/reports")
	wantIdentity(t, entra, c, "adele", "adele.vance@contoso.test", "Agent", "Floor 1", "oidc", "handle_calls")
}

// Megan's token carries Entra's groups overage instead of her groups: she
// still signs in, with the profile the directory sync gave her, and the
// audit record says the IdP's group list was unknown.
func TestOIDCAzureGroupsOverage(t *testing.T) {
	since := time.Now().Add(-time.Second)
	c := browser(t)
	resp := oidcSignIn(t, entra, c, "megan", "/")
	wantSignedIn(t, resp, "/")
	wantIdentity(t, entra, c, "megan", "megan.bowen@contoso.test", "Supervisor", "Floor 2", "oidc", "handle_calls", "monitor_agents")
	var found bool
	for _, ev := range entra.audit(t, "sso.signin", since) {
		if ev.Actor == "megan" && ev.Outcome == "success" {
			found = true
			if ev.Details["groups_overage"] != true || ev.Details["method"] != "oidc" {
				t.Errorf("audit details %v: want groups_overage true, method oidc", ev.Details)
			}
		}
	}
	if !found {
		t.Errorf("no successful sign-in of megan in the audit log")
	}
}

func TestOIDCOktaUserLandsAsDirectoryUser(t *testing.T) {
	c := browser(t)
	resp := oidcSignIn(t, okta, c, "olivia", "/")
	wantSignedIn(t, resp, "/")
	wantIdentity(t, okta, c, "olivia", "olivia@example.test", "Agent", "Floor 1", "oidc", "handle_calls")
}

// Without SSO enforced, every directory user may sign in with their
// directory password (a bind against slapd as the user).
func TestPasswordWithoutEnforcement(t *testing.T) {
	for _, user := range []string{"adele", "paul"} {
		c := browser(t)
		resp, body := postForm(t, noFollow(c), entra.base+"/login", url.Values{"username": {user}, "password": {ldapPassword}, "return_to": {"/home"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s: %s %.300s", user, resp.Status, body)
		}
		if id := whoami(t, entra, c); id.User != user || id.Profile != "Agent" || id.Me["method"] != "password" {
			t.Errorf("%s landed as %+v", user, id)
		}
	}
	resp, body := get(t, browser(t), entra.base+"/login")
	for _, want := range []string{"/saml/login", "/oidc/login", `type="password"`, "/password/forgot"} {
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("/login without enforcement: %s, lacks %s", resp.Status, want)
		}
	}
}

// The SP metadata the daemon serves is what the IdP was given from the
// config: same entity ID, ACS and signing certificate.
func TestSPMetadataServed(t *testing.T) {
	resp, body := get(t, browser(t), entra.base+"/saml/metadata")
	for _, want := range []string{`entityID="` + entra.base + `/saml/metadata"`, `Location="` + entra.base + `/saml/acs"`,
		`AuthnRequestsSigned="true"`, "X509Certificate"} {
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("metadata: %s, lacks %s", resp.Status, want)
		}
	}
}

// With SSO enforced and two methods, /login offers the two buttons and no
// password form.
func TestEnforcedLoginOffersOnlySSO(t *testing.T) {
	resp, body := get(t, noFollow(browser(t)), okta.base+"/login")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "/saml/login") || !strings.Contains(body, "/oidc/login") {
		t.Fatalf("/login: %s %.800s", resp.Status, body)
	}
	if strings.Contains(body, `type="password"`) {
		t.Errorf("enforced /login shows a password field")
	}
}

// With SSO enforced and one method, /login sends the browser to the IdP,
// and the sign-in comes back through the daemon's callback.
func TestEnforcedLoginRedirectsToIdP(t *testing.T) {
	c := browser(t)
	var hops []string
	n := *c
	n.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		hops = append(hops, req.URL.Host+req.URL.Path)
		if strings.HasSuffix(req.URL.Path, "/auth") && req.URL.Query().Get("login_hint") == "" {
			// The person types their name at the IdP.
			q := req.URL.Query()
			q.Set("login_hint", "olivia")
			req.URL.RawQuery = q.Encode()
		}
		if via[len(via)-1].URL.Path == "/oidc/callback" {
			return http.ErrUseLastResponse
		}
		return nil
	}
	resp, body := get(t, &n, oktaOnly.base+"/login?return_to=%2Fdashboard")
	if len(hops) < 2 || hops[0] != strings.TrimPrefix(oktaOnly.base, "http://")+"/oidc/login" ||
		!strings.HasPrefix(hops[1], strings.TrimPrefix(op.BaseURL, "http://")+oktaIss) {
		t.Fatalf("redirects %q: /login should lead to /oidc/login and then the IdP", hops)
	}
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/dashboard" {
		t.Fatalf("ended with %s to %q: %.300s", resp.Status, resp.Header.Get("Location"), body)
	}
	wantIdentity(t, oktaOnly, c, "olivia", "olivia@example.test", "Agent", "Floor 1", "oidc", "handle_calls")
}

// The bypass path: a password works only for a profile holding bypass_sso;
// anyone else gets exactly the wrong-password answer, and both are audited.
func TestBypassSSO(t *testing.T) {
	since := time.Now().Add(-time.Second)
	login := func(path, user, pw string) (*http.Response, string, *http.Client) {
		c := browser(t)
		form := url.Values{"username": {user}, "password": {pw}, "return_to": {"/admin"}}
		if strings.Contains(path, "bypass-sso=1") {
			form.Set("bypass-sso", "1")
		}
		resp, body := postForm(t, noFollow(c), okta.base+path, form)
		return resp, body, c
	}

	// The plain form is closed while SSO is enforced, even to oscar.
	if resp, body, _ := login("/login", "oscar", ldapPassword); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "single sign-on") {
		t.Errorf("password outside the bypass path: %s %.300s", resp.Status, body)
	}
	resp, body := get(t, browser(t), okta.base+"/login?bypass-sso=1")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `type="password"`) {
		t.Fatalf("bypass page: %s %.500s", resp.Status, body)
	}

	// Paul's password is right, but he has no bypass_sso: the answer is
	// the wrong-password answer, word for word.
	right, rightBody, pc := login("/login?bypass-sso=1", "paul", ldapPassword)
	wrong, wrongBody, _ := login("/login?bypass-sso=1", "paul", "not-his-password")
	const generic = "The user name or password is incorrect."
	if right.StatusCode != http.StatusUnauthorized || wrong.StatusCode != right.StatusCode ||
		!strings.Contains(rightBody, generic) || !strings.Contains(wrongBody, generic) {
		t.Errorf("paul with right password: %s, with wrong: %s; both must be 401 %q", right.Status, wrong.Status, generic)
	}
	if id := whoami(t, okta, pc); id.Status != http.StatusUnauthorized {
		t.Errorf("paul got a session: verify %d", id.Status)
	}

	ok, okBody, oc := login("/login?bypass-sso=1", "oscar", ldapPassword)
	wantSignedIn(t, ok, "/admin")
	_ = okBody
	wantIdentity(t, okta, oc, "oscar", "oscar@example.test", "Administrator", "HQ", "bypass", "bypass_sso", "manage_users")
	if id := whoami(t, okta, oc); id.Me["bypass"] != true {
		t.Errorf("/api/v1/me bypass = %v", id.Me["bypass"])
	}

	var paulDenied, oscarOK bool
	for _, ev := range okta.audit(t, "sso.signin", since) {
		switch {
		case ev.Actor == "paul" && ev.Outcome == "denied" && strings.Contains(ev.Reason, "lacks bypass_sso") && ev.Details["bypass"] == true:
			paulDenied = true
		case ev.Actor == "oscar" && ev.Outcome == "success" && ev.Details["bypass"] == true && ev.Details["method"] == "bypass":
			oscarOK = true
		}
	}
	if !paulDenied || !oscarOK {
		t.Errorf("audit: paul's refused bypass %v, oscar's bypass %v", paulDenied, oscarOK)
	}
	_, metrics := get(t, http.DefaultClient, okta.base+"/metrics")
	if !strings.Contains(metrics, `dirbridge_sso_bypass_signins_total{outcome="success"}`) {
		t.Errorf("no bypass metric in /metrics")
	}
}

// A SAML response altered after the IdP signed it (olivia's assertion
// rewritten to name oscar, who holds bypass_sso) is refused through the
// daemon, starts no session, and the audit log says why.
func TestTamperedSAMLAssertionRefused(t *testing.T) {
	since := time.Now().Add(-time.Second)
	ctx := context.Background()
	c := browser(t)
	post, err := idp.SAMLResponse(ctx, c, okta.base+"/saml/login", "olivia", "olivia-idp-pw")
	if err != nil {
		t.Fatalf("IdP sign-in: %v", err)
	}
	raw, err := base64.StdEncoding.DecodeString(post.Form.Get("SAMLResponse"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "olivia@example.test") {
		t.Fatalf("the response does not name olivia; the test proves nothing")
	}
	tampered := strings.ReplaceAll(string(raw), "olivia@example.test", "oscar@example.test")
	post.Form.Set("SAMLResponse", base64.StdEncoding.EncodeToString([]byte(tampered)))
	resp, err := post.Post(ctx, noFollow(c))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("tampered response: %s, want 403", resp.Status)
	}
	if id := whoami(t, okta, c); id.Status != http.StatusUnauthorized {
		t.Fatalf("tampered response made a session for %q", id.User)
	}
	var reason string
	for _, ev := range okta.audit(t, "sso.signin", since) {
		if ev.Outcome == "failure" && ev.Details["method"] == "saml" {
			reason = ev.Reason
		}
	}
	if !strings.Contains(strings.ToLower(reason), "signature") {
		t.Errorf("audit reason %q, want the signature failure named", reason)
	}
}

// An OIDC callback whose state is not the one the daemon issued is
// refused and audited.
func TestOIDCStateMismatchRefused(t *testing.T) {
	since := time.Now().Add(-time.Second)
	c := browser(t)
	var callback *url.URL
	n := *c
	n.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Path == "/oidc/callback" {
			callback = req.URL
			return http.ErrUseLastResponse
		}
		return nil
	}
	get(t, &n, okta.base+"/oidc/login?login_hint=olivia")
	if callback == nil {
		t.Fatal("the IdP never sent the browser back")
	}
	q := callback.Query()
	q.Set("state", "Xn"+q.Get("state")[2:])
	callback.RawQuery = q.Encode()
	resp, _ := get(t, noFollow(c), callback.String())
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("wrong state: %s, want 403", resp.Status)
	}
	if id := whoami(t, okta, c); id.Status != http.StatusUnauthorized {
		t.Fatalf("wrong state made a session for %q", id.User)
	}
	var reason string
	for _, ev := range okta.audit(t, "sso.signin", since) {
		if ev.Outcome == "failure" && ev.Details["method"] == "oidc" {
			reason = ev.Reason
		}
	}
	if !strings.Contains(reason, "state") {
		t.Errorf("audit reason %q, want the state named", reason)
	}
}

// Someone the IdP knows but the directory does not is refused with a page
// that says so, and audited (no just-in-time creation on entra).
func TestUnknownIdPUserRefused(t *testing.T) {
	since := time.Now().Add(-time.Second)
	c := browser(t)
	if resp := oidcSignIn(t, entra, c, "ghost", "/"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("ghost: %s, want 403", resp.Status)
	}
	var found bool
	for _, ev := range entra.audit(t, "sso.signin", since) {
		if ev.Actor == "ghost@contoso.test" && ev.Outcome == "denied" && strings.Contains(ev.Reason, "no active local user") {
			found = true
		}
	}
	if !found {
		t.Errorf("no audit record of the refused ghost")
	}
	if id := whoami(t, entra, c); id.Status != http.StatusUnauthorized {
		t.Errorf("ghost got a session")
	}
}

// With sso.jit (okta), an unknown IdP user whose groups a rule maps is
// created at first sign-in with that profile; one whose groups no rule
// maps is refused and the reason audited.
func TestJustInTimeCreation(t *testing.T) {
	// Nina goes when the test ends, so a run again (go test -count=N)
	// creates her anew; the audit is read from now on, not from a second
	// before as elsewhere, so that the last run's creation is not counted.
	since := time.Now()
	t.Cleanup(func() { okta.deleteUser(t, "nina@example.test") })
	c := browser(t)
	wantSignedIn(t, samlSignIn(t, okta, c, "nina", "nina-idp-pw", "/"), "/")
	wantIdentity(t, okta, c, "nina@example.test", "nina@example.test", "Supervisor", "Floor 2", "saml", "monitor_agents")
	created := okta.audit(t, "user.create", since)
	if len(created) != 1 || created[0].Actor != "sso.jit" || created[0].Details["profile"] != "Supervisor" {
		t.Errorf("creation audit: %+v", created)
	}
	// The second sign-in finds her; nothing is created again.
	c = browser(t)
	wantSignedIn(t, samlSignIn(t, okta, c, "nina", "nina-idp-pw", "/"), "/")
	if n := len(okta.audit(t, "user.create", since)); n != 1 {
		t.Errorf("%d creations after the second sign-in", n)
	}

	c = browser(t)
	if resp := samlSignIn(t, okta, c, "stranger", "stranger-idp-pw", "/"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("stranger: %s, want 403", resp.Status)
	}
	var reason string
	for _, ev := range okta.audit(t, "sso.signin", since) {
		if ev.Actor == "stranger@example.test" && ev.Outcome == "denied" {
			reason = ev.Reason + " / " + toString(ev.Details["jit_error"])
		}
	}
	if !strings.Contains(reason, "just-in-time") || !strings.Contains(reason, "no mapping rule matched") {
		t.Errorf("stranger's refusal: %q", reason)
	}
}

func toString(v any) string {
	s, _ := v.(string)
	return s
}

// Logging out ends the session for /auth/verify at once.
func TestLogout(t *testing.T) {
	c := browser(t)
	wantSignedIn(t, oidcSignIn(t, okta, c, "olivia", "/"), "/")
	if id := whoami(t, okta, c); id.Status != http.StatusOK {
		t.Fatalf("verify %d", id.Status)
	}
	resp, _ := postForm(t, noFollow(c), okta.base+"/logout", nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %s", resp.Status)
	}
	resp, _ = get(t, noFollow(c), okta.base+"/auth/verify")
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("X-Dirbridge-Login-Url"), okta.base+"/login") {
		t.Errorf("after logout: %s login URL %q", resp.Status, resp.Header.Get("X-Dirbridge-Login-Url"))
	}
}

// Forgotten password: the link arrives at the SMTP server (over
// STARTTLS), works once, and the new password signs in. A directory user
// gets the same answer and no mail.
func TestForgottenPassword(t *testing.T) {
	mailer.Reset()
	c := browser(t)
	const answer = "If an account with that name or address exists here"
	for _, name := range []string{"adele", "nobody@example.test", "lena"} {
		resp, body := postForm(t, c, entra.base+"/password/forgot", url.Values{"username": {name}})
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, answer) {
			t.Fatalf("forgot %s: %s %.300s", name, resp.Status, body)
		}
	}
	var msgs []harness.SMTPMessage
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if msgs = mailer.Messages(); len(msgs) > 0 {
			break
		}
	}
	if len(msgs) != 1 || !slices.Equal(msgs[0].To, []string{"lena@example.test"}) || !msgs[0].TLS {
		t.Fatalf("mails: %+v\n%s", msgs, entra.logTail())
	}
	// One more moment: a mail to adele or nobody would have come by now.
	time.Sleep(200 * time.Millisecond)
	if n := len(mailer.Messages()); n != 1 {
		t.Fatalf("%d mails, want only lena's", n)
	}
	link := resetLink(t, msgs[0].Raw)
	if !strings.HasPrefix(link, entra.base+"/password/reset?token=") {
		t.Fatalf("link %q", link)
	}
	resp, body := get(t, c, link)
	token := url.Values{}
	if u, err := url.Parse(link); err == nil {
		token = u.Query()
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "new_password") {
		t.Fatalf("reset page: %s %.300s", resp.Status, body)
	}
	const newPW = "Brand-new-Passw0rd"
	form := url.Values{"token": {token.Get("token")}, "new_password": {newPW}, "confirm_password": {newPW}}
	if resp, body := postForm(t, c, entra.base+"/password/reset", form); resp.StatusCode != http.StatusOK || !strings.Contains(body, "Your password has been changed") {
		t.Fatalf("reset: %s %.300s", resp.Status, body)
	}
	form.Set("new_password", "Another-Passw0rd1")
	form.Set("confirm_password", "Another-Passw0rd1")
	if resp, body := postForm(t, c, entra.base+"/password/reset", form); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "already used") {
		t.Fatalf("second use of the link: %s %.300s", resp.Status, body)
	}
	if resp, _ := postForm(t, noFollow(browser(t)), entra.base+"/login", url.Values{"username": {"lena"}, "password": {lenaPassword}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("old password: %s, want 401", resp.Status)
	}
	lc := browser(t)
	if resp, _ := postForm(t, noFollow(lc), entra.base+"/login", url.Values{"username": {"lena"}, "password": {newPW}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("new password: %s, want 303", resp.Status)
	}
	if id := whoami(t, entra, lc); id.User != "lena" || id.Profile != "Agent" {
		t.Errorf("lena landed as %+v", id)
	}
}

// resetLink is the reset URL in a raw message's text part (go-mail writes
// quoted-printable, which folds long lines).
func resetLink(t testing.TB, raw string) string {
	t.Helper()
	m, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var r io.Reader = m.Body
	if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		r = quotedprintable.NewReader(m.Body)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Fields(string(b)) {
		if strings.Contains(f, "/password/reset?token=") {
			return f
		}
	}
	t.Fatalf("no reset link in %q", b)
	return ""
}

// api.token_ttl (45m on this daemon, 2h by default) bounds bearer tokens.
func TestAPITokenTTL(t *testing.T) {
	for _, c := range []struct {
		in  *instance
		ttl time.Duration
	}{{okta, 45 * time.Minute}, {entra, 2 * time.Hour}} {
		tok, exp := c.in.token(t)
		if d := time.Until(exp); d > c.ttl || d < c.ttl-time.Minute {
			t.Errorf("%s: token expires in %s, want %s", c.in.name, d, c.ttl)
		}
		// /api/v1/me with a bearer token is the admin API's answer.
		req, _ := http.NewRequest(http.MethodGet, c.in.base+"/api/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"api_key_id"`) || !strings.Contains(string(b), `"auditor"`) {
			t.Errorf("%s: bearer /api/v1/me: %s %s", c.in.name, resp.Status, b)
		}
	}
}

// TestIdPClaimsCannotTakeOverAccounts signs in as IdP accounts whose
// mutable claims name someone else's account (the nOAuth class of flaw):
// each is refused, with the reason in the audit log.
func TestIdPClaimsCannotTakeOverAccounts(t *testing.T) {
	since := time.Now().Add(-time.Second)
	// adele's first sign-in (any earlier run's too) binds her Entra object.
	wantSignedIn(t, oidcSignIn(t, entra, browser(t), "adele", "/"), "/")

	cases := []struct {
		name, login, actor string
		in                 *instance
		want               string
	}{
		{"entra guest with adele's e-mail and preferred_username", "mallory", "adele.vance@contoso.test", entra, "email: not verified"},
		{"another Entra object with adele's UPN", "adele-twin", "adele.vance@contoso.test", entra, "subject for this user changed"},
		{"okta user with olivia's unverified e-mail", "eve", "olivia@example.test", okta, "email: not verified"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := browser(t)
			if resp := oidcSignIn(t, tc.in, c, tc.login, "/"); resp.StatusCode != http.StatusForbidden {
				t.Fatalf("%s: %s, want 403", tc.login, resp.Status)
			}
			if id := whoami(t, tc.in, c); id.Status != http.StatusUnauthorized {
				t.Fatalf("%s got a session as %q", tc.login, id.User)
			}
			var seen []string
			for _, ev := range tc.in.audit(t, "sso.signin", since) {
				if ev.Outcome != "denied" || ev.Actor != tc.actor {
					continue
				}
				record := ev.Reason + " " + fmt.Sprint(ev.Details["passed_over"])
				if strings.Contains(record, tc.want) {
					return
				}
				seen = append(seen, record)
			}
			t.Errorf("no denied sign-in of %s saying %q; saw %q", tc.actor, tc.want, seen)
		})
	}
}

// With SSO enforced, wrong passwords posted to the bypass path for an
// account without bypass rights lock nothing: the account still signs in
// through its IdP (the refusal comes before the password is checked, so
// no bind reaches the directory either).
func TestBypassPathCannotLockOthersOut(t *testing.T) {
	since := time.Now().Add(-time.Second)
	for i := range 8 {
		c := browser(t)
		form := url.Values{"username": {"olivia"}, "password": {fmt.Sprintf("guess-%d", i)}, "bypass-sso": {"1"}}
		if resp, _ := postForm(t, noFollow(c), okta.base+"/login?bypass-sso=1", form); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %s, want 401", i+1, resp.Status)
		}
	}
	wantSignedIn(t, oidcSignIn(t, okta, browser(t), "olivia", "/"), "/")
	refused := 0
	for _, ev := range okta.audit(t, "sso.signin", since) {
		if ev.Actor == "olivia" && ev.Outcome == "denied" && strings.Contains(ev.Reason, "lacks bypass_sso") {
			refused++
		}
		if ev.Actor == "olivia" && strings.Contains(ev.Reason, "locked") {
			t.Errorf("olivia locked: %+v", ev)
		}
	}
	if refused != 8 {
		t.Errorf("%d refused bypass attempts audited, want 8", refused)
	}
}

// An IdP-only user (created just in time at OIDC sign-in) asks for a
// forgotten-password link: the answer is everyone's, no mail goes out,
// and the audit says why; a password sign-in is refused too. Without
// this, a local user without a password and with the IdP's verified
// address could set one and sign in past the IdP's MFA.
func TestIdPOnlyUserGetsNoPasswordReset(t *testing.T) {
	since := time.Now()
	t.Cleanup(func() { jitReset.deleteUser(t, "jill@example.test") })
	c := browser(t)
	wantSignedIn(t, oidcSignIn(t, jitReset, c, "jill", "/"), "/")
	if created := jitReset.audit(t, "user.create", since); len(created) != 1 || created[0].Actor != "sso.jit" {
		t.Fatalf("creation audit: %+v", created)
	}

	const answer = "If an account with that name or address exists here"
	for _, name := range []string{"jill@example.test", "nobody@example.test"} {
		resp, body := postForm(t, browser(t), jitReset.base+"/password/forgot", url.Values{"username": {name}})
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, answer) {
			t.Fatalf("forgot %s: %s %.300s", name, resp.Status, body)
		}
	}
	// Long enough for a mail sent in the background to arrive.
	time.Sleep(time.Second)
	for _, m := range mailer.Messages() {
		if slices.Contains(m.To, "jill@example.test") {
			t.Fatalf("a reset mail went to the IdP-only user: %+v", m)
		}
	}
	var reasons []string
	for _, ev := range jitReset.audit(t, "sso.password_reset", since) {
		reasons = append(reasons, ev.Outcome+": "+ev.Reason)
		if ev.Outcome == "success" {
			t.Errorf("reset audited as a success: %+v", ev)
		}
	}
	// Newest first: nobody's, then jill's.
	if len(reasons) != 2 || !strings.Contains(reasons[1], "IdP-only user: no local password") {
		t.Errorf("reset audit: %q", reasons)
	}
	if resp, _ := postForm(t, noFollow(browser(t)), jitReset.base+"/login", url.Values{"username": {"jill@example.test"}, "password": {"any-Passw0rd1"}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("password sign-in of the IdP-only user: %s, want 401", resp.Status)
	}
}
