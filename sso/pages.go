package sso

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
)

//go:embed templates/*.html
var templateFS embed.FS

func parsePages() (*template.Template, error) {
	t, err := template.ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("parse pages: %w", err)
	}
	return t, nil
}

// page is what every template gets.
type page struct {
	Title, Error, Info string
	Methods            []button
	ShowPassword       bool
	Bypass             bool
	ReturnTo           string
	Username           string
	LoginURL           string
	DaysLeft           int
	ContinueURL        string
	ChangeURL          string
	Rules              []string
	Ticket             string
	CertURL            string
	ForgotURL          string
}

type button struct{ Name, URL string }

// render writes a page. Rendering into a buffer first means a template
// error becomes a clean 500, not half a page.
func (s *core) render(w http.ResponseWriter, status int, name string, p page) {
	var buf bytes.Buffer
	if err := s.pages.ExecuteTemplate(&buf, name, p); err != nil {
		s.log.Error("render page " + name + ": " + err.Error())
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// Sign-in pages are never framed (click-jacking) and load nothing
	// from elsewhere.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func queryEscape(s string) string { return url.QueryEscape(s) }

// returnToAsksBypass reports whether a (safe) return URL carries
// bypass-sso=1 in its query. It only chooses which form to show: the
// bypass itself is granted by the password handler's privilege gate.
func returnToAsksBypass(returnTo string) bool {
	if !strings.Contains(returnTo, "bypass-sso") {
		return false
	}
	u, err := url.Parse(returnTo)
	return err == nil && u.Query().Get("bypass-sso") == "1"
}

// handleLoginPage shows the login page. With SSO enforced it sends the
// user straight to the only IdP, or shows only the SSO buttons; the
// password form appears only on the bypass path. Without enforcement it
// offers both to everyone. The bypass path is asked for with
// ?bypass-sso=1 on /login or on the return URL (behind forward auth the
// application's own ".../?bypass-sso=1" link arrives as return_to).
func (ps *passwords) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if ps.negotiator != nil && q.Get("bypass-sso") != "1" && q.Get("logged_out") != "1" {
		ps.negotiator.ServeNegotiate(w, r)
		return
	}
	ps.loginPage(w, r, http.StatusOK, true)
}

// loginPage renders the login page with status; mayRedirect lets it send
// the user straight to the only IdP when SSO is enforced.
func (ps *passwords) loginPage(w http.ResponseWriter, r *http.Request, status int, mayRedirect bool) {
	q := r.URL.Query()
	returnTo := SafeReturnTo(q.Get("return_to"), ps.allowed)
	bypass := q.Get("bypass-sso") == "1" || returnToAsksBypass(returnTo)
	p := page{Title: "Sign in", ReturnTo: returnTo, Bypass: bypass, Methods: ps.buttons(returnTo, bypass)}
	if q.Get("logged_out") == "1" {
		p.Info = "You have signed out."
	}
	switch {
	case !ps.opts.Enforce:
		p.ShowPassword = true
	case bypass:
		p.ShowPassword = true
		p.Title = "Sign in without single sign-on"
	case mayRedirect && len(ps.opts.Methods) == 1 && p.Info == "":
		http.Redirect(w, r, ps.opts.Methods[0].LoginURL(returnTo), http.StatusSeeOther)
		return
	}
	if p.ShowPassword && ps.opts.ResetMailer != nil {
		p.ForgotURL = "/password/forgot"
	}
	if p.ShowPassword && ps.opts.ClientCert != nil {
		p.CertURL = "/login/certificate?return_to=" + queryEscape(returnTo)
	}
	ps.render(w, status, "login", p)
}
