package admin

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/store"
)

func (s *Server) usersOf(r *http.Request, rd store.Reader, profile string) (int, error) {
	n, err := rd.CountUsers(r.Context(), store.UserFilter{Profile: profile})
	if err != nil {
		return 0, fmt.Errorf("count users of profile %q: %w", profile, err)
	}
	return n, nil
}

func (s *Server) handleListProfiles(w http.ResponseWriter, r *http.Request, c *caller) error {
	list, err := s.store.ListProfiles(r.Context())
	if err != nil {
		return fmt.Errorf("list profiles: %w", err)
	}
	out := ProfileList{Items: make([]Profile, 0, len(list))}
	for _, p := range list {
		n, err := s.usersOf(r, s.store, p.Name)
		if err != nil {
			return err
		}
		out.Items = append(out.Items, toProfile(p, n))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleGetProfile(w http.ResponseWriter, r *http.Request, c *caller) error {
	name := r.PathValue("name")
	p, err := s.store.GetProfile(r.Context(), name)
	if err != nil {
		return storeErr(err, "profile", name)
	}
	n, err := s.usersOf(r, s.store, p.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toProfile(p, n))
	return nil
}

// validProfile checks the input and the caller's right to grant it.
func (s *Server) validProfile(c *caller, in *ProfileInput) error {
	if len(in.Description) > 1000 {
		return fieldErr("description", "description must be at most 1000 characters")
	}
	if in.Privileges == nil {
		return fieldErr("privileges", "privileges is required (may be an empty list)")
	}
	var clean []string
	for i, p := range in.Privileges {
		if !s.known(p) {
			return fieldErr(fmt.Sprintf("privileges[%d]", i), "unknown privilege %q", p)
		}
		if !slices.Contains(clean, p) {
			clean = append(clean, p)
		}
	}
	slices.Sort(clean)
	in.Privileges = clean
	if missing := s.privs.MissingPrerequisites(privilege.NewSet(clean...)); len(missing) > 0 {
		var parts []string
		for _, name := range slices.Sorted(maps.Keys(missing)) {
			parts = append(parts, fmt.Sprintf("%s requires %s", name, strings.Join(missing[name], ", ")))
		}
		return fieldErr("privileges", "missing prerequisites: %s", strings.Join(parts, "; "))
	}
	if err := s.checkGrant(c, in.Privileges, "privileges"); err != nil {
		return err
	}
	if in.MayGrant != nil {
		seen := map[string]bool{}
		clean := []string{}
		for i, p := range in.MayGrant {
			if !s.known(p) {
				return fieldErr(fmt.Sprintf("may_grant[%d]", i), "unknown privilege %q", p)
			}
			if !seen[p] {
				seen[p] = true
				clean = append(clean, p)
			}
		}
		slices.Sort(clean)
		in.MayGrant = clean
		// Letting others grant something is granting it.
		if err := s.checkGrant(c, in.MayGrant, "may_grant"); err != nil {
			return err
		}
	}
	return s.validScopes(c, in)
}

// validScopes checks a profile's scopes: each names a scoped privilege of
// the profile, a known kind, and for assigned existing teams. A caller
// whose own hold on a privilege is scoped may not grant it wider: to
// everyone.
func (s *Server) validScopes(c *caller, in *ProfileInput) error {
	if len(in.Scopes) == 0 {
		in.Scopes = nil
	}
	ctx := c.Request.Context()
	teams, err := s.store.ListTeams(ctx)
	if err != nil {
		return fmt.Errorf("read teams: %w", err)
	}
	actor, err := s.actorPrincipal(ctx, s.store, c)
	if err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(in.Scopes)) {
		sc := in.Scopes[name]
		field := "scopes." + name
		switch {
		case !slices.Contains(in.Privileges, name):
			return fieldErr(field, "%s is not one of the profile's privileges", name)
		case !s.privs.IsScoped(name):
			return fieldErr(field, "%s is not a scoped privilege", name)
		}
		switch sc.Kind {
		case store.ScopeAll, store.ScopeOwnTeams:
			if len(sc.Teams) > 0 {
				return fieldErr(field+".teams", "teams are only for kind %s", store.ScopeAssigned)
			}
		case store.ScopeAssigned:
			if len(sc.Teams) == 0 {
				return fieldErr(field+".teams", "kind assigned needs at least one team")
			}
			for i, t := range sc.Teams {
				if !slices.ContainsFunc(teams, func(x store.Team) bool { return x.Name == t }) {
					return fieldErr(fmt.Sprintf("%s.teams[%d]", field, i), "unknown team %q", t)
				}
			}
		default:
			return fieldErr(field+".kind", "kind must be %s, %s or %s", store.ScopeAll, store.ScopeOwnTeams, store.ScopeAssigned)
		}
	}
	for _, name := range in.Privileges {
		if !s.privs.IsScoped(name) || c.User.Superuser || actor.reachFor([]string{name}).All {
			continue
		}
		if sc, ok := in.Scopes[name]; !ok || sc.Kind == store.ScopeAll {
			c.detail("scope_escalation", name)
			return errf(http.StatusForbidden, CodeEscalation, "your %s is limited to some teams; you cannot grant it for everyone", name)
		}
	}
	return nil
}

// storeScopes converts the API's scopes.
func storeScopes(in map[string]Scope) map[string]store.Scope {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]store.Scope, len(in))
	for k, v := range in {
		out[k] = store.Scope{Kind: v.Kind, Teams: slices.Clone(v.Teams)}
	}
	return out
}

func validName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return fieldErr("name", "name is required")
	case name != strings.TrimSpace(name):
		return fieldErr("name", "name must not start or end with spaces")
	case len(name) > 100:
		return fieldErr("name", "name must be at most 100 characters")
	case strings.ContainsAny(name, "/\x00"):
		return fieldErr("name", "name must not contain '/'")
	}
	return nil
}

func (s *Server) handleCreateProfile(w http.ResponseWriter, r *http.Request, c *caller) error {
	var in ProfileInput
	if err := decodeJSON(w, r, s.maxBody, &in); err != nil {
		return err
	}
	c.target = "profile:" + in.Name
	if err := validName(in.Name); err != nil {
		return err
	}
	c.detail("privileges", in.Privileges)
	if err := s.validProfile(c, &in); err != nil {
		return err
	}
	ctx := r.Context()
	now := s.now().UTC()
	p := store.Profile{Name: in.Name, Description: in.Description, Privileges: in.Privileges, Scopes: storeScopes(in.Scopes), MayGrant: in.MayGrant, CreatedAt: now, UpdatedAt: now}
	err := s.tx(ctx, c, "profile.create", func(tx store.Tx) error {
		_, err := tx.GetProfile(ctx, in.Name)
		if err == nil {
			e := errf(http.StatusConflict, CodeConflict, "profile %q already exists", in.Name)
			e.E.Field = "name"
			return e
		}
		if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("get profile: %w", err)
		}
		if err := tx.PutProfile(ctx, p); err != nil {
			return fmt.Errorf("create profile %q: %w", in.Name, err)
		}
		p, err = tx.GetProfile(ctx, in.Name)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, toProfile(p, 0))
	return nil
}

func (s *Server) handleUpdateProfile(w http.ResponseWriter, r *http.Request, c *caller) error {
	name := r.PathValue("name")
	c.target = "profile:" + name
	var in ProfileInput
	if err := decodeJSON(w, r, s.maxBody, &in); err != nil {
		return err
	}
	if in.Name != "" && in.Name != name {
		return fieldErr("name", "a profile cannot be renamed; name must be %q or absent", name)
	}
	c.detail("privileges", in.Privileges)
	if err := s.validProfile(c, &in); err != nil {
		return err
	}
	ctx := r.Context()
	var p store.Profile
	var n int
	err := s.tx(ctx, c, "profile.update", func(tx store.Tx) error {
		old, err := tx.GetProfile(ctx, name)
		if err != nil {
			return storeErr(err, "profile", name)
		}
		if old.FromConfig {
			return errf(http.StatusConflict, CodeConfigManaged, "profile %q is defined in the config file; change it there", name)
		}
		// Removing privileges also counts: a caller must not strip what it
		// could not have granted (e.g. grant_all) from other people's profile.
		if err := s.checkGrant(c, profilePower(old), "privileges"); err != nil {
			return err
		}
		c.detail("old_privileges", old.Privileges)
		p = old
		p.Description, p.Privileges, p.Scopes, p.MayGrant, p.UpdatedAt = in.Description, in.Privileges, storeScopes(in.Scopes), in.MayGrant, s.now().UTC()
		if err := tx.PutProfile(ctx, p); err != nil {
			return fmt.Errorf("update profile %q: %w", name, err)
		}
		if p, err = tx.GetProfile(ctx, name); err != nil {
			return err
		}
		n, err = s.usersOf(r, tx, name)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toProfile(p, n))
	return nil
}

func (s *Server) handleDeleteProfile(w http.ResponseWriter, r *http.Request, c *caller) error {
	name := r.PathValue("name")
	c.target = "profile:" + name
	ctx := r.Context()
	err := s.tx(ctx, c, "profile.delete", func(tx store.Tx) error {
		old, err := tx.GetProfile(ctx, name)
		if err != nil {
			return storeErr(err, "profile", name)
		}
		if old.FromConfig {
			return errf(http.StatusConflict, CodeConfigManaged, "profile %q is defined in the config file; remove it there", name)
		}
		if err := s.checkGrant(c, old.Privileges, ""); err != nil {
			return err
		}
		n, err := s.usersOf(r, tx, name)
		if err != nil {
			return err
		}
		if n > 0 {
			c.detail("users", n)
			return errf(http.StatusConflict, CodeInUse, "profile %q is held by %d user(s); move them to another profile first", name, n)
		}
		if err := tx.DeleteProfile(ctx, name); err != nil {
			return storeErr(err, "profile", name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleListAudit(w http.ResponseWriter, r *http.Request, c *caller) error {
	q := r.URL.Query()
	f := store.AuditFilter{Actor: q.Get("actor"), Action: q.Get("action"), Target: q.Get("target"), Outcome: q.Get("outcome")}
	switch f.Outcome {
	case "", store.OutcomeSuccess, store.OutcomeFailure, store.OutcomeDenied:
	default:
		return fieldErr("outcome", "outcome must be %s, %s or %s", store.OutcomeSuccess, store.OutcomeFailure, store.OutcomeDenied)
	}
	for _, tp := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(tp.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return fieldErr(tp.name, "%s must be an RFC 3339 time such as 2026-01-02T15:04:05Z", tp.name)
			}
			*tp.dst = t.UTC()
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return fieldErr("until", "until must be after since")
	}
	var err error
	if f.Limit, err = intQuery(r, "limit", 100, 1000); err != nil {
		return err
	}
	if f.Offset, err = intQuery(r, "offset", 0, 0); err != nil {
		return err
	}
	if f.Limit == 0 {
		f.Limit = 100
	}
	actor, err := s.actorPrincipal(r.Context(), s.store, c)
	if err != nil {
		return err
	}
	var list []store.AuditEvent
	if reach := actor.reachFor([]string{privilege.ViewAuditLog}); reach.All {
		list, err = s.store.ListAudit(r.Context(), f)
	} else {
		c.detail("scope", reach.Scopes)
		list, err = s.scopedAudit(r.Context(), reach, f)
	}
	if err != nil {
		return fmt.Errorf("list audit: %w", err)
	}
	out := AuditList{Items: make([]AuditEvent, 0, len(list)), Limit: f.Limit, Offset: f.Offset}
	for _, e := range list {
		out.Items = append(out.Items, toAudit(e))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// auditScanLimit bounds how many events a scoped listing reads to fill one
// page: a supervisor's team is a small part of a large log.
const auditScanLimit = 100_000

// scopedAudit lists the events a caller whose view_audit_log reaches some
// teams may read: those whose actor or target user is in those teams,
// newest first, paged over the matching events.
func (s *Server) scopedAudit(ctx context.Context, reach privilege.Reach, f store.AuditFilter) ([]store.AuditEvent, error) {
	users, err := s.store.ListUsers(ctx, store.UserFilter{InTeams: true, Teams: reach.Teams})
	if err != nil {
		return nil, fmt.Errorf("users in scope: %w", err)
	}
	names := make(map[string]bool, len(users))
	for _, u := range users {
		if reach.Covers(u.Units) {
			names[u.Username] = true
		}
	}
	visible := func(e store.AuditEvent) bool {
		target, isUser := strings.CutPrefix(e.Target, "user:")
		return names[e.Actor] || (isUser && names[target])
	}
	want, skip := f.Limit, f.Offset
	var out []store.AuditEvent
	batch := f
	batch.Limit, batch.Offset = 1000, 0
	for scanned := 0; len(out) < want && scanned < auditScanLimit; scanned += batch.Limit {
		page, err := s.store.ListAudit(ctx, batch)
		if err != nil {
			return nil, err
		}
		for _, e := range page {
			if !visible(e) {
				continue
			}
			if skip > 0 {
				skip--
				continue
			}
			if len(out) < want {
				out = append(out, e)
			}
		}
		if len(page) < batch.Limit {
			break
		}
		batch.Offset += batch.Limit
	}
	return out, nil
}
