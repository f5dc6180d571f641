package console

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/sso"
	"github.com/dirbridge/dirbridge/store"
)

func (c *Console) profileList(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	var pl admin.ProfileList
	if err := c.get(r, s, "/api/v1/profiles", nil, &pl); err != nil {
		return err
	}
	c.render(w, r, s, http.StatusOK, "profiles", "Profiles", "profiles", pl)
	return nil
}

// privRow is one privilege checkbox of the editor.
type privRow struct {
	privilege.Info
	Held, Grant bool
	ScopeKind   string
	ScopeTeams  string
}

type privArea struct {
	Name string
	Rows []privRow
}

type profileFormData struct {
	New     bool
	P       admin.Profile
	Areas   []privArea
	Holders admin.UserList
	Errors  map[string]string
	// NamedMayGrant: the profile lists what its holders may grant.
	NamedMayGrant bool
}

// profileData builds the editor over profile p: the catalogue grouped by
// area with p's choices ticked, and the users holding p.
func (c *Console) profileData(r *http.Request, s *sso.BrowserSession, p admin.Profile, isNew bool) (profileFormData, error) {
	d := profileFormData{New: isNew, P: p, NamedMayGrant: p.MayGrant != nil}
	var cat admin.PrivilegeCatalogue
	if err := c.get(r, s, "/api/v1/privileges", nil, &cat); err != nil {
		return d, err
	}
	for _, g := range cat.Groups {
		a := privArea{Name: g.Name}
		for _, info := range g.Privileges {
			row := privRow{Info: info, Held: slices.Contains(p.Privileges, info.Name), Grant: slices.Contains(p.MayGrant, info.Name), ScopeKind: store.ScopeAll}
			if sc, ok := p.Scopes[info.Name]; ok {
				row.ScopeKind, row.ScopeTeams = sc.Kind, strings.Join(sc.Teams, ", ")
			}
			a.Rows = append(a.Rows, row)
		}
		d.Areas = append(d.Areas, a)
	}
	if !isNew {
		q := url.Values{"profile": {p.Name}, "limit": {"25"}}
		if err := c.get(r, s, "/api/v1/users", q, &d.Holders); err != nil && !forbidden(err) {
			return d, err
		}
	}
	return d, nil
}

func (c *Console) profileNew(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	d, err := c.profileData(r, s, admin.Profile{}, true)
	if err != nil {
		return err
	}
	c.render(w, r, s, http.StatusOK, "profile", "New profile", "profiles", d)
	return nil
}

func (c *Console) profileEdit(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	var p admin.Profile
	if err := c.get(r, s, "/api/v1/profiles/"+url.PathEscape(r.PathValue("name")), nil, &p); err != nil {
		return err
	}
	d, err := c.profileData(r, s, p, false)
	if err != nil {
		return err
	}
	c.render(w, r, s, http.StatusOK, "profile", p.Name, "profiles", d)
	return nil
}

// profileInput reads the editor's form: ticked privileges, may-grant
// (only when "limit what holders may grant" is ticked) and each scoped
// privilege's reach.
func profileInput(f url.Values) admin.ProfileInput {
	in := admin.ProfileInput{Name: strings.TrimSpace(f.Get("name")), Description: strings.TrimSpace(f.Get("description")), Privileges: f["priv"]}
	if in.Privileges == nil {
		in.Privileges = []string{}
	}
	if f.Get("limit_grant") == "on" {
		in.MayGrant = append([]string{}, f["grant"]...)
	}
	for _, p := range in.Privileges {
		kind := f.Get("scope." + p)
		if kind == "" || kind == store.ScopeAll {
			continue
		}
		sc := admin.Scope{Kind: kind}
		for _, t := range strings.Split(f.Get("teams."+p), ",") {
			if t = strings.TrimSpace(t); t != "" {
				sc.Teams = append(sc.Teams, t)
			}
		}
		if in.Scopes == nil {
			in.Scopes = map[string]admin.Scope{}
		}
		in.Scopes[p] = sc
	}
	return in
}

// profileSave creates (/admin/profiles/new) or replaces a profile; a
// refusal shows the editor again with the boxes as they were ticked.
func (c *Console) profileSave(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	in := profileInput(r.PostForm)
	name := r.PathValue("name")
	isNew := name == ""
	var out admin.Profile
	var err error
	if isNew {
		err = c.call(r, s, http.MethodPost, "/api/v1/profiles", nil, in, &out)
	} else {
		in.Name = ""
		err = c.call(r, s, http.MethodPut, "/api/v1/profiles/"+url.PathEscape(name), nil, in, &out)
	}
	if err != nil {
		var ae *apiError
		if !asAPIError(err, &ae) || ae.Status == http.StatusUnauthorized {
			return err
		}
		p := admin.Profile{Name: in.Name, Description: in.Description, Privileges: in.Privileges, MayGrant: in.MayGrant, Scopes: in.Scopes}
		if !isNew {
			p.Name = name
		}
		d, derr := c.profileData(r, s, p, isNew)
		if derr != nil {
			return err
		}
		d.Errors = map[string]string{formField(ae.Body.Field): ae.Body.Message}
		title := p.Name
		if isNew {
			title = "New profile"
		}
		c.render(w, r, s, ae.Status, "profile", title, "profiles", d)
		return nil
	}
	seeOther(w, r, "/admin/profiles/"+url.PathEscape(out.Name), "saved")
	return nil
}

func (c *Console) profileDelete(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	name := r.PathValue("name")
	if err := c.call(r, s, http.MethodDelete, "/api/v1/profiles/"+url.PathEscape(name), nil, nil, nil); err != nil {
		var ae *apiError
		if !asAPIError(err, &ae) || ae.Status == http.StatusUnauthorized {
			return err
		}
		return &pageError{Status: ae.Status, Message: "Profile " + name + " was not deleted: " + ae.Body.Message + "."}
	}
	seeOther(w, r, "/admin/profiles", "profile-deleted")
	return nil
}

func (c *Console) teamList(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	var tl admin.TeamList
	if err := c.get(r, s, "/api/v1/teams", nil, &tl); err != nil {
		return err
	}
	c.render(w, r, s, http.StatusOK, "teams", "Teams", "teams", tl)
	return nil
}

type teamData struct {
	T       admin.Team
	Members admin.UserList
	// In is the edit form: the team's values, or what was submitted when
	// the API refused it (Errors by field).
	In     teamForm
	New    bool
	Teams  []string
	Errors map[string]string
}

// teamForm is the team editor's form.
type teamForm struct {
	Name, Description, Parent, Supervisors string
}

func readTeamForm(f url.Values) teamForm {
	return teamForm{Name: strings.TrimSpace(f.Get("name")), Description: strings.TrimSpace(f.Get("description")),
		Parent: f.Get("parent"), Supervisors: f.Get("supervisors")}
}

func (t teamForm) input() admin.TeamInput {
	in := admin.TeamInput{Name: t.Name, Description: t.Description, Parent: t.Parent, Supervisors: []string{}}
	for _, s := range strings.Split(t.Supervisors, ",") {
		if s = strings.TrimSpace(s); s != "" {
			in.Supervisors = append(in.Supervisors, s)
		}
	}
	return in
}

func (c *Console) teamNew(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	_, teams := c.profileAndTeamNames(r, s)
	c.render(w, r, s, http.StatusOK, "team", "New team", "teams", teamData{New: true, Teams: teams})
	return nil
}

// teamSave creates (/admin/teams/new) or replaces a team; a refusal shows
// the form again as it was filled, the message beside its field.
func (c *Console) teamSave(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	form := readTeamForm(r.PostForm)
	name := r.PathValue("name")
	isNew := name == ""
	var out admin.Team
	var err error
	if isNew {
		err = c.call(r, s, http.MethodPost, "/api/v1/teams", nil, form.input(), &out)
	} else {
		in := form.input()
		in.Name = ""
		err = c.call(r, s, http.MethodPut, "/api/v1/teams/"+url.PathEscape(name), nil, in, &out)
	}
	if err != nil {
		var ae *apiError
		if !asAPIError(err, &ae) || ae.Status == http.StatusUnauthorized {
			return err
		}
		d := teamData{New: isNew, In: form, Errors: map[string]string{teamField(ae.Body.Field): ae.Body.Message}}
		title := "New team"
		if !isNew {
			if lerr := c.get(r, s, "/api/v1/teams/"+url.PathEscape(name), nil, &d.T); lerr != nil {
				return err
			}
			d.In.Name, title = name, name
		}
		_, d.Teams = c.profileAndTeamNames(r, s)
		c.render(w, r, s, ae.Status, "team", title, "teams", d)
		return nil
	}
	seeOther(w, r, "/admin/teams/"+url.PathEscape(out.Name), "team-saved")
	return nil
}

// teamField is the form field of an API field of a team.
func teamField(f string) string {
	if i := strings.IndexAny(f, "[."); i >= 0 {
		f = f[:i]
	}
	switch f {
	case "name", "description", "parent", "supervisors":
		return f
	}
	return ""
}

func (c *Console) teamDelete(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	name := r.PathValue("name")
	if err := c.call(r, s, http.MethodDelete, "/api/v1/teams/"+url.PathEscape(name), nil, nil, nil); err != nil {
		var ae *apiError
		if !asAPIError(err, &ae) || ae.Status == http.StatusUnauthorized {
			return err
		}
		return &pageError{Status: ae.Status, Message: "Team " + name + " was not deleted: " + ae.Body.Message + "."}
	}
	seeOther(w, r, "/admin/teams", "team-deleted")
	return nil
}

func (c *Console) teamPage(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	var d teamData
	if err := c.get(r, s, "/api/v1/teams/"+url.PathEscape(r.PathValue("name")), nil, &d.T); err != nil {
		return err
	}
	q := url.Values{"team": {d.T.Name}, "limit": {"200"}}
	if err := c.get(r, s, "/api/v1/users", q, &d.Members); err != nil && !forbidden(err) {
		return err
	}
	d.In = teamForm{Name: d.T.Name, Description: d.T.Description, Parent: d.T.Parent, Supervisors: strings.Join(d.T.Supervisors, ", ")}
	_, d.Teams = c.profileAndTeamNames(r, s)
	c.render(w, r, s, http.StatusOK, "team", d.T.Name, "teams", d)
	return nil
}
