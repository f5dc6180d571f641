package console

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/scim"
	"github.com/dirbridge/dirbridge/sso"
	"github.com/dirbridge/dirbridge/store"
)

// dirState is one directory's card on the overview and the directories
// page.
type dirState struct {
	admin.Directory
	Stats *admin.DirectoryStats
	Runs  []admin.SyncRun
	Last  *admin.SyncRun
	// Groups are the imported groups (directories page only; nil when
	// the caller may not read them).
	Groups *importGroups
}

type overviewData struct {
	Dirs            []dirState
	DirsHidden      bool
	Users, Inactive int
	UsersHidden     bool
	Licences        int
	Sessions        int
	LicencesHidden  bool
	Expiring        []expiring
	ExpiringHidden  bool
}

// expiring is a row of "expires this week".
type expiring struct {
	UserID, Username, Kind string
	ExpiresAt              time.Time
	DaysLeft               int
}

// overview is the administrator's first page; each card shows what the
// caller may read and is left out otherwise.
func (c *Console) overview(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	if !newCan(s)["admin"] {
		return &pageError{Status: http.StatusForbidden, Message: "Your profile grants no administration privilege. My account has what you can see and change."}
	}
	var d overviewData
	var err error
	if d.Dirs, err = c.directories(r, s, 1); forbidden(err) {
		d.DirsHidden = true
	} else if err != nil {
		return err
	}
	var ul admin.UserList
	if err := c.get(r, s, "/api/v1/users", url.Values{"limit": {"1"}}, &ul); forbidden(err) {
		d.UsersHidden = true
	} else if err != nil {
		return err
	}
	d.Users = ul.Total
	if !d.UsersHidden {
		if err := c.get(r, s, "/api/v1/users", url.Values{"limit": {"1"}, "state": {"inactive"}}, &ul); err != nil {
			return err
		}
		d.Inactive = ul.Total
	}
	var sl admin.SessionList
	if err := c.get(r, s, "/api/v1/sessions", nil, &sl); forbidden(err) {
		d.LicencesHidden = true
	} else if err != nil {
		return err
	}
	d.Licences, d.Sessions = sl.LicencesInUse, len(sl.Items)
	var el admin.ExpiryList
	if err := c.get(r, s, "/api/v1/expiry", url.Values{"days": {"7"}}, &el); forbidden(err) {
		d.ExpiringHidden = true
	} else if err != nil {
		return err
	}
	for _, n := range el.Items {
		d.Expiring = append(d.Expiring, expiring{UserID: n.UserID, Username: n.Username, Kind: n.Kind, ExpiresAt: n.ExpiresAt, DaysLeft: n.DaysLeft})
	}
	c.render(w, r, s, http.StatusOK, "overview", "Overview", "overview", d)
	return nil
}

// directories reads each configured directory with its statistics and
// its latest runs (at most runs).
func (c *Console) directories(r *http.Request, s *sso.BrowserSession, runs int) ([]dirState, error) {
	var dl admin.DirectoryList
	if err := c.get(r, s, "/api/v1/directories", nil, &dl); err != nil {
		return nil, err
	}
	out := make([]dirState, 0, len(dl.Items))
	for _, d := range dl.Items {
		ds := dirState{Directory: d}
		var st admin.DirectoryStats
		if err := c.get(r, s, "/api/v1/directories/"+url.PathEscape(d.Name)+"/stats", nil, &st); err == nil {
			ds.Stats = &st
		} else if !forbidden(err) {
			return nil, err
		}
		var rl admin.SyncRunList
		q := url.Values{"directory": {d.Name}, "limit": {strconv.Itoa(runs)}}
		if err := c.get(r, s, "/api/v1/sync/runs", q, &rl); err != nil && !forbidden(err) {
			return nil, err
		}
		ds.Runs = rl.Items
		if len(rl.Items) > 0 {
			ds.Last = &rl.Items[0]
		}
		out = append(out, ds)
	}
	return out, nil
}

type directoriesData struct {
	Dirs []dirState
	// SCIM is the provisioning sources' status (none without SCIM).
	SCIM []scim.SourceStatus
	// NewToken is a provisioning token just issued, shown this once;
	// TokenError why issuing one was refused.
	NewToken   *admin.ProvisioningToken
	TokenError string
	Error      string
	Dir        string
	// Running: a run is going; the page refreshes itself until it ends.
	Running bool
}

func newDirectoriesData(dirs []dirState) directoriesData {
	d := directoriesData{Dirs: dirs}
	for _, x := range dirs {
		for _, r := range x.Runs {
			d.Running = d.Running || r.Status == string(store.SyncRunning)
		}
	}
	return d
}

func (c *Console) directoryList(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	d, err := c.directoriesPage(r, s, r.URL.Query())
	if err != nil {
		return err
	}
	c.render(w, r, s, http.StatusOK, "directories", "Directories", "directories", d)
	return nil
}

// provisioningToken issues (or replaces) a SCIM source's bearer token and
// shows it once, on the page: never in a URL, never again.
func (c *Console) provisioningToken(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	var tok admin.ProvisioningToken
	err := c.call(r, s, http.MethodPost, "/api/v1/provisioning/"+url.PathEscape(r.PathValue("source"))+"/token", nil, nil, &tok)
	var ae *apiError
	if err != nil && (!asAPIError(err, &ae) || ae.Status == http.StatusUnauthorized) {
		return err
	}
	d, derr := c.directoriesPage(r, s, nil)
	if derr != nil {
		return derr
	}
	status := http.StatusOK
	if err != nil {
		d.TokenError, status = ae.Body.Message, ae.Status
	} else {
		d.NewToken = &tok
	}
	w.Header().Set("Cache-Control", "no-store")
	c.render(w, r, s, status, "directories", "Directories", "directories", d)
	return nil
}

// directorySync starts a full or incremental run, or a dry run.
func (c *Console) directorySync(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	in := admin.SyncInput{Directory: r.PathValue("name"), Full: r.PostForm.Get("full") == "on", DryRun: r.PostForm.Get("dry_run") == "on",
		AllowMassDeactivation: r.PostForm.Get("approve") == "on"}
	var out admin.SyncStarted
	if err := c.call(r, s, http.MethodPost, "/api/v1/sync", nil, in, &out); err != nil {
		var ae *apiError
		if !asAPIError(err, &ae) || ae.Status == http.StatusUnauthorized {
			return err
		}
		d, derr := c.directoriesPage(r, s, nil)
		if derr != nil {
			return err
		}
		d.Error, d.Dir = ae.Body.Message, in.Directory
		c.render(w, r, s, ae.Status, "directories", "Directories", "directories", d)
		return nil
	}
	seeOther(w, r, "/admin/directories/"+url.PathEscape(in.Directory)+"/runs/"+url.PathEscape(out.RunID), "sync")
	return nil
}

// plan is the part of a sync run's plan (sync/engine.Plan, as stored) the
// run page shows.
type plan struct {
	Complete     bool             `json:"complete"`
	UsersRead    int              `json:"users_read"`
	GroupsRead   int              `json:"groups_read"`
	ActiveBefore int              `json:"active_before"`
	KnownBefore  int              `json:"known_before"`
	Counts       store.SyncCounts `json:"counts"`
	Items        []struct {
		Kind     string   `json:"kind"`
		Username string   `json:"username"`
		UserID   string   `json:"user_id"`
		DN       string   `json:"dn"`
		Reason   string   `json:"reason"`
		Notes    []string `json:"notes"`
		Changes  []struct {
			Field, Old, New, Cause string
		} `json:"changes"`
		GroupsGained []string `json:"groups_gained"`
		GroupsLost   []string `json:"groups_lost"`
	} `json:"items"`
	Blocked []struct {
		Username, DN, Reason string
		UserID               string `json:"user_id"`
	} `json:"blocked"`
	Skipped []struct {
		Username, DN, Reason string
	} `json:"skipped"`
	Warnings  []string `json:"warnings"`
	Approved  bool     `json:"mass_deactivation_approved"`
	Truncated int      `json:"items_truncated"`
}

type runData struct {
	Run     admin.SyncRun
	Plan    *plan
	Running bool
}

// runPage shows one run: its counts, and its plan item by item with the
// cause of every change; a refused run can be approved from here.
func (c *Console) runPage(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	var d runData
	if err := c.get(r, s, "/api/v1/sync/runs/"+url.PathEscape(r.PathValue("id")), nil, &d.Run); err != nil {
		return err
	}
	if d.Run.Directory != r.PathValue("name") {
		return &pageError{Status: http.StatusNotFound, Message: "There is no such run of " + r.PathValue("name") + "."}
	}
	if len(d.Run.Plan) > 0 {
		var p plan
		if err := json.Unmarshal(d.Run.Plan, &p); err != nil {
			return fmt.Errorf("run %s: plan: %w", d.Run.ID, err)
		}
		d.Plan = &p
	}
	d.Running = d.Run.Status == string(store.SyncRunning)
	title := "Sync run"
	if d.Run.DryRun {
		title = "Dry run"
	}
	c.render(w, r, s, http.StatusOK, "run", title+" of "+d.Run.Directory, "directories", d)
	return nil
}

func (c *Console) sessionList(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	var sl admin.SessionList
	if err := c.get(r, s, "/api/v1/sessions", nil, &sl); err != nil {
		return err
	}
	c.render(w, r, s, http.StatusOK, "sessions", "Sessions and licences", "sessions", sl)
	return nil
}

// policyPage shows the sign-in policies in force, read-only: they are set
// in the config file, and a reload shows here at once.
func (c *Console) policyPage(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	var p admin.SignInPolicy
	if err := c.get(r, s, "/api/v1/policy", nil, &p); err != nil {
		return err
	}
	c.render(w, r, s, http.StatusOK, "policy", "Sign-in policy", "policy", p)
	return nil
}

func (c *Console) sessionEnd(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	if err := c.call(r, s, http.MethodDelete, "/api/v1/sessions/"+url.PathEscape(r.PathValue("id")), nil, nil, nil); err != nil {
		return err
	}
	seeOther(w, r, "/admin/sessions", "ended")
	return nil
}

// auditFilter is the audit page's query. Times are the browser's
// datetime-local values, read as UTC.
type auditFilter struct {
	Actor, Action, Target, Outcome, Since, Until string
	Page                                         int
}

const auditPage = 100

func readAuditFilter(q url.Values) auditFilter {
	f := auditFilter{Actor: strings.TrimSpace(q.Get("actor")), Action: strings.TrimSpace(q.Get("action")), Target: strings.TrimSpace(q.Get("target")),
		Outcome: q.Get("outcome"), Since: q.Get("since"), Until: q.Get("until")}
	f.Page, _ = strconv.Atoi(q.Get("page"))
	if f.Page < 1 {
		f.Page = 1
	}
	return f
}

// api is the filter as /api/v1/audit's query; a time that does not parse
// is reported by field.
func (f auditFilter) api() (url.Values, map[string]string) {
	q := url.Values{}
	for k, v := range map[string]string{"actor": f.Actor, "action": f.Action, "target": f.Target, "outcome": f.Outcome} {
		if v != "" {
			q.Set(k, v)
		}
	}
	errs := map[string]string{}
	switch f.Outcome {
	case "", store.OutcomeSuccess, store.OutcomeFailure, store.OutcomeDenied:
	default:
		errs["outcome"] = "Choose success, failure or denied."
	}
	for k, v := range map[string]string{"since": f.Since, "until": f.Until} {
		if v == "" {
			continue
		}
		t, err := parseLocal(v)
		if err != nil {
			errs[k] = "Use a date and time such as 2026-03-01T09:00."
			continue
		}
		q.Set(k, t.Format(time.RFC3339))
	}
	return q, errs
}

// query is the filter as the page's own query string.
func (f auditFilter) query(page int) string {
	v := url.Values{}
	for k, x := range map[string]string{"actor": f.Actor, "action": f.Action, "target": f.Target, "outcome": f.Outcome, "since": f.Since, "until": f.Until} {
		if x != "" {
			v.Set(k, x)
		}
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	return v.Encode()
}

func parseLocal(v string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02", time.RFC3339} {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a time: %q", v)
}

type auditData struct {
	F          auditFilter
	Items      []admin.AuditEvent
	Errors     map[string]string
	Prev, Next string
	Export     string
}

func (c *Console) auditPage(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	f := readAuditFilter(r.URL.Query())
	d := auditData{F: f, Export: f.query(1)}
	q, errs := f.api()
	status := http.StatusOK
	if len(errs) > 0 {
		d.Errors, status = errs, http.StatusBadRequest
	} else {
		q.Set("limit", strconv.Itoa(auditPage))
		q.Set("offset", strconv.Itoa((f.Page-1)*auditPage))
		var al admin.AuditList
		if err := c.get(r, s, "/api/v1/audit", q, &al); err != nil {
			return err
		}
		d.Items = al.Items
		if f.Page > 1 {
			d.Prev = "/admin/audit?" + f.query(f.Page-1)
		}
		if len(al.Items) == auditPage {
			d.Next = "/admin/audit?" + f.query(f.Page+1)
		}
	}
	c.render(w, r, s, status, "audit", "Audit log", "audit", d)
	return nil
}

// exportMax bounds an export; narrow the filters for more.
const exportMax = 50_000

// auditExport writes every event the filters select (at most exportMax)
// as CSV or JSON, read from the API a thousand at a time.
func (c *Console) auditExport(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	f := readAuditFilter(r.URL.Query())
	format := r.URL.Query().Get("format")
	if format != "csv" && format != "json" {
		return &pageError{Status: http.StatusBadRequest, Message: "Choose the csv or json format."}
	}
	q, errs := f.api()
	if len(errs) > 0 {
		return &pageError{Status: http.StatusBadRequest, Message: "The filters do not parse; fix them on the audit page."}
	}
	var all []admin.AuditEvent
	for off := 0; off < exportMax; off += 1000 {
		q.Set("limit", "1000")
		q.Set("offset", strconv.Itoa(off))
		var al admin.AuditList
		if err := c.get(r, s, "/api/v1/audit", q, &al); err != nil {
			return err
		}
		all = append(all, al.Items...)
		if len(al.Items) < 1000 {
			break
		}
	}
	name := "dirbridge-audit-" + c.now().UTC().Format("20060102-150405") + "." + format
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	if format == "json" {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if all == nil {
			all = []admin.AuditEvent{}
		}
		return enc.Encode(all)
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"id", "time", "actor", "action", "target", "outcome", "reason", "source_ip", "details"})
	for _, e := range all {
		det := ""
		if len(e.Details) > 0 {
			b, _ := json.Marshal(e.Details)
			det = string(b)
		}
		_ = cw.Write([]string{strconv.FormatInt(e.ID, 10), e.Time.UTC().Format(time.RFC3339), csvSafe(e.Actor), e.Action, csvSafe(e.Target), e.Outcome, csvSafe(e.Reason), e.SourceIP, csvSafe(det)})
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe keeps a spreadsheet from reading a value as a formula (a
// username or reason is chosen by whoever signs in).
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

func (d directoriesData) refresh() bool { return d.Running }
func (d runData) refresh() bool         { return d.Running }

// entryPage is the imported entries tab's page size.
const entryPage = 50

type entriesData struct {
	Dir                   string
	Q, Mapped             string
	Page, Pages           int
	Total                 int
	Items                 []admin.DirectoryEntry
	Prev, Next            string
	Created               *admin.CreateEntriesResult
	Error                 string
	ErrorAnchor, MapValue string
}

// entriesQuery is the tab's own query string.
func entriesQuery(q, mapped string, page int) string {
	v := url.Values{}
	if q != "" {
		v.Set("q", q)
	}
	if mapped != "" {
		v.Set("mapped", mapped)
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	return v.Encode()
}

// loadEntries reads a directory's imported users through the API and
// searches and pages them here (the API returns them all).
func (c *Console) loadEntries(r *http.Request, s *sso.BrowserSession, dir string, q url.Values) (entriesData, error) {
	d := entriesData{Dir: dir, Q: strings.TrimSpace(q.Get("q")), Mapped: q.Get("mapped")}
	d.Page, _ = strconv.Atoi(q.Get("page"))
	if d.Page < 1 {
		d.Page = 1
	}
	aq := url.Values{"kind": {"user"}}
	if d.Mapped == "true" || d.Mapped == "false" {
		aq.Set("mapped", d.Mapped)
	}
	var el admin.DirectoryEntryList
	if err := c.get(r, s, "/api/v1/directories/"+url.PathEscape(dir)+"/entries", aq, &el); err != nil {
		return d, err
	}
	// Entries name their groups by anchor; show the groups' names.
	var gl admin.DirectoryEntryList
	if err := c.get(r, s, "/api/v1/directories/"+url.PathEscape(dir)+"/entries", url.Values{"kind": {"group"}}, &gl); err != nil {
		return d, err
	}
	names := make(map[string]string, len(gl.Items))
	for _, g := range gl.Items {
		names[g.Anchor] = g.Name
	}
	for i := range el.Items {
		for j, a := range el.Items[i].Groups {
			if n, ok := names[a]; ok {
				el.Items[i].Groups[j] = n
			}
		}
	}
	needle := strings.ToLower(d.Q)
	var items []admin.DirectoryEntry
	for _, e := range el.Items {
		if needle == "" || strings.Contains(strings.ToLower(e.Name), needle) || strings.Contains(strings.ToLower(e.DN), needle) {
			items = append(items, e)
		}
	}
	d.Total = len(items)
	d.Pages = (d.Total + entryPage - 1) / entryPage
	from := min((d.Page-1)*entryPage, d.Total)
	d.Items = items[from:min(from+entryPage, d.Total)]
	base := "/admin/directories/" + url.PathEscape(dir) + "/entries?"
	if d.Page > 1 {
		d.Prev = base + entriesQuery(d.Q, d.Mapped, d.Page-1)
	}
	if d.Page < d.Pages {
		d.Next = base + entriesQuery(d.Q, d.Mapped, d.Page+1)
	}
	return d, nil
}

func (c *Console) entriesPage(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	d, err := c.loadEntries(r, s, r.PathValue("name"), r.URL.Query())
	if err != nil {
		return err
	}
	c.render(w, r, s, http.StatusOK, "entries", "Imported users of "+d.Dir, "directories", d)
	return nil
}

// entryAction maps, remaps or unmaps one entry, or creates local users
// from the ticked ones; the page shows again with the outcome.
func (c *Console) entryAction(w http.ResponseWriter, r *http.Request, s *sso.BrowserSession) error {
	dir, action := r.PathValue("name"), r.PathValue("action")
	base := "/api/v1/directories/" + url.PathEscape(dir) + "/entries"
	back := url.Values{"q": {r.PostForm.Get("q")}, "mapped": {r.PostForm.Get("mapped")}, "page": {r.PostForm.Get("page")}}
	var created admin.CreateEntriesResult
	var err error
	anchor := r.PostForm.Get("anchor")
	switch action {
	case "map", "remap":
		err = c.call(r, s, http.MethodPost, base+"/"+url.PathEscape(anchor)+"/"+action, nil, admin.MapRequest{User: strings.TrimSpace(r.PostForm.Get("user"))}, nil)
	case "unmap":
		err = c.call(r, s, http.MethodPost, base+"/"+url.PathEscape(anchor)+"/unmap", nil, nil, nil)
	case "create":
		anchors := r.PostForm["anchors"]
		if len(anchors) == 0 {
			err = &apiError{Status: http.StatusBadRequest, Body: admin.Error{Code: admin.CodeBadRequest, Message: "tick the entries to create users for"}}
			break
		}
		err = c.call(r, s, http.MethodPost, base+"/create", nil, admin.CreateEntriesRequest{Anchors: anchors}, &created)
	default:
		return &pageError{Status: http.StatusNotFound, Message: "There is no action " + action + "."}
	}
	var ae *apiError
	if err != nil && (!asAPIError(err, &ae) || ae.Status == http.StatusUnauthorized) {
		return err
	}
	d, lerr := c.loadEntries(r, s, dir, back)
	if lerr != nil {
		return lerr
	}
	status := http.StatusOK
	if err != nil {
		d.Error, d.ErrorAnchor, d.MapValue, status = ae.Body.Message, anchor, r.PostForm.Get("user"), ae.Status
	} else if action == "create" {
		d.Created = &created
	}
	c.render(w, r, s, status, "entries", "Imported users of "+dir, "directories", d)
	return nil
}
