package admin

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/store"
)

// Team is a unit of users with supervisors and subteams. A user's units
// (User.Units) name the teams they belong to.
type Team struct {
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Parent      string    `json:"parent,omitempty"`
	Subteams    []string  `json:"subteams"`
	Supervisors []string  `json:"supervisors"` // usernames
	Members     int       `json:"members"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// TeamList is every team.
type TeamList struct {
	Items []Team `json:"items"`
}

// TeamInput creates or replaces a team. Supervisors are usernames or IDs.
type TeamInput struct {
	Name        string   `json:"name,omitempty"`
	Description string   `json:"description,omitempty"`
	Parent      string   `json:"parent,omitempty"`
	Supervisors []string `json:"supervisors"`
}

// toTeam is t as the API shows it; count false leaves Members at 0 (a
// count per team is a query each, too slow for a list of names).
func (s *Server) toTeam(r *http.Request, rd store.Reader, t store.Team, all []store.Team, count bool) (Team, error) {
	ctx := r.Context()
	out := Team{Name: t.Name, Description: t.Description, Parent: t.Parent, Subteams: []string{}, Supervisors: []string{},
		CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC()}
	for _, x := range all {
		if x.Parent == t.Name {
			out.Subteams = append(out.Subteams, x.Name)
		}
	}
	for _, id := range t.Supervisors {
		u, err := rd.GetUser(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted since: supervises nothing
		}
		if err != nil {
			return Team{}, fmt.Errorf("supervisor of %s: %w", t.Name, err)
		}
		out.Supervisors = append(out.Supervisors, u.Username)
	}
	if !count {
		return out, nil
	}
	n, err := rd.CountUsers(ctx, store.UserFilter{InTeams: true, Teams: []string{t.Name}})
	if err != nil {
		return Team{}, fmt.Errorf("members of %s: %w", t.Name, err)
	}
	out.Members = n
	return out, nil
}

func (s *Server) handleListTeams(w http.ResponseWriter, r *http.Request, c *caller) error {
	teams, err := s.store.ListTeams(r.Context())
	if err != nil {
		return fmt.Errorf("list teams: %w", err)
	}
	count := r.URL.Query().Get("members") != "false"
	out := TeamList{Items: make([]Team, 0, len(teams))}
	for _, t := range teams {
		v, err := s.toTeam(r, s.store, t, teams, count)
		if err != nil {
			return err
		}
		out.Items = append(out.Items, v)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleGetTeam(w http.ResponseWriter, r *http.Request, c *caller) error {
	name := r.PathValue("name")
	teams, err := s.store.ListTeams(r.Context())
	if err != nil {
		return fmt.Errorf("list teams: %w", err)
	}
	i := slices.IndexFunc(teams, func(t store.Team) bool { return t.Name == name })
	if i < 0 {
		return notFound("team", name)
	}
	v, err := s.toTeam(r, s.store, teams[i], teams, true)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// mayShapeTeams refuses a caller whose manage_users is limited to some
// teams: naming supervisors or moving teams would widen that very limit.
func (s *Server) mayShapeTeams(r *http.Request, c *caller) error {
	if c.User.Superuser {
		return nil
	}
	actor, err := s.actorPrincipal(r.Context(), s.store, c)
	if err != nil {
		return err
	}
	if !actor.reachFor([]string{privilege.ManageUsers}).All {
		return errf(http.StatusForbidden, CodeForbidden, "your manage_users is limited to some teams; changing teams would widen it")
	}
	return nil
}

func (s *Server) handleCreateTeam(w http.ResponseWriter, r *http.Request, c *caller) error {
	return s.putTeam(w, r, c, "", "team.create")
}

func (s *Server) handleUpdateTeam(w http.ResponseWriter, r *http.Request, c *caller) error {
	return s.putTeam(w, r, c, r.PathValue("name"), "team.update")
}

// putTeam creates (name "") or replaces a team.
func (s *Server) putTeam(w http.ResponseWriter, r *http.Request, c *caller, name, action string) error {
	var in TeamInput
	if err := decodeJSON(w, r, s.maxBody, &in); err != nil {
		return err
	}
	if name == "" {
		name = in.Name
	} else if in.Name != "" && in.Name != name {
		return fieldErr("name", "a team cannot be renamed; name must be %q or absent", name)
	}
	c.target = "team:" + name
	if err := validName(name); err != nil {
		return err
	}
	if len(in.Description) > 1000 {
		return fieldErr("description", "description must be at most 1000 characters")
	}
	if err := s.mayShapeTeams(r, c); err != nil {
		return err
	}
	c.detail("parent", in.Parent)
	c.detail("supervisors", in.Supervisors)
	ctx := r.Context()
	var out Team
	status := http.StatusOK
	err := s.tx(ctx, c, action, func(tx store.Tx) error {
		old, err := tx.GetTeam(ctx, name)
		switch {
		case err == nil && action == "team.create":
			return errf(http.StatusConflict, CodeConflict, "team %q already exists", name)
		case errors.Is(err, store.ErrNotFound) && action == "team.update":
			return notFound("team", name)
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("read team %q: %w", name, err)
		}
		t := store.Team{Name: name, Description: in.Description, Parent: strings.TrimSpace(in.Parent), CreatedAt: old.CreatedAt, UpdatedAt: s.now().UTC()}
		for i, ref := range in.Supervisors {
			u, err := s.findUser(r, tx, ref)
			if err != nil {
				return fieldErr(fmt.Sprintf("supervisors[%d]", i), "unknown user %q", ref)
			}
			if !slices.Contains(t.Supervisors, u.ID) {
				t.Supervisors = append(t.Supervisors, u.ID)
			}
		}
		if err := tx.PutTeam(ctx, t); err != nil {
			switch {
			case errors.Is(err, store.ErrNotFound):
				return fieldErr("parent", "unknown team %q", t.Parent)
			case errors.Is(err, store.ErrConflict):
				return fieldErr("parent", "team %q cannot be under %q: it would be its own subteam", name, t.Parent)
			}
			return fmt.Errorf("put team %q: %w", name, err)
		}
		all, err := tx.ListTeams(ctx)
		if err != nil {
			return err
		}
		stored, err := tx.GetTeam(ctx, name)
		if err != nil {
			return err
		}
		out, err = s.toTeam(r, tx, stored, all, true)
		return err
	})
	if err != nil {
		return err
	}
	if action == "team.create" {
		status = http.StatusCreated
	}
	writeJSON(w, status, out)
	return nil
}

func (s *Server) handleDeleteTeam(w http.ResponseWriter, r *http.Request, c *caller) error {
	name := r.PathValue("name")
	c.target = "team:" + name
	if err := s.mayShapeTeams(r, c); err != nil {
		return err
	}
	ctx := r.Context()
	err := s.tx(ctx, c, "team.delete", func(tx store.Tx) error {
		n, err := tx.CountUsers(ctx, store.UserFilter{InTeams: true, Teams: []string{name}})
		if err != nil {
			return fmt.Errorf("members of %s: %w", name, err)
		}
		if n > 0 {
			c.detail("members", n)
			return errf(http.StatusConflict, CodeInUse, "team %q has %d member(s); move them first", name, n)
		}
		if err := tx.DeleteTeam(ctx, name); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return errf(http.StatusConflict, CodeInUse, "team %q has subteams; delete or move them first", name)
			}
			return storeErr(err, "team", name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// PrivilegeGroup is one area of the privilege catalogue.
type PrivilegeGroup struct {
	Name       string           `json:"name"`
	Privileges []privilege.Info `json:"privileges"`
}

// PrivilegeCatalogue is every privilege, built-in and the application's,
// grouped by area.
type PrivilegeCatalogue struct {
	Groups []PrivilegeGroup `json:"groups"`
}

func (s *Server) handleListPrivileges(w http.ResponseWriter, r *http.Request, c *caller) error {
	groups, by := s.privs.Grouped()
	out := PrivilegeCatalogue{Groups: make([]PrivilegeGroup, 0, len(groups))}
	for _, g := range groups {
		out.Groups = append(out.Groups, PrivilegeGroup{Name: g, Privileges: by[g]})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
