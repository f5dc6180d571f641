package admin_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// fakeFinder is a directory's groups; err, when set, is every answer.
type fakeFinder struct {
	groups []admin.FoundGroup
	err    error
}

func (f *fakeFinder) SearchGroups(_ context.Context, search string) ([]admin.FoundGroup, error) {
	if f.err != nil {
		return nil, f.err
	}
	var out []admin.FoundGroup
	for _, g := range f.groups {
		if strings.Contains(strings.ToLower(g.Name), strings.ToLower(search)) {
			out = append(out, g)
		}
	}
	return out, nil
}

func (f *fakeFinder) FindGroup(_ context.Context, ref string) (admin.FoundGroup, error) {
	if f.err != nil {
		return admin.FoundGroup{}, f.err
	}
	var out []admin.FoundGroup
	for _, g := range f.groups {
		if strings.EqualFold(ref, g.Name) || strings.EqualFold(ref, g.DN) || strings.EqualFold(ref, g.Anchor) {
			out = append(out, g)
		}
	}
	switch len(out) {
	case 0:
		return admin.FoundGroup{}, fmt.Errorf("ldap corp: find group: group %q: %w", ref, directory.ErrGroupNotFound)
	case 1:
		return out[0], nil
	}
	return admin.FoundGroup{}, fmt.Errorf("ldap corp: find group: group %q: %w", ref, directory.ErrGroupAmbiguous)
}

var (
	agentsGroup = admin.FoundGroup{Name: "CC-Agents", DN: "cn=CC-Agents,ou=Groups,dc=example,dc=test", Anchor: "a-agents", MemberCount: 12}
	salesGroup  = admin.FoundGroup{Name: "Sales", DN: "cn=Sales,ou=Groups,dc=example,dc=test", Anchor: "a-sales", MemberCount: 3}
	supGroup    = admin.FoundGroup{Name: "Supervisors", DN: "cn=Supervisors,ou=Groups,dc=example,dc=test", Anchor: "a-sup", MemberCount: 2}
)

// importEnv is the standard env with corp's groups: CC-Agents (by name)
// and Supervisors (by DN) in the config, CC-Agents imported by a sync.
func importEnv(t *testing.T, f *fakeFinder) *env {
	t.Helper()
	e := newEnvWith(t, func(o *admin.Options) {
		o.Groups = map[string]admin.DirectoryGroups{"corp": {Configured: []string{"CC-Agents", strings.ToUpper(supGroup.DN)}, Finder: f}}
	})
	ctx := context.Background()
	err := e.st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.PutDirectoryEntries(ctx, []store.DirectoryEntry{{Directory: "corp", Anchor: agentsGroup.Anchor,
			Kind: store.EntryGroup, DN: agentsGroup.DN, Name: agentsGroup.Name}}); err != nil {
			return err
		}
		return tx.PutProfile(ctx, store.Profile{Name: "TeamSync", Privileges: []string{"trigger_sync"},
			Scopes: map[string]store.Scope{"trigger_sync": {Kind: store.ScopeOwnTeams}}})
	})
	if err != nil {
		t.Fatal(err)
	}
	e.user("tess", "TeamSync", false)
	return e
}

func TestImportGroupsLifecycle(t *testing.T) {
	f := &fakeFinder{groups: []admin.FoundGroup{agentsGroup, salesGroup, supGroup}}
	e := importEnv(t, f)
	tok := e.token("alice")
	const path = "/api/v1/directories/corp/import-groups"

	var list admin.ImportGroupList
	e.do("GET", path, tok, nil, 200, &list)
	if len(list.Items) != 2 || list.Items[0].Anchor != "a-agents" || list.Items[0].Origin != admin.OriginConfig ||
		list.Items[1].Anchor != "" || list.Items[1].Origin != admin.OriginConfig {
		t.Fatalf("config groups = %+v", list.Items)
	}

	var added admin.ImportGroup
	e.do("POST", path, tok, admin.ImportGroupInput{Group: " sales "}, 201, &added)
	if added.Anchor != "a-sales" || added.DN != salesGroup.DN || added.Origin != admin.OriginStore || added.AddedBy != "alice" || added.AddedAt == nil {
		t.Fatalf("added = %+v", added)
	}
	ev := e.audit("import_group.add")
	if len(ev) != 1 || ev[0].Target != "directory:corp" || ev[0].Outcome != store.OutcomeSuccess || ev[0].Details["anchor"] != "a-sales" {
		t.Fatalf("add audit = %+v", ev)
	}
	e.do("GET", path, tok, nil, 200, &list)
	if len(list.Items) != 3 || list.Items[2].Anchor != "a-sales" || list.Items[2].Origin != admin.OriginStore {
		t.Fatalf("groups after the add = %+v", list.Items)
	}

	var found admin.FoundGroupList
	e.do("GET", "/api/v1/directories/corp/groups", tok, nil, 200, &found)
	origins := map[string]string{}
	for _, g := range found.Items {
		origins[g.Name] = g.Origin
	}
	if len(found.Items) != 3 || found.More || origins["CC-Agents"] != "config" || origins["Supervisors"] != "config" || origins["Sales"] != "store" {
		t.Fatalf("search = %+v", found)
	}
	e.do("GET", "/api/v1/directories/corp/groups?search=sal&limit=1", tok, nil, 200, &found)
	if len(found.Items) != 1 || found.Items[0].MemberCount != 3 || found.More {
		t.Fatalf("search sal = %+v", found)
	}
	e.do("GET", "/api/v1/directories/corp/groups?limit=2", tok, nil, 200, &found)
	if len(found.Items) != 2 || !found.More {
		t.Fatalf("search cut at 2 = %+v", found)
	}

	// A config group named by its DN is found case-insensitively.
	e.do("POST", path, tok, admin.ImportGroupInput{Group: "a-sup"}, 409, nil)
	r := e.do("DELETE", path+"/a-agents", tok, nil, 409, nil)
	if er := r.err(); er.Code != admin.CodeConfigManaged || !strings.Contains(er.Message, "edit the config") {
		t.Fatalf("removing a config group: %+v", er)
	}
	e.do("DELETE", path+"/a-sales", tok, nil, 204, nil)
	e.do("DELETE", path+"/a-sales", tok, nil, 404, nil)
	if ev := e.audit("import_group.remove"); len(ev) != 3 || ev[0].Outcome != store.OutcomeFailure || ev[1].Outcome != store.OutcomeSuccess {
		t.Fatalf("remove audit = %+v", ev)
	}
	e.do("GET", path, tok, nil, 200, &list)
	if len(list.Items) != 2 {
		t.Fatalf("groups after the remove = %+v", list.Items)
	}
}

func TestImportGroupsErrors(t *testing.T) {
	down := fmt.Errorf("ldap corp: list groups: ldaps://dc1: dial tcp: connection refused: %w", directory.ErrUnavailable)
	refused := fmt.Errorf("ldap corp: bind as cn=svc: %w", directory.ErrBindRefused)
	tests := []struct {
		name         string
		finderErr    error
		user         string
		method, path string
		in           any
		status       int
		code, field  string
		message      string
	}{
		{"unknown directory search", nil, "alice", "GET", "/api/v1/directories/lab/groups", nil, 404, admin.CodeNotFound, "", `directory "lab"`},
		{"unknown directory list", nil, "alice", "GET", "/api/v1/directories/lab/import-groups", nil, 404, admin.CodeNotFound, "", ""},
		{"unknown directory add", nil, "alice", "POST", "/api/v1/directories/lab/import-groups", admin.ImportGroupInput{Group: "Sales"}, 404, admin.CodeNotFound, "", ""},
		{"unknown directory remove", nil, "alice", "DELETE", "/api/v1/directories/lab/import-groups/a-sales", nil, 404, admin.CodeNotFound, "", ""},
		{"directory down search", down, "alice", "GET", "/api/v1/directories/corp/groups?search=x", nil, 503, admin.CodeUnavailable, "", "could not be reached: ldap corp: list groups: ldaps://dc1"},
		{"directory down add", down, "alice", "POST", "/api/v1/directories/corp/import-groups", admin.ImportGroupInput{Group: "Sales"}, 503, admin.CodeUnavailable, "", "connection refused"},
		{"bind refused", refused, "alice", "GET", "/api/v1/directories/corp/groups", nil, 503, admin.CodeUnavailable, "", "refused the service account's bind"},
		{"no such group", nil, "alice", "POST", "/api/v1/directories/corp/import-groups", admin.ImportGroupInput{Group: "Nope"}, 422, admin.CodeInvalidField, "group", "group not found"},
		{"ambiguous group", nil, "alice", "POST", "/api/v1/directories/corp/import-groups", admin.ImportGroupInput{Group: "Twin"}, 422, admin.CodeInvalidField, "group", "ambiguous"},
		{"empty group", nil, "alice", "POST", "/api/v1/directories/corp/import-groups", admin.ImportGroupInput{}, 400, admin.CodeInvalidField, "group", "required"},
		{"bad limit", nil, "alice", "GET", "/api/v1/directories/corp/groups?limit=5000", nil, 400, admin.CodeInvalidField, "limit", ""},
		{"user admin may read", nil, "uma", "GET", "/api/v1/directories/corp/import-groups", nil, 200, "", "", ""},
		{"user admin may not add", nil, "uma", "POST", "/api/v1/directories/corp/import-groups", admin.ImportGroupInput{Group: "Sales"}, 403, admin.CodeForbidden, "", ""},
		{"team sync admin may not add", nil, "tess", "POST", "/api/v1/directories/corp/import-groups", admin.ImportGroupInput{Group: "Sales"}, 403, admin.CodeForbidden, "", "over everyone"},
		{"team sync admin may not remove", nil, "tess", "DELETE", "/api/v1/directories/corp/import-groups/a-sales", nil, 403, admin.CodeForbidden, "", ""},
		{"no privilege", nil, "pete", "GET", "/api/v1/directories/corp/groups", nil, 403, admin.CodeForbidden, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			twin := admin.FoundGroup{Name: "Twin", DN: "cn=Twin,ou=A", Anchor: "a-twin-1"}
			twin2 := admin.FoundGroup{Name: "Twin", DN: "cn=Twin,ou=B", Anchor: "a-twin-2"}
			e := importEnv(t, &fakeFinder{groups: []admin.FoundGroup{agentsGroup, salesGroup, twin, twin2}, err: tc.finderErr})
			r := e.do(tc.method, tc.path, e.token(tc.user), tc.in, tc.status, nil)
			if tc.status < 400 {
				return
			}
			er := r.err()
			if er.Code != tc.code || er.Field != tc.field || !strings.Contains(er.Message, tc.message) {
				t.Fatalf("error = %+v, want code %s, field %q, message containing %q", er, tc.code, tc.field, tc.message)
			}
		})
	}
}
