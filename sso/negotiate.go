package sso

import "net/http"

// MethodKerberos is Kerberos SPNEGO sign-in (sso/kerberos). With SSO
// enforced it counts as an SSO method, not as a bypass: the ticket comes
// from the organisation's own KDC, as an assertion comes from its IdP.
const MethodKerberos = "kerberos"

// Negotiator is a sign-in by HTTP authentication (Kerberos SPNEGO, RFC
// 4559) that may answer on /login itself, besides its own endpoint, so a
// domain-joined browser signs in without a click.
type Negotiator interface {
	// ServeNegotiate answers GET /login. With an Authorization: Negotiate
	// header it signs in, ending in the Finisher; without one it
	// challenges (401, WWW-Authenticate: Negotiate) with the sign-in page
	// (LoginPage) as the body, which a browser that does not negotiate
	// simply shows.
	ServeNegotiate(w http.ResponseWriter, r *http.Request)
}

// SetNegotiator makes GET /login offer n (sso.kerberos.on_login). The
// bypass path and the page after signing out are never challenged: the
// first wants the password form, the second would sign the person
// straight back in. Call it before the Service serves requests.
func (s *Service) SetNegotiator(n Negotiator) { s.negotiator = n }

// LoginPage writes the sign-in page with status and never redirects to an
// IdP: the body of a Negotiate challenge, which the browser shows when it
// does not negotiate.
func (s *Service) LoginPage(w http.ResponseWriter, r *http.Request, status int) {
	s.pw.loginPage(w, r, status, false)
}
