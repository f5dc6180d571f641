// Package sso is dirbridge's sign-in surface. Every method — SAML, OIDC,
// local or directory password, client certificate — yields one Identity and
// ends in the one Finish step, which resolves the local user, runs the
// sign-in policy, makes the session and writes the audit record.
package sso

import (
	"context"
	"net/http"
)

// Sign-in methods, as recorded in sessions and audit events.
const (
	MethodSAML     = "saml"
	MethodOIDC     = "oidc"
	MethodPassword = "password"
	MethodBypass   = "bypass"
	MethodCert     = "certificate"
)

// Identity is what a sign-in method established about the person: the one
// currency of sign-in. Redirect methods fill it from the IdP's claims;
// password methods from the matched user.
type Identity struct {
	Method string
	// Issuer is the IdP (SAML entity ID or OIDC issuer); empty for passwords.
	Issuer  string
	Subject string // OIDC sub, SAML NameID
	NameID  string
	// LinkSubject is the IdP's stable key for the person, never reassigned
	// to someone else: Entra's tid/oid, an OIDC issuer's sub, a persistent
	// SAML NameID or a configured subject attribute. The first successful
	// sign-in binds it to the local user (an IdP link), and later sign-ins
	// are matched by it before any claim. Empty when the IdP sent none (a
	// transient or e-mail NameID): nothing is bound then.
	LinkSubject string
	// Username, UPN, Email and ImmutableID are the keys the user is matched by.
	Username    string
	UPN         string
	Email       string
	ImmutableID string // base64 objectGUID (Entra onPremisesImmutableId)
	// EmailVerified says the IdP vouches that Email belongs to the person
	// (OIDC email_verified). An unverified e-mail is never a match key:
	// anyone can put someone else's address into their own IdP profile.
	EmailVerified bool
	DisplayName   string
	FirstName     string
	LastName      string
	Groups        []string
	// GroupsOverage is set when the IdP left the groups out because there
	// were too many (Entra's overage claim): Groups is then unknown, not empty.
	GroupsOverage bool
	// UserID is set when the method already resolved the local user
	// (password sign-in).
	UserID string
	// Claims keeps what the IdP sent, for the audit record's diagnostics.
	Claims map[string]any
}

// Finisher is the one finish step. Redirect methods call it with the
// Identity they established; it writes the response (a session cookie and
// a redirect to returnTo, or a refusal page) and the audit record.
type Finisher interface {
	Finish(w http.ResponseWriter, r *http.Request, id Identity, returnTo string)
	// Fail records a sign-in that failed before an Identity existed (bad
	// assertion, wrong state, ...) and shows a refusal page. reason goes to
	// the audit log; the page shows a generic message.
	Fail(w http.ResponseWriter, r *http.Request, method, issuer, reason string)
}

// RedirectMethod is a sign-in through an external IdP (SAML, OIDC).
type RedirectMethod interface {
	// Name identifies the method in URLs and on the login page.
	Name() string
	// Routes registers the method's endpoints (login, ACS/callback, metadata).
	Routes(mux *http.ServeMux)
	// LoginURL is where the login page sends a user to start, with returnTo.
	LoginURL(returnTo string) string
	// Start fetches what the method needs at start (IdP metadata,
	// discovery) and refreshes it until ctx ends.
	Start(ctx context.Context) error
}
