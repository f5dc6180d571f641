package admin

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/sso/policy"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/engine"
)

// EntryMapper maps imported users; a *mapping.Mapper is one. Entries are
// mapped through the sync engine (engine.MapEntries), as a sync maps them.
type EntryMapper = engine.Mapper

// DirectoryMapping is what creating local users from a directory's entries
// needs: the directory's mapper (rules, templates, user template) and how
// imported users match existing local ones.
type DirectoryMapping struct {
	Mapper EntryMapper
	LinkBy mapping.LinkBy
}

// maxCreateAnchors bounds one bulk create: the whole batch is one store
// transaction, and an administrator picking entries by hand picks far fewer.
const maxCreateAnchors = 1000

// CreateEntriesRequest selects unmapped imported users to create local
// users for.
type CreateEntriesRequest struct {
	Anchors []string `json:"anchors"`
}

// Outcomes of one entry in a bulk create.
const (
	EntryCreated = "created"
	EntryRefused = "refused"
)

// Codes of a refused entry besides the mapping's warning codes
// (username_collision, local_username_taken, privileged_not_linked,
// ambiguous_link, empty_username, template_error).
const (
	RefusedNotFound      = "not_found"
	RefusedNotUser       = "not_a_user"
	RefusedAlreadyMapped = "already_mapped"
	// RefusedLocalUserExists: an unprivileged local user matches (by the
	// directory's link_by); bulk create neither merges into it nor makes a
	// second one — link it with map.
	RefusedLocalUserExists = "local_user_exists"
	// RefusedUsernamePolicy: the username the user template builds breaks
	// policy.username.
	RefusedUsernamePolicy = "username_policy"
	// RefusedEscalation: the mapping would give a profile or superuser flag
	// the caller could not grant by hand.
	RefusedEscalation = CodeEscalation
)

// EntryCreateResult is the outcome for one requested anchor.
type EntryCreateResult struct {
	Anchor string `json:"anchor"`
	// Name is the entry's login name (sAMAccountName / uid), if found.
	Name   string `json:"name,omitempty"`
	Status string `json:"status"`
	// Code and Message say why an entry was refused.
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	// User is the local user created.
	User *User `json:"user,omitempty"`
	// ProfileCause and UnitCauses explain the mapping of a created user.
	ProfileCause string              `json:"profile_cause,omitempty"`
	UnitCauses   map[string][]string `json:"unit_causes,omitempty"`
	// Warnings are the mapping's non-blocking remarks about this entry.
	Warnings []string `json:"warnings,omitempty"`
}

// CreateEntriesResult lists every requested anchor's outcome, in request
// order.
type CreateEntriesResult struct {
	Created int                 `json:"created"`
	Refused int                 `json:"refused"`
	Items   []EntryCreateResult `json:"items"`
	// Warnings concern the rules themselves (a rule naming a group that is
	// not imported).
	Warnings []string `json:"warnings,omitempty"`
}

// handleCreateEntries creates local users from selected unmapped imported
// users through the directory's mapping, as the sync would create them.
// Each anchor is decided on its own: a username two directory users map
// to, a local user already holding the name (privileged or not), or a
// profile the caller could not grant refuses that entry only, with its
// reason; the others are created. All creations and refusals are audited
// in one transaction.
func (s *Server) handleCreateEntries(w http.ResponseWriter, r *http.Request, c *caller) error {
	dir := r.PathValue("name")
	c.target = "directory:" + dir
	var in CreateEntriesRequest
	if err := decodeJSON(w, r, s.maxBody, &in); err != nil {
		return err
	}
	if err := s.knownDirectory(dir, ""); err != nil {
		return err
	}
	var anchors []string
	for i, a := range in.Anchors {
		if strings.TrimSpace(a) == "" {
			return fieldErr(fmt.Sprintf("anchors[%d]", i), "anchor must not be empty")
		}
		if !slices.Contains(anchors, a) {
			anchors = append(anchors, a)
		}
	}
	switch {
	case len(anchors) == 0:
		return fieldErr("anchors", "anchors must list at least one imported user")
	case len(anchors) > maxCreateAnchors:
		return fieldErr("anchors", "at most %d anchors per request, not %d", maxCreateAnchors, len(anchors))
	}
	dm, ok := s.mappings[dir]
	if !ok || dm.Mapper == nil {
		return errf(http.StatusNotImplemented, CodeNotImplemented, "this daemon has no mapping for directory %s", dir)
	}
	ctx := r.Context()
	now := s.now().UTC()
	var out CreateEntriesResult
	err := s.store.Tx(ctx, func(tx store.Tx) error {
		var err error
		out, err = s.createEntries(r, tx, c, dir, dm, anchors, now)
		return err
	})
	if err != nil {
		c.audited = false // rolled back with the change
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// createEntries creates local users for the selected anchors inside tx:
// every unmapped user entry is mapped the way the sync maps it
// (engine.MapEntries), and each selected one is created or refused on its
// own, with an audit record each.
func (s *Server) createEntries(r *http.Request, tx store.Tx, c *caller, dir string, dm DirectoryMapping, anchors []string, now time.Time) (CreateEntriesResult, error) {
	ctx := r.Context()
	out := CreateEntriesResult{Items: make([]EntryCreateResult, len(anchors))}
	entries, err := tx.ListDirectoryEntries(ctx, dir)
	if err != nil {
		return out, fmt.Errorf("list entries of %s: %w", dir, err)
	}
	profiles, err := tx.ListProfiles(ctx)
	if err != nil {
		return out, fmt.Errorf("list profiles: %w", err)
	}
	privsOf := make(map[string][]string, len(profiles))
	for _, p := range profiles {
		privsOf[p.Name] = p.Privileges
	}
	// Every unmapped user entry is mapped, not only the selected ones, so
	// a username another imported user also maps to is a collision here
	// exactly as it is in a sync. Mapped entries already have their local
	// users, whose usernames Link checks against.
	byAnchor, rules := engine.MapEntries(dm.Mapper, entries)
	for _, w := range rules {
		out.Warnings = append(out.Warnings, w.String())
	}
	var changed []store.DirectoryEntry
	var others map[string]store.DirectoryEntry // the entries not mapped above, made when needed
	for i, anchor := range anchors {
		res := &out.Items[i]
		res.Anchor, res.Status = anchor, EntryRefused
		if me := byAnchor[anchor]; me == nil {
			if others == nil {
				others = make(map[string]store.DirectoryEntry, len(entries)-len(byAnchor))
				for _, e := range entries {
					if byAnchor[e.Anchor] == nil {
						others[e.Anchor] = e
					}
				}
			}
			refuseMissing(res, others, dir)
		} else {
			res.Name, res.Warnings = me.Entry.Name, me.Notes
			if err := s.createFromEntry(r, tx, c, dm, privsOf, me, res, now); err != nil {
				return out, err
			}
			if res.Status == EntryCreated {
				e := me.Entry
				e.UserID, e.Unmapped, e.UpdatedAt = res.User.ID, false, now
				changed = append(changed, e)
			}
		}
		if err := s.auditEntry(r, tx, c, dir, res, now); err != nil {
			return out, err
		}
	}
	if len(changed) > 0 {
		if err := tx.PutDirectoryEntries(ctx, changed); err != nil {
			return out, fmt.Errorf("link entries of %s: %w", dir, err)
		}
	}
	for _, it := range out.Items {
		if it.Status == EntryCreated {
			out.Created++
		} else {
			out.Refused++
		}
	}
	return out, nil
}

// refuseMissing says why a selected anchor is no unmapped user entry:
// mapped already, a group, or not imported at all.
func refuseMissing(res *EntryCreateResult, others map[string]store.DirectoryEntry, dir string) {
	e, ok := others[res.Anchor]
	switch {
	case !ok:
		res.Code, res.Message = RefusedNotFound, fmt.Sprintf("no imported entry %s in directory %s", res.Anchor, dir)
		return
	case e.Kind == store.EntryGroup:
		res.Code, res.Message = RefusedNotUser, fmt.Sprintf("entry %s is a group; only users become local users", e.Name)
	default:
		res.Code, res.Message = RefusedAlreadyMapped, fmt.Sprintf("entry %s is already mapped to a local user; use remap", e.Name)
	}
	res.Name = e.Name
}

// createFromEntry decides one selected, unmapped entry and creates its
// local user, or records in res why not.
func (s *Server) createFromEntry(r *http.Request, tx store.Tx, c *caller, dm DirectoryMapping, privsOf map[string][]string,
	me *engine.MappedEntry, res *EntryCreateResult, now time.Time) error {
	ctx := r.Context()
	m := &me.Result
	refuse := func(code, format string, args ...any) {
		res.Code, res.Message = code, fmt.Sprintf(format, args...)
	}
	if m.Blocked {
		code, msgs := string(mapping.WarnCollision), []string{}
		for i, w := range me.Blocking {
			if i == 0 {
				code = string(w.Code)
			}
			msgs = append(msgs, w.Message)
		}
		if len(msgs) == 0 {
			msgs = append(msgs, "blocked by the mapping")
		}
		refuse(code, "%s", strings.Join(msgs, "; "))
		return nil
	}

	if v := policy.CheckUsername(s.policies().Usernames, m.Username); len(v) > 0 {
		refuse(RefusedUsernamePolicy, "the username %q built by the user template breaks policy.username: %s", m.Username, policy.Messages(v))
		return nil
	}

	// The same candidates the sync's linking looks at: users holding the
	// username and, when linking by e-mail, unlinked users with the e-mail.
	cands, err := tx.FindUsers(ctx, store.KeyUsername, m.Username)
	if err != nil {
		return fmt.Errorf("find users named %q: %w", m.Username, err)
	}
	if dm.LinkBy == mapping.LinkByEmail && m.Email != "" {
		byMail, err := tx.FindUsers(ctx, store.KeyEmail, m.Email)
		if err != nil {
			return fmt.Errorf("find users with e-mail %q: %w", m.Email, err)
		}
		for _, u := range byMail {
			if !slices.ContainsFunc(cands, func(x store.User) bool { return x.ID == u.ID }) {
				cands = append(cands, u)
			}
		}
	}
	d, lw := mapping.Link(*m, cands, dm.LinkBy, privsOf)
	switch d.Action {
	case mapping.LinkCreate:
	case mapping.LinkExisting:
		refuse(RefusedLocalUserExists, "%s; bulk create makes no second user and links nothing by itself: link the entry with map", d.Reason)
		return nil
	case mapping.LinkAlready:
		refuse(RefusedAlreadyMapped, "a local user already holds directory %s anchor %s; use remap", m.Directory, m.Anchor)
		return nil
	default:
		code := string(mapping.WarnLocalCollision)
		if len(lw) > 0 {
			code = string(lw[0].Code)
		}
		refuse(code, "%s", d.Reason)
		return nil
	}

	// Creating through the API must not hand out more than the caller
	// could grant by hand (PATCH checks the same).
	if m.Superuser && !c.User.Superuser {
		refuse(RefusedEscalation, "the mapping makes %s a superuser (%s); only a superuser may create one", m.Username, m.SuperuserCause)
		return nil
	}
	if m.Profile != "" {
		if missing := privilege.CanGrant(c.grantable(), privilege.NewSet(s.profilePowerByName(r, tx, m.Profile, privsOf)...)); len(missing) > 0 {
			refuse(RefusedEscalation, "profile %s (%s) holds privileges you do not hold: %s", m.Profile, m.ProfileCause, missing)
			return nil
		}
	}

	// The user the sync would create, with the entry's fields.
	u := me.User
	u.CreatedAt, u.UpdatedAt = now, now
	if err := tx.CreateUser(ctx, &u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			// Taken between the look-up and the insert by a concurrent
			// change: the whole batch is retried by the caller.
			return storeErr(err, "user", u.Username)
		}
		return fmt.Errorf("create user %s: %w", u.Username, err)
	}
	au := toUser(u)
	res.Status, res.User = EntryCreated, &au
	res.ProfileCause, res.UnitCauses = m.ProfileCause, m.UnitCauses
	return nil
}

// auditEntry records one entry's outcome: a created user as a success, a
// refusal as a failure with its reason.
func (s *Server) auditEntry(r *http.Request, tx store.Tx, c *caller, dir string, res *EntryCreateResult, now time.Time) error {
	ev := &store.AuditEvent{
		Time: now, Actor: c.actor(), Action: "entry.create", SourceIP: c.IP,
		Target:  "entry:" + dir + "/" + res.Anchor,
		Details: map[string]any{"directory": dir, "anchor": res.Anchor},
	}
	if res.Status == EntryCreated {
		ev.Target, ev.Outcome = "user:"+res.User.Username, store.OutcomeSuccess
		ev.Details["user_id"] = res.User.ID
		ev.Details["profile"] = res.User.Profile
		ev.Details["profile_cause"] = res.ProfileCause
		ev.Details["units"] = res.User.Units
	} else {
		ev.Outcome, ev.Reason = store.OutcomeFailure, res.Code+": "+res.Message
	}
	if err := tx.AppendAudit(r.Context(), ev); err != nil {
		return fmt.Errorf("audit entry.create %s: %w", res.Anchor, err)
	}
	c.audited = true
	return nil
}
