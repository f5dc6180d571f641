package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"

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
	f, err := parseFilter(first(q, "filter"))
	if err != nil {
		return 0, nil, err
	}
	start, count, err := page(q, rq.src.MaxResults)
	if err != nil {
		return 0, nil, err
	}
	rs, err := all(ctx, s.st, rq.src, store.EntryUser)
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
		existing, err := all(ctx, t.tx, t.src, store.EntryUser)
		if err != nil {
			return err
		}
		if err := unique(existing, doc, ""); err != nil {
			return err
		}
		r := resource{entry: store.DirectoryEntry{Directory: t.src.dir, Anchor: uuid.NewString(), Kind: store.EntryUser}}
		createdAt := ""
		// A user the client deleted and now creates again is the same
		// person: reuse the entry and its local user.
		if old := deletedMatch(existing, doc); old != nil {
			r, createdAt = *old, created(old.doc)
			r.entry.Attributes = nil
		}
		stamp(doc, store.EntryUser, createdAt, t.now)
		r.doc = doc
		if err := t.saveUser(&r, existing); err != nil {
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
		if !strings.EqualFold(str(doc, "userName"), str(r.doc, "userName")) || str(doc, "externalId") != str(r.doc, "externalId") {
			existing, err := all(ctx, t.tx, t.src, store.EntryUser)
			if err != nil {
				return err
			}
			if err := unique(existing, doc, r.id()); err != nil {
				return err
			}
		}
		stamp(doc, store.EntryUser, created(r.doc), t.now)
		r.doc = doc
		if err := t.saveUser(&r, nil); err != nil {
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
// mapped through the rules and audited. existing is every user resource
// of the source when the caller has read them (a create), else nil.
func (t *txn) saveUser(r *resource, existing []resource) error {
	u, owned, err := t.localUser(*r)
	if err != nil {
		return err
	}
	if r.entry.UserID != "" && !owned && u.ID == "" {
		r.entry.UserID = "" // its local user was deleted by an administrator
	}
	if r.entry.UserID == "" && t.src.LinkDirectoryUsers {
		du, ok, err := t.linkTarget(r, existing)
		if err != nil {
			return err
		}
		if ok {
			r.entry.UserID, r.entry.Name = du.ID, str(r.doc, "userName")
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

	isNew := r.entry.UserID == ""
	if isNew {
		u = store.User{Source: t.src.dir, Anchor: r.id(), State: store.StateActive}
	}
	changed := userFields(&u, r.doc)
	mapped, err := t.assign(&u, r.id())
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
// onPremisesImmutableId names. A directory user already provisioned from
// this source under another SCIM id is a conflict, not a second link.
func (t *txn) linkTarget(r *resource, existing []resource) (store.User, bool, error) {
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
	if existing == nil {
		if existing, err = all(t.ctx, t.tx, t.src, store.EntryUser); err != nil {
			return store.User{}, false, err
		}
	}
	for _, e := range existing {
		if e.entry.UserID == found[0].ID && e.id() != r.id() {
			return store.User{}, false, errorf(http.StatusConflict, typeUniqueness,
				"the directory user with this onPremisesImmutableId is already provisioned as %s", e.id())
		}
	}
	return found[0], true, nil
}

// unique refuses a userName (without case) or externalId (exactly) that
// another served user of the source holds.
func unique(existing []resource, doc object, self string) error {
	name, ext := str(doc, "userName"), str(doc, "externalId")
	for _, e := range existing {
		if e.deleted() || e.id() == self {
			continue
		}
		if strings.EqualFold(str(e.doc, "userName"), name) {
			return errorf(http.StatusConflict, typeUniqueness, "userName %q exists (id %s)", name, e.id())
		}
		if ext != "" && str(e.doc, "externalId") == ext {
			return errorf(http.StatusConflict, typeUniqueness, "externalId %q exists (id %s)", ext, e.id())
		}
	}
	return nil
}

// deletedMatch finds a deleted user the new resource is the return of.
func deletedMatch(existing []resource, doc object) *resource {
	name, ext := str(doc, "userName"), str(doc, "externalId")
	for i, e := range existing {
		if !e.deleted() {
			continue
		}
		if (ext != "" && str(e.doc, "externalId") == ext) || strings.EqualFold(str(e.doc, "userName"), name) {
			return &existing[i]
		}
	}
	return nil
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
