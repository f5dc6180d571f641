// Package console is dirbridge's administration console: server-rendered
// HTML pages at /admin for administrators and My account at / for every
// signed-in user.
//
// The console holds no rules of its own. It reads the browser's sign-in
// session through the sign-in service and runs every read and every change
// as that user through the admin API's own handlers (admin.Server.ServeAs),
// so privileges, scope, grant checks and the audit log are exactly those of
// /api/v1. A refusal from the API is shown next to the field it names.
//
// Pages are html/template, the stylesheet is embedded (go:embed) and there
// is no script at all, so the strict Content-Security-Policy of the sign-in
// pages applies unchanged. State-changing requests are POST forms carrying
// a per-session token and are refused when the browser says they come from
// another site (Sec-Fetch-Site, Origin).
package console

import (
	"bytes"
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/scim"
	"github.com/dirbridge/dirbridge/sso"
)

//go:embed templates/*.html static/*
var assets embed.FS

// API runs an /api/v1 request as a signed-in user; *admin.Server
// implements it.
type API interface {
	ServeAs(w http.ResponseWriter, r *http.Request, userID string)
}

// Sessions reads the browser's sign-in session; *sso.Service implements
// it. BrowserSession returns sso.ErrNotSignedIn when there is none.
type Sessions interface {
	BrowserSession(r *http.Request) (sso.BrowserSession, error)
	LoginURL(returnTo string) string
}

// Options configure a Console. API and Sessions are required.
type Options struct {
	API      API
	Sessions Sessions
	Logger   *zap.Logger
	// Directories are the configured directory names (the source filter).
	Directories []string
	// Provisioning reports the SCIM provisioning sources (scim.Server's
	// Status); nil when none are configured. The Directories page shows
	// it to whoever the API lets read the directories.
	Provisioning func() []scim.SourceStatus
	// Invites says new local users can be mailed a set-password link
	// (the admin API has an Inviter); without, users are created without
	// one and the form does not offer it.
	Invites bool
	// Now is the clock (tests pin it).
	Now func() time.Time
}

// Console serves / and /admin. It is safe for concurrent use.
type Console struct {
	api      API
	sessions Sessions
	log      *zap.Logger
	dirs     []string
	invites  bool
	scim     func() []scim.SourceStatus
	now      func() time.Time
	pages    map[string]*template.Template
	mux      *http.ServeMux
}

// New builds a Console from opts.
func New(opts Options) (*Console, error) {
	if opts.API == nil || opts.Sessions == nil {
		return nil, errors.New("console: API and Sessions are required")
	}
	c := &Console{api: opts.API, sessions: opts.Sessions, log: opts.Logger, dirs: opts.Directories, invites: opts.Invites, scim: opts.Provisioning, now: opts.Now}
	if c.log == nil {
		c.log = zap.NewNop()
	}
	c.log = c.log.Named("console")
	if c.now == nil {
		c.now = time.Now
	}
	var err error
	if c.pages, err = parsePages(); err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	c.routes()
	return c, nil
}

// ServeHTTP serves the console; mount it at "GET /{$}", "/admin" and
// "/admin/".
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// No script, no framing, nothing from elsewhere; forms post only here.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	c.mux.ServeHTTP(w, r)
}

// handler is a console page or action for a signed-in user.
type handler func(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error

func (c *Console) routes() {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "static")
	mux.Handle("GET /admin/static/", http.StripPrefix("/admin/static/", cacheStatic(http.FileServerFS(static))))
	cop := http.NewCrossOriginProtection()
	get := func(pattern string, h handler) { mux.Handle("GET "+pattern, c.signedIn(h)) }
	post := func(pattern string, h handler) { mux.Handle("POST "+pattern, cop.Handler(c.signedIn(c.checkToken(h)))) }

	get("/{$}", c.myAccount)
	post("/admin/account/details", c.detailsSave)
	post("/admin/account/sessions/{id}/end", c.mySessionEnd)
	post("/admin/account/apikeys", c.keyCreate)
	post("/admin/account/apikeys/{key}/revoke", c.keyRevoke)
	mux.Handle("GET /admin", http.RedirectHandler("/admin/", http.StatusMovedPermanently))
	get("/admin/{$}", c.overview)
	get("/admin/users", c.userList)
	post("/admin/users/bulk", c.userBulk)
	get("/admin/users/generate", c.generatePage)
	post("/admin/users/generate", c.generateUsers)
	get("/admin/users/new", c.userNew)
	post("/admin/users/new", c.userCreate)
	get("/admin/users/{id}", c.userPage)
	post("/admin/users/{id}/{action}", c.userAction)
	get("/admin/profiles", c.profileList)
	get("/admin/profiles/new", c.profileNew)
	post("/admin/profiles/new", c.profileSave)
	get("/admin/profiles/{name}", c.profileEdit)
	post("/admin/profiles/{name}", c.profileSave)
	post("/admin/profiles/{name}/delete", c.profileDelete)
	get("/admin/teams", c.teamList)
	get("/admin/teams/new", c.teamNew)
	post("/admin/teams/new", c.teamSave)
	get("/admin/teams/{name}", c.teamPage)
	post("/admin/teams/{name}", c.teamSave)
	post("/admin/teams/{name}/delete", c.teamDelete)
	get("/admin/audit", c.auditPage)
	get("/admin/audit/export", c.auditExport)
	get("/admin/policy", c.policyPage)
	get("/admin/sessions", c.sessionList)
	post("/admin/sessions/{id}/end", c.sessionEnd)
	get("/admin/directories", c.directoryList)
	post("/admin/directories/{name}/sync", c.directorySync)
	post("/admin/directories/{name}/groups/{action}", c.importGroupAction)
	post("/admin/provisioning/{source}/token", c.provisioningToken)
	get("/admin/directories/{name}/runs/{id}", c.runPage)
	get("/admin/directories/{name}/chart.svg", c.runChart)
	get("/admin/directories/{name}/entries", c.entriesPage)
	post("/admin/directories/{name}/entries/{action}", c.entryAction)
	mux.Handle("/admin/", c.signedIn(func(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
		return &pageError{Status: http.StatusNotFound, Message: "There is no page " + r.URL.Path + "."}
	}))
	c.mux = mux
}

func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// signedIn reads the session: a GET without one goes to the sign-in page
// (and back here afterwards), anything else is refused.
func (c *Console) signedIn(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := c.sessions.BrowserSession(r)
		if errors.Is(err, sso.ErrNotSignedIn) {
			if r.Method == http.MethodGet {
				// This service's login page; the return path is this
				// request's own, and sign-in checks it (sso.SafeReturnTo).
				http.Redirect(w, r, c.sessions.LoginURL(r.URL.RequestURI()), http.StatusSeeOther) //nolint:gosec // G710: see above
				return
			}
			http.Error(w, "not signed in", http.StatusUnauthorized)
			return
		}
		if err != nil {
			c.log.Error("read session", zap.Error(err))
			http.Error(w, "the session store is unavailable; retry later", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		if err := h(w, r, &s); err != nil {
			c.fail(w, r, &s, err)
		}
	})
}

// checkToken refuses a form without this session's token: the second
// line of defence behind the cross-origin check, for browsers that send
// neither Sec-Fetch-Site nor Origin.
func (c *Console) checkToken(h handler) handler {
	return func(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		if err := r.ParseForm(); err != nil {
			return &pageError{Status: http.StatusBadRequest, Message: "The form could not be read: " + err.Error()}
		}
		tok := r.PostForm.Get("csrf")
		if subtle.ConstantTimeCompare([]byte(tok), []byte(s.CSRF)) != 1 {
			c.log.Warn("console form without a valid token", zap.String("path", r.URL.Path), zap.String("user", s.User.Username))
			return &pageError{Status: http.StatusForbidden, Message: "This form has expired or did not come from this console. Reload the page and try again."}
		}
		return h(w, r, s)
	}
}

// pageError is an error shown as a page with its status.
type pageError struct {
	Status  int
	Message string
}

func (e *pageError) Error() string { return fmt.Sprintf("%d: %s", e.Status, e.Message) }

func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession, err error) {
	var pe *pageError
	var ae *apiError
	switch {
	case errors.As(err, &pe):
	case errors.As(err, &ae):
		pe = &pageError{Status: ae.Status, Message: ae.Body.Message}
		if ae.Status == http.StatusForbidden {
			pe.Message = "You may not see this page: " + ae.Body.Message + "."
		}
	case errors.Is(err, context.Canceled):
		return
	default:
		c.log.Error("console page failed", zap.String("path", r.URL.Path), zap.Error(err))
		pe = &pageError{Status: http.StatusInternalServerError, Message: "Something went wrong; the server log has the details."}
	}
	c.render(w, r, s, pe.Status, "error", "Error", "", pe)
}

// view is what every page template receives.
type view struct {
	Title string
	// Section is the navigation entry to highlight.
	Section string
	// Refresh reloads the page every few seconds (a run in progress):
	// progress without a script.
	Refresh bool
	S       *sso.BrowserSession
	Can     can
	Flash   string
	Data    any
}

// can says which console sections the user may open, from the same
// privileges the API checks (the API still decides each request).
type can map[string]bool

func newCan(s *sso.BrowserSession) can {
	has := func(p ...string) bool {
		if s.User.Superuser {
			return true
		}
		for _, x := range p {
			for _, y := range s.Privileges {
				if x == y {
					return true
				}
			}
		}
		return false
	}
	m := can{
		"users":       has(privilege.ManageUsers, privilege.ViewUsers),
		"manageUsers": has(privilege.ManageUsers),
		"profiles":    has(privilege.ManageProfiles, privilege.ManageUsers, privilege.ViewUsers),
		"editProfile": has(privilege.ManageProfiles),
		"teams":       has(privilege.ManageTeams, privilege.ManageUsers, privilege.ViewUsers),
		"manageTeams": has(privilege.ManageTeams),
		"audit":       has(privilege.ViewAuditLog),
		"policy":      has(privilege.ManageUsers, privilege.ViewAuditLog),
		"sessions":    has(privilege.ManageSessions, privilege.ManageUsers),
		"directories": has(privilege.TriggerSync, privilege.ManageUsers),
		"sync":        has(privilege.TriggerSync),
	}
	for _, v := range m {
		if v {
			m["admin"] = true
		}
	}
	return m
}

// render writes page name; rendering into a buffer first turns a template
// error into a clean 500.
func (c *Console) render(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession, status int, name, title, section string, data any) {
	t, ok := c.pages[name]
	if !ok {
		c.log.Error("no console page " + name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	v := view{Title: title, Section: section, S: s, Can: newCan(s), Flash: flashes[r.URL.Query().Get("done")], Data: data}
	if rf, ok := data.(interface{ refresh() bool }); ok {
		v.Refresh = rf.refresh()
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		c.log.Error("render console page", zap.String("page", name), zap.Error(err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// flashes are the confirmations shown after a change (?done=...): fixed
// texts, so a link cannot put words in the console's mouth.
var flashes = map[string]string{
	"created":         "User created.",
	"activate":        "User activated.",
	"deactivate":      "User deactivated; their sessions have ended.",
	"unlock":          "Lock-out cleared.",
	"end-session":     "Sessions ended.",
	"edit":            "Profile and teams saved.",
	"revoked":         "API key revoked; its tokens stopped working.",
	"team-saved":      "Team saved.",
	"profile-deleted": "Profile deleted.",
	"details":         "Your details are saved.",
	"team-deleted":    "Team deleted.",
	"saved":           "Profile saved.",
	"ended":           "Session ended.",
	"ended_own":       "Session ended: that browser is signed out.",
	"sync":            "Sync started.",
	"group-added":     "Group chosen for import: its members are imported at the next sync.",
	"group-removed":   "Group no longer imported: its members leave at the next sync, within the deactivation limits.",
}

// seeOther redirects after a successful POST (post/redirect/get).
func seeOther(w http.ResponseWriter, r *http.Request, path, done string) {
	if done != "" {
		if strings.Contains(path, "?") {
			path += "&done=" + done
		} else {
			path += "?done=" + done
		}
	}
	http.Redirect(w, r, path, http.StatusSeeOther) //nolint:gosec // G710: console paths built from fixed prefixes and escaped ids
}
