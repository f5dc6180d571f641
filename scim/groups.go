package scim

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/dirbridge/dirbridge/store"
)

// prepareGroup checks a group resource and takes its members out: they
// are kept as the entry's Groups (member SCIM ids), not in the document.
func prepareGroup(doc object) ([]string, error) {
	if err := checkSchemas(doc, SchemaGroup); err != nil {
		return nil, err
	}
	for _, k := range []string{"id", "meta"} {
		remove(doc, k)
	}
	normalize(doc)
	if err := checkTypes(doc); err != nil {
		return nil, err
	}
	if strings.TrimSpace(str(doc, "displayName")) == "" {
		return nil, badValue(`"displayName" is required`)
	}
	var ids []string
	for _, m := range list(doc, "members") {
		v := str(m.(map[string]any), "value")
		if v == "" {
			return nil, badValue(`every member needs a "value" (the member's id)`)
		}
		if !slices.Contains(ids, v) {
			ids = append(ids, v)
		}
	}
	remove(doc, "members")
	return ids, nil
}

// checkMembers refuses members that are not served users of the source.
func (t *txn) checkMembers(ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	es, err := t.tx.GetDirectoryEntries(t.ctx, t.src.dir, ids)
	if err != nil {
		return fmt.Errorf("scim %s: members: %w", t.src.Name, err)
	}
	ok := map[string]bool{}
	for _, e := range es {
		if e.Kind == store.EntryUser && len(e.Attributes[attrDeleted]) == 0 {
			ok[e.Anchor] = true
		}
	}
	for _, id := range ids {
		if !ok[id] {
			return badValue("member %q is not a user of this source (nested groups are not supported)", id)
		}
	}
	return nil
}

// uniqueGroup refuses a displayName (without case) another group holds.
func uniqueGroup(existing []resource, name, self string) error {
	for _, e := range existing {
		if e.id() != self && strings.EqualFold(str(e.doc, "displayName"), name) {
			return errorf(http.StatusConflict, typeUniqueness, "displayName %q exists (id %s)", name, e.id())
		}
	}
	return nil
}

func (s *Server) getGroup(ctx context.Context, rq *request) (int, any, error) {
	r, err := get(ctx, s.st, rq.src, store.EntryGroup, rq.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	q := rq.URL.Query()
	out := render(r, rq.base)
	if !splitList(first(q, "excludedAttributes"))["members"] {
		if err := s.withMembers(ctx, rq, []resource{r}, []object{out}); err != nil {
			return 0, nil, err
		}
	}
	return http.StatusOK, project(out, q), nil
}

// withMembers adds "members" (value, display, $ref) to rendered groups;
// outs[i] is rs[i] rendered.
func (s *Server) withMembers(ctx context.Context, rq *request, rs []resource, outs []object) error {
	if len(outs) != len(rs) {
		return fmt.Errorf("scim %s: members: %d groups, %d rendered", rq.src.Name, len(rs), len(outs))
	}
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.entry.Groups...)
	}
	names := map[string]string{}
	if len(ids) > 0 {
		es, err := s.st.GetDirectoryEntries(ctx, rq.src.dir, ids)
		if err != nil {
			return fmt.Errorf("scim %s: members: %w", rq.src.Name, err)
		}
		for _, e := range es {
			names[e.Anchor] = e.Name
		}
	}
	for i, out := range outs {
		l := make([]any, 0, len(rs[i].entry.Groups))
		for _, id := range rs[i].entry.Groups {
			l = append(l, object{"value": id, "display": names[id], "$ref": rq.base + "/Users/" + id})
		}
		out["members"] = l
	}
	return nil
}

func (s *Server) listGroups(ctx context.Context, rq *request) (int, any, error) {
	q := rq.URL.Query()
	f, start, count, err := listQuery(rq)
	if err != nil {
		return 0, nil, err
	}
	rs, err := all(ctx, s.st, rq.src, store.EntryGroup)
	if err != nil {
		return 0, nil, err
	}
	var hits []resource
	var outs []object
	for _, r := range rs {
		out := render(r, rq.base)
		members := make([]any, len(r.entry.Groups))
		for i, id := range r.entry.Groups {
			members[i] = object{"value": id}
		}
		out["members"] = members
		if matches(f, out) {
			hits, outs = append(hits, r), append(outs, out)
		}
	}
	from, to := slice(len(hits), start, count)
	pgR, pgO := hits[from:to], outs[from:to]
	if !splitList(first(q, "excludedAttributes"))["members"] {
		if err := s.withMembers(ctx, rq, pgR, pgO); err != nil {
			return 0, nil, err
		}
	}
	res := make([]any, len(pgO))
	for i, o := range pgO {
		res[i] = project(o, q)
	}
	return http.StatusOK, listResponse(res, len(hits), start), nil
}

func (s *Server) createGroup(ctx context.Context, rq *request) (int, any, error) {
	doc, err := decodeResource(rq.body)
	if err != nil {
		return 0, nil, err
	}
	ids, err := prepareGroup(doc)
	if err != nil {
		return 0, nil, err
	}
	var out resource
	err = s.write(ctx, rq, func(t *txn) error {
		existing, err := all(ctx, t.tx, t.src, store.EntryGroup)
		if err != nil {
			return err
		}
		if err := uniqueGroup(existing, str(doc, "displayName"), ""); err != nil {
			return err
		}
		if err := t.checkMembers(ids); err != nil {
			return err
		}
		stamp(doc, store.EntryGroup, "", t.now)
		r := resource{doc: doc, entry: store.DirectoryEntry{Directory: t.src.dir, Anchor: uuid.NewString(),
			Kind: store.EntryGroup, Name: str(doc, "displayName"), Groups: ids}}
		if err := t.putEntry(&r); err != nil {
			return err
		}
		if err := t.remap(ids); err != nil {
			return err
		}
		out = r
		return t.audit(ActionGroupCreate, r.entry.Name, map[string]any{"scim_id": r.id(),
			"external_id": str(doc, "externalId"), "members": len(ids)})
	})
	if err != nil {
		return 0, nil, err
	}
	rendered := render(out, rq.base)
	if err := s.withMembers(ctx, rq, []resource{out}, []object{rendered}); err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, rendered, nil
}

func (s *Server) replaceGroup(ctx context.Context, rq *request) (int, any, error) {
	doc, err := decodeResource(rq.body)
	if err != nil {
		return 0, nil, err
	}
	if id := str(doc, "id"); id != "" && id != rq.PathValue("id") {
		return 0, nil, errorf(http.StatusBadRequest, typeMutability, "id %q does not match the URL's %q", id, rq.PathValue("id"))
	}
	ids, err := prepareGroup(doc)
	if err != nil {
		return 0, nil, err
	}
	return s.updateGroup(ctx, rq, true, func(object) (object, []string, error) { return doc, ids, nil })
}

func (s *Server) patchGroup(ctx context.Context, rq *request) (int, any, error) {
	req, err := decodePatch(rq.body)
	if err != nil {
		return 0, nil, err
	}
	return s.updateGroup(ctx, rq, false, func(cur object) (object, []string, error) {
		if err := applyPatch(cur, req.Operations); err != nil {
			return nil, nil, err
		}
		ids, err := prepareGroup(cur)
		return cur, ids, err
	})
}

// updateGroup replaces a group by what next makes of it (its document
// with "members" and "id" filled in), remaps the members who joined or
// left (every member when the name changed, as rules match names). A PUT
// is answered with the group (RFC 7644 section 3.5.1); a PATCH with 204,
// so a large group's member list is not sent back on every change.
func (s *Server) updateGroup(ctx context.Context, rq *request, withBody bool, next func(object) (object, []string, error)) (int, any, error) {
	var out resource
	err := s.write(ctx, rq, func(t *txn) error {
		r, err := get(ctx, t.tx, t.src, store.EntryGroup, rq.PathValue("id"))
		if err != nil {
			return err
		}
		cur := clone(r.doc).(map[string]any)
		cur["id"] = r.id()
		members := make([]any, len(r.entry.Groups))
		for i, id := range r.entry.Groups {
			members[i] = object{"value": id}
		}
		cur["members"] = members
		doc, ids, err := next(cur)
		if err != nil {
			return err
		}
		added, removed := diffIDs(r.entry.Groups, ids)
		if err := t.checkMembers(added); err != nil {
			return err
		}
		renamed := str(doc, "displayName") != r.entry.Name
		if renamed {
			existing, err := all(ctx, t.tx, t.src, store.EntryGroup)
			if err != nil {
				return err
			}
			if err := uniqueGroup(existing, str(doc, "displayName"), r.id()); err != nil {
				return err
			}
		}
		affected := append(append([]string(nil), added...), removed...)
		if renamed {
			affected = append(slices.Clone(ids), removed...)
		}
		stamp(doc, store.EntryGroup, created(r.doc), t.now)
		oldName := r.entry.Name
		r.doc, r.entry.Groups, r.entry.Name = doc, ids, str(doc, "displayName")
		if err := t.putEntry(&r); err != nil {
			return err
		}
		if err := t.remap(affected); err != nil {
			return err
		}
		details := map[string]any{"scim_id": r.id(), "added": added, "removed": removed}
		if renamed {
			details["renamed_from"] = oldName
		}
		out = r
		return t.audit(ActionGroupUpdate, r.entry.Name, details)
	})
	if err != nil {
		return 0, nil, err
	}
	if !withBody {
		return http.StatusNoContent, nil, nil
	}
	rendered := render(out, rq.base)
	if err := s.withMembers(ctx, rq, []resource{out}, []object{rendered}); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, rendered, nil
}

func (s *Server) deleteGroup(ctx context.Context, rq *request) (int, any, error) {
	err := s.write(ctx, rq, func(t *txn) error {
		r, err := get(ctx, t.tx, t.src, store.EntryGroup, rq.PathValue("id"))
		if err != nil {
			return err
		}
		if err := t.tx.DeleteDirectoryEntry(ctx, t.src.dir, r.id()); err != nil {
			return fmt.Errorf("scim %s: delete group %s: %w", t.src.Name, r.id(), err)
		}
		if err := t.remap(r.entry.Groups); err != nil {
			return err
		}
		return t.audit(ActionGroupDelete, r.entry.Name, map[string]any{"scim_id": r.id(), "members": len(r.entry.Groups)})
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

// diffIDs returns the ids in b not in a (added) and in a not in b (removed).
func diffIDs(a, b []string) (added, removed []string) {
	for _, id := range b {
		if !slices.Contains(a, id) {
			added = append(added, id)
		}
	}
	for _, id := range a {
		if !slices.Contains(b, id) {
			removed = append(removed, id)
		}
	}
	return added, removed
}
