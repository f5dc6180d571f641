package console

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/sso"
)

// importGroups is a directory's imported groups on the directories page
// and, after a search, the directory's groups that match.
type importGroups struct {
	Items []admin.ImportGroup
	// Searched: a search was asked for (an empty one lists every group).
	Searched bool
	Search   string
	Found    []admin.FoundGroup
	More     bool
	// SearchError is why the directory could not be searched (shown
	// next to the search field); Error why an import or a removal was
	// refused.
	SearchError string
	Error       string
}

// groupsPath is the API path of a directory's import groups.
func groupsPath(dir string) string {
	return "/api/v1/directories/" + url.PathEscape(dir) + "/import-groups"
}

// loadImportGroups reads each directory's imported groups, and searches
// the directory named by the query's "dir" when it has "search". A
// directory the caller may not read groups of shows none.
func (c *Console) loadImportGroups(r *http.Request, s *sso.BrowserSession, d *directoriesData, q url.Values) error {
	for i := range d.Dirs {
		name := d.Dirs[i].Name
		var gl admin.ImportGroupList
		if err := c.get(r, s, groupsPath(name), nil, &gl); forbidden(err) {
			continue
		} else if err != nil {
			return err
		}
		g := &importGroups{Items: gl.Items}
		if q.Get("dir") == name && q.Has("search") {
			g.Searched, g.Search = true, strings.TrimSpace(q.Get("search"))
			var fl admin.FoundGroupList
			err := c.get(r, s, "/api/v1/directories/"+url.PathEscape(name)+"/groups", url.Values{"search": {g.Search}}, &fl)
			var ae *apiError
			switch {
			case err == nil:
				g.Found, g.More = fl.Items, fl.More
			case asAPIError(err, &ae) && ae.Status != http.StatusUnauthorized:
				g.SearchError = ae.Body.Message
			default:
				return err
			}
		}
		d.Dirs[i].Groups = g
	}
	return nil
}

// directoriesPage is the directories page's data: directories with
// their runs and imported groups, a search's results, SCIM sources.
func (c *Console) directoriesPage(r *http.Request, s *sso.BrowserSession, q url.Values) (directoriesData, error) {
	dirs, err := c.directories(r, s, 15)
	if err != nil {
		return directoriesData{}, err
	}
	d := newDirectoriesData(dirs)
	if err := c.loadImportGroups(r, s, &d, q); err != nil {
		return directoriesData{}, err
	}
	if c.scim != nil {
		// Shown to whoever the API just let read the directories.
		d.SCIM = c.scim()
	}
	return d, nil
}

// importGroupAction imports a group found by a search, or stops importing
// a stored one; the page comes back to the directory's groups (and the
// search), or shows the refusal there.
func (c *Console) importGroupAction(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	dir := r.PathValue("name")
	search := r.PostForm.Get("search")
	var err error
	done := "group-added"
	switch r.PathValue("action") {
	case "import":
		err = c.call(r, s, http.MethodPost, groupsPath(dir), nil, admin.ImportGroupInput{Group: r.PostForm.Get("group")}, nil)
	case "remove":
		done = "group-removed"
		err = c.call(r, s, http.MethodDelete, groupsPath(dir)+"/"+url.PathEscape(r.PostForm.Get("group")), nil, nil, nil)
	default:
		return &pageError{Status: http.StatusNotFound, Message: "There is no action " + r.PathValue("action") + "."}
	}
	back := url.Values{}
	if r.PostForm.Has("search") {
		back = url.Values{"dir": {dir}, "search": {search}}
	}
	var ae *apiError
	if err != nil && (!asAPIError(err, &ae) || ae.Status == http.StatusUnauthorized) {
		return err
	}
	if err == nil {
		back.Set("done", done)
		http.Redirect(w, r, "/admin/directories?"+back.Encode()+"#groups-"+url.PathEscape(dir), http.StatusSeeOther)
		return nil
	}
	d, lerr := c.directoriesPage(r, s, back)
	if lerr != nil {
		return lerr
	}
	for i := range d.Dirs {
		if d.Dirs[i].Name == dir && d.Dirs[i].Groups != nil {
			d.Dirs[i].Groups.Error = ae.Body.Message
		}
	}
	c.render(w, r, s, ae.Status, "directories", "Directories", "directories", d)
	return nil
}

// originText is how the console names an imported group's origin.
func originText(origin string) string {
	switch origin {
	case admin.OriginConfig:
		return "config file"
	case admin.OriginStore:
		return "chosen here"
	}
	return origin
}
