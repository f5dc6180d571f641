package console

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/sso"
	"github.com/dirbridge/dirbridge/store"
)

// pageSize is the users list's page.
const pageSize = 50

type accountData struct {
	Me       admin.Me
	Sessions []admin.Session
	Keys     []admin.APIKey
	// NewKey is a key just created: its secret is shown this once.
	NewKey   *admin.APIKeyCreated
	KeyName  string
	KeyError string
	// CanEdit: the profile grants edit_own_details. Details is the form,
	// DetailErrors its refusal by field.
	CanEdit      bool
	Details      admin.MePatch
	DetailErrors map[string]string
}

func (c *Console) loadAccount(r *http.Request, s *sso.BrowserSession) (accountData, error) {
	var d accountData
	if err := c.get(r, s, "/api/v1/me", nil, &d.Me); err != nil {
		return d, err
	}
	var sl admin.SessionList
	if err := c.get(r, s, "/api/v1/me/sessions", nil, &sl); err != nil {
		return d, err
	}
	d.Sessions = sl.Items
	var kl admin.APIKeyList
	if err := c.get(r, s, "/api/v1/users/me/apikeys", nil, &kl); err != nil {
		return d, err
	}
	d.Keys = kl.Items
	d.CanEdit = s.User.Superuser || slices.Contains(d.Me.Privileges, privilege.EditOwnDetails)
	nick := d.Me.User.Fields[admin.FieldChatNickname]
	d.Details = admin.MePatch{DisplayName: &d.Me.User.DisplayName, ChatNickname: &nick, Language: &d.Me.User.Language}
	return d, nil
}

// detailsSave changes one's own display name, chat nickname and language.
func (c *Console) detailsSave(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	f := r.PostForm
	name, nick, lang := strings.TrimSpace(f.Get("display_name")), strings.TrimSpace(f.Get("chat_nickname")), strings.TrimSpace(f.Get("language"))
	in := admin.MePatch{DisplayName: &name, ChatNickname: &nick, Language: &lang}
	err := c.call(r, s, http.MethodPatch, "/api/v1/me", nil, in, nil)
	if err == nil {
		seeOther(w, r, "/", "details")
		return nil
	}
	var ae *apiError
	if !asAPIError(err, &ae) || ae.Status == http.StatusUnauthorized {
		return err
	}
	d, lerr := c.loadAccount(r, s)
	if lerr != nil {
		return lerr
	}
	d.Details, d.DetailErrors = in, map[string]string{ae.Body.Field: ae.Body.Message}
	c.render(w, r, s, ae.Status, "account", "My account", "account", d)
	return nil
}

// myAccount is / for every signed-in user: who I am, profile and teams,
// password expiry, my sessions, my API keys.
func (c *Console) myAccount(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	d, err := c.loadAccount(r, s)
	if err != nil {
		return err
	}
	c.render(w, r, s, http.StatusOK, "account", "My account", "account", d)
	return nil
}

// keyCreate creates an API key of the signed-in user and shows its secret
// once, on My account itself (never in a redirect's URL).
func (c *Console) keyCreate(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	in := admin.APIKeyInput{Name: strings.TrimSpace(r.PostForm.Get("name"))}
	var out admin.APIKeyCreated
	err := c.call(r, s, http.MethodPost, "/api/v1/users/me/apikeys", nil, in, &out)
	var ae *apiError
	if err != nil && (!asAPIError(err, &ae) || ae.Status == http.StatusUnauthorized) {
		return err
	}
	d, lerr := c.loadAccount(r, s)
	if lerr != nil {
		return lerr
	}
	status := http.StatusOK
	if err != nil {
		d.KeyName, d.KeyError, status = in.Name, ae.Body.Message, ae.Status
	} else {
		d.NewKey = &out
	}
	c.render(w, r, s, status, "account", "My account", "account", d)
	return nil
}

func (c *Console) keyRevoke(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	if err := c.call(r, s, http.MethodDelete, "/api/v1/users/me/apikeys/"+url.PathEscape(r.PathValue("key")), nil, nil, nil); err != nil {
		return err
	}
	seeOther(w, r, "/", "revoked")
	return nil
}

// mySessionEnd ends one of the signed-in user's own sessions (a browser
// left signed in elsewhere) through DELETE /api/v1/me/sessions/{id}.
func (c *Console) mySessionEnd(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	if err := c.call(r, s, http.MethodDelete, "/api/v1/me/sessions/"+url.PathEscape(r.PathValue("id")), nil, nil, nil); err != nil {
		return err
	}
	seeOther(w, r, "/", "ended_own")
	return nil
}

// userFilter is the users list's query, as the form and the links carry it.
type userFilter struct {
	Q, State, Profile, Team, Source string
	// Locked is "true" for only the users locked out now; Expiring a
	// number of days (only users whose password or account expires
	// within them). Both go to the API as they are.
	Locked, Expiring string
	Page             int
}

func readUserFilter(q url.Values) userFilter {
	f := userFilter{Q: strings.TrimSpace(q.Get("q")), State: q.Get("state"), Profile: q.Get("profile"), Team: q.Get("team"), Source: q.Get("source"),
		Locked: q.Get("locked"), Expiring: q.Get("expiring_days")}
	f.Page, _ = strconv.Atoi(q.Get("page"))
	if f.Page < 1 {
		f.Page = 1
	}
	return f
}

// values is f as a query string, page included when not 1.
func (f userFilter) values(page int) url.Values {
	v := url.Values{}
	for k, x := range map[string]string{"q": f.Q, "state": f.State, "profile": f.Profile, "team": f.Team, "source": f.Source,
		"locked": f.Locked, "expiring_days": f.Expiring} {
		if x != "" {
			v.Set(k, x)
		}
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	return v
}

type userListData struct {
	F userFilter
	// Query is the list's own query string (the bulk form comes back to it).
	Query string
	// The bulk change: the ticked users, the form, its outcome.
	Ticked     map[string]bool
	Bulk       bulkForm
	BulkError  string
	BulkDone   int
	List       admin.UserList
	From, To   int
	Prev, Next string
	Pages      int
	Profiles   []string
	Teams      []string
	Sources    []string
	FieldError map[string]string
	// ExpiringChoices are the expiry filter's windows.
	ExpiringChoices []expiringChoice
}

// expiringChoice is one window of the users list's expiry filter.
type expiringChoice struct {
	Days  int
	Label string
}

// expiringChoices: this week (the overview's card), the usual notice
// periods, and a quarter for planning renewals.
var expiringChoices = []expiringChoice{{7, "within 7 days"}, {14, "within 14 days"}, {30, "within 30 days"}, {90, "within 90 days"}}

func (c *Console) userList(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	d, status, err := c.loadUserList(r, s, r.URL.Query())
	if err != nil {
		return err
	}
	c.render(w, r, s, status, "users", "Users", "users", d)
	return nil
}

func (c *Console) loadUserList(r *http.Request, s *sso.BrowserSession, query url.Values) (userListData, int, error) {
	f := readUserFilter(query)
	q := f.values(1)
	q.Set("limit", strconv.Itoa(pageSize))
	q.Set("offset", strconv.Itoa((f.Page-1)*pageSize))
	d := userListData{F: f, Sources: append([]string{"local"}, c.dirs...), Query: f.values(f.Page).Encode(), ExpiringChoices: expiringChoices}
	status := http.StatusOK
	if err := c.get(r, s, "/api/v1/users", q, &d.List); err != nil {
		if d.FieldError = fieldErrors(err); d.FieldError == nil || forbidden(err) {
			return d, 0, err
		}
		status = http.StatusBadRequest
	}
	d.Profiles, d.Teams = c.profileAndTeamNames(r, s)
	if n := len(d.List.Items); n > 0 {
		d.From, d.To = d.List.Offset+1, d.List.Offset+n
	}
	d.Pages = (d.List.Total + pageSize - 1) / pageSize
	if f.Page > 1 {
		d.Prev = "/admin/users?" + f.values(f.Page-1).Encode()
	}
	if f.Page < d.Pages {
		d.Next = "/admin/users?" + f.values(f.Page+1).Encode()
	}
	return d, status, nil
}

// userBulk changes the ticked users of the list at once through the API
// (one audited transaction, all or nothing) and shows the list again.
func (c *Console) userBulk(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	f := r.PostForm
	back, _ := url.ParseQuery(f.Get("back"))
	in := admin.BulkUpdateRequest{Users: f["users"], State: f.Get("bulk_state")}
	if p, ok := f["bulk_profile"]; ok && p[0] != "(keep)" {
		in.Profile = &p[0]
	}
	if t := strings.TrimSpace(f.Get("bulk_units")); t != "" {
		units := []string{}
		if t != "-" {
			for _, u := range strings.Split(t, ",") {
				if u = strings.TrimSpace(u); u != "" {
					units = append(units, u)
				}
			}
		}
		in.Units = &units
	}
	var out admin.BulkUpdateResponse
	err := c.call(r, s, http.MethodPost, "/api/v1/bulk/update-users", nil, in, &out)
	var ae *apiError
	if err != nil && (!asAPIError(err, &ae) || ae.Status == http.StatusUnauthorized) {
		return err
	}
	d, status, lerr := c.loadUserList(r, s, back)
	if lerr != nil {
		return lerr
	}
	d.Ticked = map[string]bool{}
	if err != nil {
		for _, id := range in.Users {
			d.Ticked[id] = true
		}
		d.Bulk = bulkForm{State: in.State, Profile: f.Get("bulk_profile"), Units: f.Get("bulk_units")}
		d.BulkError, status = ae.Body.Message, ae.Status
	} else {
		d.BulkDone = len(out.Users)
	}
	c.render(w, r, s, status, "users", "Users", "users", d)
	return nil
}

// bulkForm is the users list's "change the ticked users" form.
type bulkForm struct{ State, Profile, Units string }

// profileAndTeamNames are the choices of the filters and forms; a caller
// who may not list them gets none (the API decides).
func (c *Console) profileAndTeamNames(r *http.Request, s *sso.BrowserSession) (profiles, teams []string) {
	var pl admin.ProfileList
	if err := c.get(r, s, "/api/v1/profiles", nil, &pl); err == nil {
		for _, p := range pl.Items {
			profiles = append(profiles, p.Name)
		}
	}
	var tl admin.TeamList
	if err := c.get(r, s, "/api/v1/teams", url.Values{"members": {"false"}}, &tl); err == nil {
		for _, t := range tl.Items {
			teams = append(teams, t.Name)
		}
	}
	return profiles, teams
}

type userPageData struct {
	U         admin.UserDetail
	Sessions  []admin.Session
	NoSession bool // the caller may not list sessions
	Audit     []admin.AuditEvent
	NoAudit   bool
	// Links are the user's IdP links, Keys its API keys (nil: the caller
	// may not see them).
	Links []admin.IdPLink
	Keys  []admin.APIKey
	// Explain is what the mapping gives a directory user and why (the
	// rule behind the profile and each team, the directory groups); nil
	// for a local user, before the first sync, or when the caller may not
	// read it.
	Explain *admin.Explanation
	// ActionError is the refusal of the action just tried, by action.
	ActionError map[string]string
	// NewPassword is a generated password, shown once.
	NewPassword admin.PasswordResetResponse
	Reason      string
	// Edit is the profile-and-teams form: the user's values, or what was
	// submitted when the API refused it (EditErrors by field).
	Edit       userEdit
	EditErrors map[string]string
	Profiles   []string
	Teams      []string
}

// userEdit is the profile-and-teams form of a user's page.
type userEdit struct {
	Profile              string
	Units                string
	PinProfile, PinUnits bool
}

func readUserEdit(f url.Values) userEdit {
	return userEdit{Profile: f.Get("profile"), Units: f.Get("units"), PinProfile: f.Get("pinned_profile") == "on", PinUnits: f.Get("pinned_units") == "on"}
}

// patch is e as the API's change: profile, teams and both pins.
func (e userEdit) patch() admin.UserPatch {
	units := []string{}
	for _, u := range strings.Split(e.Units, ",") {
		if u = strings.TrimSpace(u); u != "" {
			units = append(units, u)
		}
	}
	return admin.UserPatch{Profile: &e.Profile, Units: &units, PinnedProfile: &e.PinProfile, PinnedUnits: &e.PinUnits}
}

func (c *Console) loadUserPage(r *http.Request, s *sso.BrowserSession, id string) (userPageData, error) {
	var d userPageData
	if err := c.get(r, s, "/api/v1/users/"+url.PathEscape(id), nil, &d.U); err != nil {
		return d, err
	}
	var sl admin.SessionList
	if err := c.get(r, s, "/api/v1/sessions", url.Values{"user": {d.U.ID}}, &sl); err != nil {
		if !forbidden(err) {
			return d, err
		}
		d.NoSession = true
	}
	d.Sessions = sl.Items
	var al admin.AuditList
	if err := c.get(r, s, "/api/v1/audit", url.Values{"target": {"user:" + d.U.Username}, "limit": {"20"}}, &al); err != nil {
		if !forbidden(err) {
			return d, err
		}
		d.NoAudit = true
	}
	d.Audit = al.Items
	var ll admin.IdPLinkList
	if err := c.get(r, s, "/api/v1/users/"+url.PathEscape(d.U.ID)+"/idp-links", nil, &ll); err != nil && !forbidden(err) {
		return d, err
	}
	d.Links = ll.Items
	var kl admin.APIKeyList
	if err := c.get(r, s, "/api/v1/users/"+url.PathEscape(d.U.ID)+"/apikeys", nil, &kl); err != nil && !forbidden(err) {
		return d, err
	}
	d.Keys = kl.Items
	ex, err := c.explain(r, s, d.U)
	if err != nil {
		return d, err
	}
	d.Explain = ex
	d.Edit = userEdit{Profile: d.U.Profile, Units: strings.Join(d.U.Units, ", "), PinProfile: d.U.PinnedProfile, PinUnits: d.U.PinnedUnits}
	d.Profiles, d.Teams = c.profileAndTeamNames(r, s)
	return d, nil
}

// explain asks the API what the mapping gives a directory user. A local
// user (or one not synced yet) has no answer: the API says 409, and the
// page shows nothing.
func (c *Console) explain(r *http.Request, s *sso.BrowserSession, u admin.UserDetail) (*admin.Explanation, error) {
	if u.Source == store.SourceLocal || u.Source == "" {
		return nil, nil
	}
	var ex admin.Explanation
	err := c.get(r, s, "/api/v1/users/"+url.PathEscape(u.ID)+"/explain", nil, &ex)
	var ae *apiError
	switch {
	case err == nil:
		return &ex, nil
	case forbidden(err), asAPIError(err, &ae) && ae.Status == http.StatusConflict:
		return nil, nil
	}
	return nil, err
}

func (c *Console) userPage(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	d, err := c.loadUserPage(r, s, r.PathValue("id"))
	if err != nil {
		return err
	}
	c.render(w, r, s, http.StatusOK, "user", d.U.Username, "users", d)
	return nil
}

// userAction runs one action of a user's page through the API and shows
// the page again: a refusal next to the action's button, a success as a
// confirmation (a generated password once, on the page itself).
func (c *Console) userAction(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	id, action := r.PathValue("id"), r.PathValue("action")
	base := "/api/v1/users/" + url.PathEscape(id)
	var err error
	var reset admin.PasswordResetResponse
	switch action {
	case "activate", "unlock":
		err = c.call(r, s, http.MethodPost, base+"/"+action, nil, nil, nil)
	case "deactivate":
		err = c.call(r, s, http.MethodPost, base+"/deactivate", nil, admin.DeactivateRequest{Reason: strings.TrimSpace(r.PostForm.Get("reason"))}, nil)
	case "end-session":
		err = c.call(r, s, http.MethodDelete, base+"/sessions", nil, nil, nil)
	case "password":
		in := admin.PasswordResetRequest{Password: r.PostForm.Get("password")}
		err = c.call(r, s, http.MethodPost, base+"/password", nil, in, &reset)
	case "edit":
		err = c.call(r, s, http.MethodPatch, base, nil, readUserEdit(r.PostForm).patch(), nil)
	case "link":
		in := admin.IdPLinkInput{Issuer: strings.TrimSpace(r.PostForm.Get("issuer")), Subject: strings.TrimSpace(r.PostForm.Get("subject"))}
		err = c.call(r, s, http.MethodPost, base+"/idp-links", nil, in, nil)
	case "unlink":
		err = c.call(r, s, http.MethodDelete, base+"/idp-links", url.Values{"issuer": {r.PostForm.Get("issuer")}}, nil, nil)
	case "revoke-key":
		err = c.call(r, s, http.MethodDelete, base+"/apikeys/"+url.PathEscape(r.PostForm.Get("key")), nil, nil, nil)
	default:
		return &pageError{Status: http.StatusNotFound, Message: "There is no action " + action + "."}
	}
	if err != nil {
		var ae *apiError
		if !asAPIError(err, &ae) {
			return err
		}
		d, lerr := c.loadUserPage(r, s, id)
		if lerr != nil {
			return err // the user is out of reach: say why the action failed
		}
		d.ActionError = map[string]string{action: ae.Body.Message}
		d.Reason = r.PostForm.Get("reason")
		if action == "edit" {
			d.Edit = readUserEdit(r.PostForm)
			d.EditErrors = map[string]string{formField(ae.Body.Field): ae.Body.Message}
		}
		c.render(w, r, s, ae.Status, "user", d.U.Username, "users", d)
		return nil
	}
	if action == "password" {
		d, err := c.loadUserPage(r, s, id)
		if err != nil {
			return err
		}
		// The API returns a password only when it generated one; one the
		// administrator typed is never echoed.
		d.NewPassword = reset
		c.render(w, r, s, http.StatusOK, "user", d.U.Username, "users", d)
		return nil
	}
	seeOther(w, r, "/admin/users/"+url.PathEscape(id), action)
	return nil
}

type userFormData struct {
	In       admin.CreateUserRequest
	Invites  bool // the form offers the invitation
	Invite   bool
	Profile  string
	Units    string
	Profiles []string
	Teams    []string
	Errors   map[string]string
}

func (c *Console) userNew(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	d := userFormData{Invites: c.invites, Invite: c.invites}
	d.Profiles, d.Teams = c.profileAndTeamNames(r, s)
	c.render(w, r, s, http.StatusOK, "user_new", "New user", "users", d)
	return nil
}

// userCreate creates a local user; a refusal shows the form again with
// everything typed and the message next to the field the API names.
func (c *Console) userCreate(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	f := r.PostForm
	d := userFormData{
		In: admin.CreateUserRequest{
			Username: strings.TrimSpace(f.Get("username")), DisplayName: strings.TrimSpace(f.Get("display_name")),
			FirstName: strings.TrimSpace(f.Get("first_name")), LastName: strings.TrimSpace(f.Get("last_name")),
			Email: strings.TrimSpace(f.Get("email")), State: f.Get("state"),
		},
		Profile: f.Get("profile"), Units: f.Get("units"),
		Invites: c.invites, Invite: c.invites && f.Get("invite") == "on",
	}
	d.In.Invite = &d.Invite
	if d.Profile != "" {
		d.In.Profile = &d.Profile
	}
	for _, u := range strings.Split(d.Units, ",") {
		if u = strings.TrimSpace(u); u != "" {
			d.In.Units = append(d.In.Units, u)
		}
	}
	var out admin.CreateUserResponse
	err := c.call(r, s, http.MethodPost, "/api/v1/users", nil, d.In, &out)
	if err != nil {
		var ae *apiError
		if !asAPIError(err, &ae) || ae.Status == http.StatusUnauthorized {
			return err
		}
		d.Errors = map[string]string{formField(ae.Body.Field): ae.Body.Message}
		d.Profiles, d.Teams = c.profileAndTeamNames(r, s)
		c.render(w, r, s, ae.Status, "user_new", "New user", "users", d)
		return nil
	}
	seeOther(w, r, "/admin/users/"+url.PathEscape(out.User.ID), "created")
	return nil
}

// formField maps an API field (a JSON path such as "units[1]") to the
// form field that shows its message; unknown fields go to the form.
func formField(f string) string {
	if i := strings.IndexAny(f, "[."); i >= 0 {
		f = f[:i]
	}
	switch f {
	case "username", "display_name", "first_name", "last_name", "email", "profile", "units", "state",
		"description", "privileges", "may_grant", "scopes", "name":
		return f
	}
	return ""
}

type generateData struct {
	Pattern, Count, Start, EmailDomain, Profile, Units, State string
	Profiles, Teams                                           []string
	Errors                                                    map[string]string
	Result                                                    *admin.BulkGenerateResponse
}

func (c *Console) generatePage(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	d := generateData{Count: "10", Start: "1", Pattern: "agent{n:3}"}
	d.Profiles, d.Teams = c.profileAndTeamNames(r, s)
	c.render(w, r, s, http.StatusOK, "generate", "Generate users", "users", d)
	return nil
}

// generateUsers previews (dry run) or generates numbered local users; the
// generated passwords are shown once, on the page.
func (c *Console) generateUsers(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	f := r.PostForm
	d := generateData{Pattern: strings.TrimSpace(f.Get("pattern")), Count: f.Get("count"), Start: f.Get("start"),
		EmailDomain: strings.TrimSpace(f.Get("email_domain")), Profile: f.Get("profile"), Units: f.Get("units"), State: f.Get("state")}
	d.Profiles, d.Teams = c.profileAndTeamNames(r, s)
	in := admin.BulkGenerateRequest{Pattern: d.Pattern, EmailDomain: d.EmailDomain, State: d.State, DryRun: f.Get("mode") != "generate"}
	var err error
	if in.Count, err = strconv.Atoi(strings.TrimSpace(d.Count)); err != nil {
		d.Errors = map[string]string{"count": "Give a number of users."}
		c.render(w, r, s, http.StatusBadRequest, "generate", "Generate users", "users", d)
		return nil
	}
	if d.Start != "" {
		if in.Start, err = strconv.Atoi(strings.TrimSpace(d.Start)); err != nil {
			d.Errors = map[string]string{"start": "Give the first number."}
			c.render(w, r, s, http.StatusBadRequest, "generate", "Generate users", "users", d)
			return nil
		}
	}
	if d.Profile != "" {
		in.Profile = &d.Profile
	}
	for _, u := range strings.Split(d.Units, ",") {
		if u = strings.TrimSpace(u); u != "" {
			in.Units = append(in.Units, u)
		}
	}
	var out admin.BulkGenerateResponse
	if err := c.call(r, s, http.MethodPost, "/api/v1/bulk/generate-users", nil, in, &out); err != nil {
		var ae *apiError
		if !asAPIError(err, &ae) || ae.Status == http.StatusUnauthorized {
			return err
		}
		field := ae.Body.Field
		if i := strings.IndexAny(field, "[."); i >= 0 {
			field = field[:i]
		}
		switch field {
		case "pattern", "count", "start", "email_domain", "profile", "units", "state":
		default:
			field = ""
		}
		d.Errors = map[string]string{field: ae.Body.Message}
		c.render(w, r, s, ae.Status, "generate", "Generate users", "users", d)
		return nil
	}
	d.Result = &out
	c.render(w, r, s, http.StatusOK, "generate", "Generate users", "users", d)
	return nil
}
