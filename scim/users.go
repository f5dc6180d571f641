package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"
	filter "github.com/scim2/filter-parser/v2"

	"github.com/dirbridge/dirbridge/store"
)

func (s *Server) getUser(ctx context.Context, rq *request) (int, any, error) {
	r, err := get(ctx, s.st, rq.src, store.EntryUser, rq.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	out := render(r, rq.base)
	if err := withGroups(ctx, s.st, rq.src, []object{out}, rq.base); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, project(out, rq.URL.Query()), nil
}

// withGroups adds the read-only "groups" of each rendered user.
func withGroups(ctx context.Context, rd store.Reader, src *source, users []object, base string) error {
	if len(users) == 0 {
		return nil
	}
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = str(u, "id")
	}
	gs, err := groupsOf(ctx, rd, src, ids...)
	if err != nil {
		return err
	}
	for _, u := range users {
		var l []any
		for _, g := range gs {
			for _, m := range g.Groups {
				if m == str(u, "id") {
					l = append(l, object{"value": g.Anchor, "display": g.Name, "$ref": base + "/Groups/" + g.Anchor})
				}
			}
		}
		if l != nil {
			u["groups"] = l
		}
	}
	return nil
}

func (s *Server) listUsers(ctx context.Context, rq *request) (int, any, error) {
	q := rq.URL.Query()
	f, start, count, err := listQuery(rq)
	if err != nil {
		return 0, nil, err
	}
	rs, err := s.candidates(ctx, rq.src, f)
	if err != nil {
		return 0, nil, err
	}
	var hits []object
	for _, r := range rs {
		if r.deleted() {
			continue
		}
		if out := render(r, rq.base); matches(f, out) {
			hits = append(hits, out)
		}
	}
	from, to := slice(len(hits), start, count)
	pg := hits[from:to]
	if err := withGroups(ctx, s.st, rq.src, pg, rq.base); err != nil {
		return 0, nil, err
	}
	res := make([]any, len(pg))
	for i, o := range pg {
		res[i] = project(o, q)
	}
	return http.StatusOK, listResponse(res, len(hits), start), nil
}

// candidates returns the user resources a filter can match: through an
// index for the probes the IdPs send before every create (userName eq,
// id eq), every resource of the source otherwise.
func (s *Server) candidates(ctx context.Context, src *source, f filter.Expression) ([]resource, error) {
	x, ok := f.(*filter.AttributeExpression)
	value, isStr := "", false
	if ok {
		value, isStr = x.CompareValue.(string)
	}
	if !ok || !isStr || x.Operator != filter.EQ || x.AttributePath.SubAttribute != nil ||
		(x.AttributePath.URI() != "" && !isCoreSchema(x.AttributePath.URI())) {
		return all(ctx, s.st, src, store.EntryUser)
	}
	switch strings.ToLower(x.AttributePath.AttributeName) {
	case "username":
		return byUserName(ctx, s.st, src, value)
	case "id":
		r, err := get(ctx, s.st, src, store.EntryUser, value)
		var se *Error
		if errors.As(err, &se) && se.Status == http.StatusNotFound {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return []resource{r}, nil
	}
	return all(ctx, s.st, src, store.EntryUser)
}

func (s *Server) createUser(ctx context.Context, rq *request) (int, any, error) {
	doc, err := decodeResource(rq.body)
	if err != nil {
		return 0, nil, err
	}
	if err := prepareUser(doc); err != nil {
		return 0, nil, err
	}
	var out resource
	err = s.write(ctx, rq, func(t *txn) error {
		same, err := byUserName(ctx, t.tx, t.src, str(doc, "userName"))
		if err != nil {
			return err
		}
		var old *resource
		for i, r := range same {
			if !r.deleted() {
				return errorf(http.StatusConflict, typeUniqueness, "userName %q exists (id %s)", str(doc, "userName"), r.id())
			}
			old = &same[i]
		}
		r := resource{entry: store.DirectoryEntry{Directory: t.src.dir, Kind: store.EntryUser}}
		createdAt := ""
		// A user the client deleted and now creates again is the same
		// person: reuse the entry and its local user.
		if old != nil {
			r, createdAt = *old, created(old.doc)
			r.entry.Attributes = nil
		}
		stamp(doc, store.EntryUser, createdAt, t.now)
		r.doc = doc
		if err := t.saveUser(&r); err != nil {
			return err
		}
		out = r
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, render(out, rq.base), nil
}

func (s *Server) replaceUser(ctx context.Context, rq *request) (int, any, error) {
	doc, err := decodeResource(rq.body)
	if err != nil {
		return 0, nil, err
	}
	if id := str(doc, "id"); id != "" && id != rq.PathValue("id") {
		return 0, nil, errorf(http.StatusBadRequest, typeMutability, "id %q does not match the URL's %q", id, rq.PathValue("id"))
	}
	if err := prepareUser(doc); err != nil {
		return 0, nil, err
	}
	return s.updateUser(ctx, rq, func(object) (object, error) { return doc, nil })
}

func (s *Server) patchUser(ctx context.Context, rq *request) (int, any, error) {
	req, err := decodePatch(rq.body)
	if err != nil {
		return 0, nil, err
	}
	return s.updateUser(ctx, rq, func(cur object) (object, error) {
		doc := clone(cur).(map[string]any)
		doc["id"] = rq.PathValue("id")
		if err := applyPatch(doc, req.Operations); err != nil {
			return nil, err
		}
		if err := prepareUser(doc); err != nil {
			return nil, err
		}
		return doc, nil
	})
}

// updateUser replaces the stored user by what next makes of it (PUT,
// PATCH) and saves it like a create.
func (s *Server) updateUser(ctx context.Context, rq *request, next func(object) (object, error)) (int, any, error) {
	var out resource
	err := s.write(ctx, rq, func(t *txn) error {
		r, err := get(ctx, t.tx, t.src, store.EntryUser, rq.PathValue("id"))
		if err != nil {
			return err
		}
		doc, err := next(r.doc)
		if err != nil {
			return err
		}
		if name := str(doc, "userName"); !strings.EqualFold(name, str(r.doc, "userName")) {
			same, err := byUserName(ctx, t.tx, t.src, name)
			if err != nil {
				return err
			}
			for _, o := range same {
				if o.id() != r.id() && !o.deleted() {
					return errorf(http.StatusConflict, typeUniqueness, "userName %q exists (id %s)", name, o.id())
				}
			}
		}
		stamp(doc, store.EntryUser, created(r.doc), t.now)
		r.doc = doc
		if err := t.saveUser(&r); err != nil {
			return err
		}
		out = r
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	rendered := render(out, rq.base)
	if err := withGroups(ctx, s.st, rq.src, []object{rendered}, rq.base); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, rendered, nil
}

// deleteUser deactivates (never deletes) the local user, ends its
// sessions, takes it out of the source's groups and stops serving it.
func (s *Server) deleteUser(ctx context.Context, rq *request) (int, any, error) {
	err := s.write(ctx, rq, func(t *txn) error {
		r, err := get(ctx, t.tx, t.src, store.EntryUser, rq.PathValue("id"))
		if err != nil {
			return err
		}
		details := map[string]any{"scim_id": r.id(), "external_id": str(r.doc, "externalId")}
		target := str(r.doc, "userName")
		if u, owned, err := t.localUser(r); err != nil {
			return err
		} else if owned && u.State == store.StateActive {
			n, err := t.deactivate(&u, "deleted by SCIM source "+t.src.Name)
			if err != nil {
				return err
			}
			if err := t.audit(ActionUserDeactivate, u.Username, map[string]any{"scim_id": r.id(), "sessions_ended": n}); err != nil {
				return err
			}
			target = u.Username
		} else if !owned {
			details["linked_user"] = r.entry.UserID
		}
		gs, err := t.groupsOf(r.id())
		if err != nil {
			return err
		}
		for _, g := range gs {
			full, err := t.tx.GetDirectoryEntry(ctx, t.src.dir, g.Anchor)
			if err != nil {
				return fmt.Errorf("scim %s: group %s: %w", t.src.Name, g.Anchor, err)
			}
			full.Groups = removeString(full.Groups, r.id())
			if err := t.tx.PutDirectoryEntries(ctx, []store.DirectoryEntry{full}); err != nil {
				return fmt.Errorf("scim %s: group %s: %w", t.src.Name, g.Anchor, err)
			}
		}
		r.entry.Attributes = map[string][]string{attrDeleted: {"true"}}
		if err := t.putEntry(&r); err != nil {
			return err
		}
		return t.audit(ActionUserDelete, target, details)
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

// localUser returns the user an entry is mapped to and whether this
// source owns it (false: a linked directory user, or none).
func (t *txn) localUser(r resource) (store.User, bool, error) {
	if r.entry.UserID == "" {
		return store.User{}, false, nil
	}
	u, err := t.tx.GetUser(t.ctx, r.entry.UserID)
	if isNotFound(err) {
		return store.User{}, false, nil
	}
	if err != nil {
		return store.User{}, false, fmt.Errorf("scim %s: user of %s: %w", t.src.Name, r.id(), err)
	}
	return u, u.Source == t.src.dir, nil
}

// saveUser writes a user resource and its local user: created, linked to
// a directory user, or updated (with deactivation and reactivation), then
// mapped through the rules and audited. A new resource (no anchor yet)
// gets its SCIM id here: the linked directory user's ID, or a new one.
func (t *txn) saveUser(r *resource) error {
	u, owned, err := t.localUser(*r)
	if err != nil {
		return err
	}
	if r.entry.UserID != "" && !owned && u.ID == "" {
		r.entry.UserID = "" // its local user was deleted by an administrator
	}
	if r.entry.UserID == "" && r.entry.Anchor == "" && t.src.LinkDirectoryUsers {
		du, ok, err := t.linkTarget(r)
		if err != nil {
			return err
		}
		if ok {
			r.entry.Anchor, r.entry.UserID, r.entry.Name = du.ID, du.ID, str(r.doc, "userName")
			if err := t.putEntry(r); err != nil {
				return err
			}
			return t.audit(ActionUserLink, du.Username, map[string]any{"scim_id": r.id(),
				"external_id": str(r.doc, "externalId"), "directory": du.Source, "anchor": du.Anchor})
		}
	}
	if r.entry.UserID != "" && !owned {
		// Linked: the directory owns the user's fields and state; the
		// resource is kept as the client sent it.
		r.entry.Name = str(r.doc, "userName")
		if err := t.putEntry(r); err != nil {
			return err
		}
		return t.audit(ActionUserUpdate, u.Username, map[string]any{"scim_id": r.id(), "linked": true})
	}

	isNew, fresh := r.entry.UserID == "", r.entry.Anchor == ""
	if fresh {
		r.entry.Anchor = uuid.NewString()
	}
	if isNew {
		u = store.User{Source: t.src.dir, Anchor: r.id(), State: store.StateActive}
	}
	changed := userFields(&u, r.doc)
	mapped, err := t.assign(&u, r.id(), fresh)
	if err != nil {
		return err
	}
	details := map[string]any{"scim_id": r.id(), "external_id": str(r.doc, "externalId")}
	for k, v := range mapped {
		details[k] = v
	}
	wantActive := active(r.doc)
	if isNew {
		if !wantActive {
			u.State, u.DeactivatedReason = store.StateInactive, "created inactive by SCIM source "+t.src.Name
		}
		if err := t.tx.CreateUser(t.ctx, &u); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return errorf(http.StatusConflict, typeUniqueness, "userName %q is taken by a user dirbridge did not get from this source", u.Username)
			}
			return fmt.Errorf("scim %s: create user %s: %w", t.src.Name, u.Username, err)
		}
		r.entry.UserID, r.entry.Name = u.ID, u.Username
		if err := t.putEntry(r); err != nil {
			return err
		}
		details["state"] = string(u.State)
		return t.audit(ActionUserCreate, u.Username, details)
	}

	reactivate := wantActive && u.State == store.StateInactive
	if reactivate {
		u.State, u.DeactivatedReason = store.StateActive, ""
	}
	if len(changed) > 0 || len(mapped) > 0 || reactivate {
		if err := t.updateUser(&u); err != nil {
			return err
		}
	}
	r.entry.Name = u.Username
	if err := t.putEntry(r); err != nil {
		return err
	}
	if len(changed) > 0 || len(mapped) > 0 {
		details["changed"] = changed
		if err := t.audit(ActionUserUpdate, u.Username, details); err != nil {
			return err
		}
	}
	if reactivate {
		if err := t.audit(ActionUserReactivate, u.Username, map[string]any{"scim_id": r.id()}); err != nil {
			return err
		}
	}
	if !wantActive && u.State == store.StateActive {
		n, err := t.deactivate(&u, "deactivated by SCIM source "+t.src.Name)
		if err != nil {
			return err
		}
		return t.audit(ActionUserDeactivate, u.Username, map[string]any{"scim_id": r.id(), "sessions_ended": n})
	}
	return nil
}

// linkTarget finds the directory-synced user whose anchor the resource's
// onPremisesImmutableId names. A linked resource's SCIM id is the local
// user's ID, so a directory user already provisioned from this source is
// found by that id: a conflict, not a second link.
func (t *txn) linkTarget(r *resource) (store.User, bool, error) {
	anchor := immutableAnchor(r.doc)
	if anchor == "" {
		return store.User{}, false, nil
	}
	users, err := t.tx.FindUsers(t.ctx, store.KeyAnchor, anchor)
	if err != nil {
		return store.User{}, false, fmt.Errorf("scim %s: find anchor %s: %w", t.src.Name, anchor, err)
	}
	var found []store.User
	for _, u := range users {
		if u.Source != store.SourceLocal && u.Source != "" && !strings.HasPrefix(u.Source, SourcePrefix) {
			found = append(found, u)
		}
	}
	if len(found) != 1 {
		return store.User{}, false, nil // none, or ambiguous between directories: no guessing
	}
	e, err := t.tx.GetDirectoryEntry(t.ctx, t.src.dir, found[0].ID)
	switch {
	case err == nil && len(e.Attributes[attrDeleted]) == 0:
		return store.User{}, false, errorf(http.StatusConflict, typeUniqueness,
			"the directory user with this onPremisesImmutableId is already provisioned as %s", e.Anchor)
	case err != nil && !isNotFound(err):
		return store.User{}, false, fmt.Errorf("scim %s: linked entry of %s: %w", t.src.Name, found[0].ID, err)
	}
	return found[0], true, nil
}

// byUserName returns the source's user resources (deleted ones too) whose
// userName equals name without case, through the users' indexed username
// and UPN: an owned user's entry is keyed by its anchor, a linked one's
// by the local user's ID. A linked resource whose userName is neither its
// directory user's username nor UPN is not found here.
func byUserName(ctx context.Context, rd store.Reader, src *source, name string) ([]resource, error) {
	var anchors []string
	for _, key := range []store.UserKey{store.KeyUsername, store.KeyUPN} {
		us, err := rd.FindUsers(ctx, key, name)
		if err != nil {
			return nil, fmt.Errorf("scim %s: find %s %q: %w", src.Name, key, name, err)
		}
		for _, u := range us {
			if u.Source == src.dir {
				anchors = append(anchors, u.Anchor)
			}
			anchors = append(anchors, u.ID)
		}
	}
	if len(anchors) == 0 {
		return nil, nil
	}
	es, err := rd.GetDirectoryEntries(ctx, src.dir, anchors)
	if err != nil {
		return nil, fmt.Errorf("scim %s: entries of %q: %w", src.Name, name, err)
	}
	var out []resource
	seen := map[string]bool{}
	for _, e := range es {
		if e.Kind != store.EntryUser || seen[e.Anchor] {
			continue
		}
		seen[e.Anchor] = true
		r, err := loadEntry(e)
		if err != nil {
			return nil, err
		}
		if strings.EqualFold(str(r.doc, "userName"), name) {
			out = append(out, r)
		}
	}
	return out, nil
}

func removeString(l []string, v string) []string {
	out := l[:0:0]
	for _, s := range l {
		if s != v {
			out = append(out, s)
		}
	}
	return out
}
