package admin

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/directory"
	"github.com/dirbridge/dirbridge/sync/engine"
)

// Explanation is what the mapping gives a directory user, from what the
// last sync stored about them (the entry and the imported groups), and
// what is pinned: the answer to "why does she have this profile?".
type Explanation struct {
	Directory string   `json:"directory"`
	Username  string   `json:"username"`
	Anchor    string   `json:"anchor"`
	DN        string   `json:"dn"`
	Groups    []string `json:"groups"`
	Matched   []string `json:"matched_rules"`
	// Profile is what the rules give now, ProfileCause why; Stored is
	// the user's profile in the store (different when pinned or changed
	// since the last sync).
	Profile       string            `json:"profile"`
	ProfileCause  string            `json:"profile_cause"`
	StoredProfile string            `json:"stored_profile"`
	PinnedProfile bool              `json:"pinned_profile"`
	Units         []ExplainedUnit   `json:"units"`
	StoredUnits   []string          `json:"stored_units"`
	PinnedUnits   bool              `json:"pinned_units"`
	Superuser     bool              `json:"superuser"`
	SuperCause    string            `json:"superuser_cause,omitempty"`
	Fields        map[string]string `json:"fields"`
	Warnings      []string          `json:"warnings"`
}

// ExplainedUnit is one unit and the causes that add it.
type ExplainedUnit struct {
	Unit   string   `json:"unit"`
	Causes []string `json:"causes"`
}

func (s *Server) handleExplain(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx := r.Context()
	u, err := s.findUser(r, s.store, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := s.authorizeOn(ctx, s.store, c, u, ActView); err != nil {
		return err
	}
	dm, ok := s.mappings[u.Source]
	if !ok || u.Anchor == "" {
		return errf(http.StatusConflict, CodeConflict, "%s is not a directory user (source %q): no mapping applies", u.Username, u.Source)
	}
	entry, err := s.store.GetDirectoryEntry(ctx, u.Source, u.Anchor)
	if errors.Is(err, store.ErrNotFound) {
		return errf(http.StatusConflict, CodeConflict, "no imported entry of %s in %s: run a sync first", u.Username, u.Source)
	}
	if err != nil {
		return fmt.Errorf("entry of %s: %w", u.Username, err)
	}
	// Every imported group, with its members cut down to this user: what
	// the mapping needs to see which groups hold them, without reading the
	// whole directory's entries (100,000 rows on a large one) per request.
	stored, err := s.store.ListDirectoryGroups(ctx, u.Source, []string{u.Anchor})
	if err != nil {
		return fmt.Errorf("groups of %s: %w", u.Source, err)
	}
	groups := make([]directory.Group, 0, len(stored))
	names := make(map[string]string, len(stored))
	for _, e := range stored {
		groups = append(groups, directory.Group{Anchor: e.Anchor, DN: e.DN, Name: e.Name, Members: e.Groups})
		names[e.Anchor] = e.Name
	}
	du := engine.EntryUser(entry)
	results, warns := dm.Mapper.MapAll([]directory.User{du}, groups, map[string]*store.User{u.Anchor: &u})
	res := results[0]
	out := Explanation{Directory: u.Source, Username: u.Username, Anchor: u.Anchor, DN: entry.DN,
		Groups: []string{}, Matched: nonNil(res.Matched), Profile: res.Profile, ProfileCause: res.ProfileCause,
		StoredProfile: u.Profile, PinnedProfile: u.PinnedProfile, Units: []ExplainedUnit{},
		StoredUnits: nonNil(u.Units), PinnedUnits: u.PinnedUnits, Superuser: res.Superuser, SuperCause: res.SuperuserCause,
		Fields:   map[string]string{"username": res.Username, "email": res.Email, "display_name": res.DisplayName, "first_name": res.FirstName, "last_name": res.LastName, "language": res.Language},
		Warnings: []string{}}
	for _, g := range entry.Groups {
		if n, ok := names[g]; ok {
			out.Groups = append(out.Groups, n)
		}
	}
	slices.Sort(out.Groups)
	for _, unit := range res.Units {
		out.Units = append(out.Units, ExplainedUnit{Unit: unit, Causes: nonNil(res.UnitCauses[unit])})
	}
	for k, v := range res.Fields {
		out.Fields["fields."+k] = v
	}
	for _, w := range warns {
		if w.Anchor == "" || w.Anchor == u.Anchor {
			out.Warnings = append(out.Warnings, w.String())
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
