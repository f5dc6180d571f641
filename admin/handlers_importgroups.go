package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/dirbridge/dirbridge/internal/ldapdn"
	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// Origins of an imported group.
const (
	OriginConfig = "config" // directories[].groups in the config file
	OriginStore  = "store"  // chosen through the API, the CLI or the console
)

// GroupFinder reads a directory's groups live, to choose which to import;
// the LDAP/AD reader implements it (internal/wire adapts it). Errors wrap
// directory.ErrUnavailable or directory.ErrBindRefused when the directory
// could not be asked.
type GroupFinder interface {
	// SearchGroups lists the groups whose name contains search (every
	// group when empty), sorted by name, with direct member counts.
	SearchGroups(ctx context.Context, search string) ([]FoundGroup, error)
	// FindGroup resolves one group by DN, name or anchor; its error
	// wraps directory.ErrGroupNotFound or directory.ErrGroupAmbiguous
	// when no group, or several, answer to ref.
	FindGroup(ctx context.Context, ref string) (FoundGroup, error)
}

// DirectoryGroups is what the import-group routes know of one directory.
type DirectoryGroups struct {
	// Configured are the config's imported groups, as written there.
	Configured []string
	// Finder searches the directory; nil answers 501 to a search or an add.
	Finder GroupFinder
}

// FoundGroup is a directory group as a live search returns it.
type FoundGroup struct {
	Name        string `json:"name"`
	DN          string `json:"dn"`
	Anchor      string `json:"anchor"`
	MemberCount int    `json:"member_count"`
	// Origin is config or store when the group is imported already.
	Origin string `json:"origin,omitempty"`
}

// FoundGroupList is a search's groups by name; More says the list was cut
// at the limit.
type FoundGroupList struct {
	Items []FoundGroup `json:"items"`
	More  bool         `json:"more"`
}

// ImportGroup is one group a directory's sync imports. A config group is
// shown as written there (Reference) with its name, DN and anchor when the
// last sync imported it; a stored one by its anchor, with the name and DN
// of the last sync (or of when it was chosen).
type ImportGroup struct {
	Reference string `json:"reference"`
	Name      string `json:"name,omitempty"`
	DN        string `json:"dn,omitempty"`
	Anchor    string `json:"anchor,omitempty"`
	// Origin is config (edit the config file to change it) or store.
	Origin  string     `json:"origin"`
	AddedBy string     `json:"added_by,omitempty"`
	AddedAt *time.Time `json:"added_at,omitempty"`
}

// ImportGroupList is a directory's imported groups: the config's first, in
// its order, then the stored ones by name.
type ImportGroupList struct {
	Items []ImportGroup `json:"items"`
}

// ImportGroupInput names a directory group to import, by DN, name (cn /
// sAMAccountName) or anchor (objectGUID / entryUUID).
type ImportGroupInput struct {
	Group string `json:"group"`
}

// maxGroupRef bounds a group reference; DNs are rarely past 300 bytes.
const maxGroupRef = 1024

// refersTo reports whether a config group reference (DN, name or anchor)
// names the group g.
func refersTo(ref string, g FoundGroup) bool {
	ref = strings.TrimSpace(ref)
	switch {
	case ref == "":
		return false
	case g.Anchor != "" && strings.EqualFold(strings.Trim(ref, "{}"), g.Anchor):
		return true
	case strings.Contains(ref, "="):
		return g.DN != "" && ldapdn.EqualFold(ref, g.DN)
	default:
		return g.Name != "" && strings.EqualFold(ref, g.Name)
	}
}

// directoryGroups checks the directory is known and returns what the
// import-group routes know of it.
func (s *Server) directoryGroups(name string) (DirectoryGroups, error) {
	if err := s.knownDirectory(name, ""); err != nil {
		return DirectoryGroups{}, err
	}
	return s.groups[name], nil
}

// directoryDown turns an error of the directory into 503 with its reason,
// or returns nil when it is not an outage.
func directoryDown(dir string, err error) *apiError {
	switch {
	case errors.Is(err, directory.ErrBindRefused):
		return errf(http.StatusServiceUnavailable, CodeUnavailable, "directory %s refused the service account's bind: %v", dir, err)
	case errors.Is(err, directory.ErrUnavailable):
		return errf(http.StatusServiceUnavailable, CodeUnavailable, "directory %s could not be reached: %v", dir, err)
	}
	return nil
}

// importedGroups lists a directory's imported groups: the config's, then
// the stored ones no config group names (the config wins). Names, DNs and
// anchors come from the group entries of the last sync, when there are.
func importedGroups(ctx context.Context, rd store.Reader, dir string, configured []string) ([]ImportGroup, error) {
	entries, err := rd.ListDirectoryGroups(ctx, dir, nil)
	if err != nil {
		return nil, fmt.Errorf("imported groups of %s: %w", dir, err)
	}
	known := make([]FoundGroup, 0, len(entries))
	byAnchor := make(map[string]FoundGroup, len(entries))
	for _, e := range entries {
		g := FoundGroup{Name: e.Name, DN: e.DN, Anchor: e.Anchor}
		known = append(known, g)
		byAnchor[e.Anchor] = g
	}
	out := make([]ImportGroup, 0, len(configured))
	var fromConfig []FoundGroup
	for _, ref := range configured {
		it := ImportGroup{Reference: ref, Origin: OriginConfig}
		if i := slices.IndexFunc(known, func(g FoundGroup) bool { return refersTo(ref, g) }); i >= 0 {
			it.Name, it.DN, it.Anchor = known[i].Name, known[i].DN, known[i].Anchor
			fromConfig = append(fromConfig, known[i])
		}
		out = append(out, it)
	}
	chosen, err := rd.ListImportGroups(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("imported groups of %s: %w", dir, err)
	}
	for _, c := range chosen {
		g := FoundGroup{Name: c.Name, DN: c.DN, Anchor: c.Anchor}
		if cur, ok := byAnchor[c.Anchor]; ok {
			g.Name, g.DN = cur.Name, cur.DN
		}
		if slices.ContainsFunc(fromConfig, func(f FoundGroup) bool { return f.Anchor == g.Anchor }) ||
			slices.ContainsFunc(configured, func(ref string) bool { return refersTo(ref, g) }) {
			continue
		}
		at := c.AddedAt.UTC()
		out = append(out, ImportGroup{Reference: c.Anchor, Name: g.Name, DN: g.DN, Anchor: g.Anchor,
			Origin: OriginStore, AddedBy: c.AddedBy, AddedAt: &at})
	}
	return out, nil
}

// originOf returns the origin of g among the imported groups, or "".
func originOf(imported []ImportGroup, configured []string, g FoundGroup) string {
	if slices.ContainsFunc(configured, func(ref string) bool { return refersTo(ref, g) }) {
		return OriginConfig
	}
	for _, it := range imported {
		if it.Anchor != "" && strings.EqualFold(it.Anchor, g.Anchor) {
			return it.Origin
		}
	}
	return ""
}

// importGroupsManager refuses a caller whose trigger_sync is limited to
// some teams: the groups decide whom the whole directory imports.
func (s *Server) importGroupsManager(ctx context.Context, c *caller) error {
	if c.User.Superuser {
		return nil
	}
	p, err := s.actorPrincipal(ctx, s.store, c)
	if err != nil {
		return err
	}
	if !p.reachFor([]string{privilege.TriggerSync}).All {
		return errf(http.StatusForbidden, CodeForbidden,
			"choosing the groups to import requires trigger_sync over everyone: the groups decide whom the whole directory imports")
	}
	return nil
}

// defaultFoundGroups and maxFoundGroups are the default and the largest
// page of a live search.
const (
	defaultFoundGroups = 100
	maxFoundGroups     = 1000
)

func (s *Server) handleSearchGroups(w http.ResponseWriter, r *http.Request, c *caller) error {
	name := r.PathValue("name")
	dg, err := s.directoryGroups(name)
	if err != nil {
		return err
	}
	limit, err := intQuery(r, "limit", defaultFoundGroups, maxFoundGroups)
	if err != nil {
		return err
	}
	if limit == 0 {
		limit = defaultFoundGroups
	}
	if dg.Finder == nil {
		return errf(http.StatusNotImplemented, CodeNotImplemented, "directory %s cannot be searched by this daemon", name)
	}
	ctx := r.Context()
	search := strings.TrimSpace(r.URL.Query().Get("search"))
	found, err := dg.Finder.SearchGroups(ctx, search)
	if err != nil {
		if e := directoryDown(name, err); e != nil {
			return e
		}
		return fmt.Errorf("search the groups of %s: %w", name, err)
	}
	imported, err := importedGroups(ctx, s.store, name, dg.Configured)
	if err != nil {
		return err
	}
	out := FoundGroupList{Items: make([]FoundGroup, 0, min(len(found), limit))}
	for i, g := range found {
		if i == limit {
			out.More = true
			break
		}
		g.Origin = originOf(imported, dg.Configured, g)
		out.Items = append(out.Items, g)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleListImportGroups(w http.ResponseWriter, r *http.Request, c *caller) error {
	name := r.PathValue("name")
	dg, err := s.directoryGroups(name)
	if err != nil {
		return err
	}
	items, err := importedGroups(r.Context(), s.store, name, dg.Configured)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ImportGroupList{Items: items})
	return nil
}

func (s *Server) handleAddImportGroup(w http.ResponseWriter, r *http.Request, c *caller) error {
	name := r.PathValue("name")
	c.target = "directory:" + name
	var in ImportGroupInput
	if err := decodeJSON(w, r, s.maxBody, &in); err != nil {
		return err
	}
	in.Group = strings.TrimSpace(in.Group)
	switch {
	case in.Group == "":
		return fieldErr("group", "group is required: its DN, name or anchor")
	case len(in.Group) > maxGroupRef:
		return fieldErr("group", "group is longer than %d bytes", maxGroupRef)
	}
	c.detail("group", in.Group)
	ctx := r.Context()
	if err := s.importGroupsManager(ctx, c); err != nil {
		return err
	}
	dg, err := s.directoryGroups(name)
	if err != nil {
		return err
	}
	if dg.Finder == nil {
		return errf(http.StatusNotImplemented, CodeNotImplemented, "directory %s cannot be searched by this daemon", name)
	}
	g, err := dg.Finder.FindGroup(ctx, in.Group)
	switch {
	case errors.Is(err, directory.ErrGroupNotFound), errors.Is(err, directory.ErrGroupAmbiguous):
		e := errf(http.StatusUnprocessableEntity, CodeInvalidField, "%v", err)
		e.E.Field = "group"
		return e
	case err != nil:
		if e := directoryDown(name, err); e != nil {
			return e
		}
		return fmt.Errorf("find group %q in %s: %w", in.Group, name, err)
	}
	c.detail("anchor", g.Anchor)
	c.detail("dn", g.DN)
	c.detail("name", g.Name)
	if slices.ContainsFunc(dg.Configured, func(ref string) bool { return refersTo(ref, g) }) {
		return errf(http.StatusConflict, CodeConflict, "group %s is imported by the config file already", g.Name)
	}
	ig := store.ImportGroup{Directory: name, Anchor: g.Anchor, DN: g.DN, Name: g.Name, AddedBy: c.actor(), AddedAt: s.now().UTC()}
	err = s.tx(ctx, c, "import_group.add", func(tx store.Tx) error {
		if err := tx.AddImportGroup(ctx, ig); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return errf(http.StatusConflict, CodeConflict, "group %s is imported already", g.Name)
			}
			return fmt.Errorf("import group %s into %s: %w", g.Name, name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, ImportGroup{Reference: ig.Anchor, Name: ig.Name, DN: ig.DN, Anchor: ig.Anchor,
		Origin: OriginStore, AddedBy: ig.AddedBy, AddedAt: &ig.AddedAt})
	return nil
}

func (s *Server) handleRemoveImportGroup(w http.ResponseWriter, r *http.Request, c *caller) error {
	name, anchor := r.PathValue("name"), r.PathValue("anchor")
	c.target = "directory:" + name
	c.detail("anchor", anchor)
	ctx := r.Context()
	if err := s.importGroupsManager(ctx, c); err != nil {
		return err
	}
	dg, err := s.directoryGroups(name)
	if err != nil {
		return err
	}
	imported, err := importedGroups(ctx, s.store, name, dg.Configured)
	if err != nil {
		return err
	}
	for _, it := range imported {
		if it.Origin == OriginConfig && (strings.EqualFold(it.Anchor, anchor) || refersTo(it.Reference, FoundGroup{Anchor: anchor})) {
			return errf(http.StatusConflict, CodeConfigManaged,
				"group %s is imported by the config file (directories[].groups of %s); edit the config to stop importing it", it.Reference, name)
		}
	}
	err = s.tx(ctx, c, "import_group.remove", func(tx store.Tx) error {
		if err := tx.DeleteImportGroup(ctx, name, anchor); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return notFound("import group of "+name, anchor)
			}
			return fmt.Errorf("remove import group %s of %s: %w", anchor, name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
