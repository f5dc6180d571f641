package console_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// groupDirectory is corp's groups for the console's tests; down makes
// every search fail as an unreachable directory does.
type groupDirectory struct {
	groups []admin.FoundGroup
	down   bool
}

func (g *groupDirectory) SearchGroups(_ context.Context, search string) ([]admin.FoundGroup, error) {
	if g.down {
		return nil, fmt.Errorf("ldap corp: list groups: no directory server answered (1 tried): %w", directory.ErrUnavailable)
	}
	var out []admin.FoundGroup
	for _, x := range g.groups {
		if strings.Contains(strings.ToLower(x.Name), strings.ToLower(search)) {
			out = append(out, x)
		}
	}
	return out, nil
}

func (g *groupDirectory) FindGroup(_ context.Context, ref string) (admin.FoundGroup, error) {
	for _, x := range g.groups {
		if x.Anchor == ref {
			return x, nil
		}
	}
	return admin.FoundGroup{}, directory.ErrGroupNotFound
}

// On the directories page an administrator sees the imported groups with
// their origin, searches the directory, imports a group and removes it;
// a directory that cannot be reached is said next to the search field.
func TestImportGroupsOnTheDirectoriesPage(t *testing.T) {
	dir := &groupDirectory{groups: []admin.FoundGroup{
		{Name: "CC-Agents", DN: "cn=CC-Agents,ou=Groups,dc=example,dc=test", Anchor: "a-agents", MemberCount: 12},
		{Name: "Sales EMEA", DN: "cn=Sales EMEA,ou=Groups,dc=example,dc=test", Anchor: "a-sales", MemberCount: 1234},
	}}
	e := newEnvAPI(t, func(o *admin.Options) {
		o.Groups = map[string]admin.DirectoryGroups{"corp": {Configured: []string{"CC-Agents"}, Finder: dir}}
	})
	root := e.signIn("root")
	body := root.page("/admin/directories", 200)
	if !strings.Contains(body, `id="groups-corp"`) || !strings.Contains(body, "CC-Agents") || !strings.Contains(body, "config file") {
		t.Fatalf("directories page without a search:\n%s", body)
	}

	body = root.page("/admin/directories?dir=corp&search=sales", 200)
	if !strings.Contains(body, "Sales EMEA") || !strings.Contains(body, "1,234") || !strings.Contains(body, `aria-label="Import Sales EMEA"`) {
		t.Fatalf("search results:\n%s", body)
	}
	res, _ := root.post("/admin/directories", "/admin/directories/corp/groups/import", url.Values{"group": {"a-sales"}, "search": {"sales"}})
	if loc := res.Header.Get("Location"); res.StatusCode != 303 || loc != "/admin/directories?dir=corp&done=group-added&search=sales#groups-corp" {
		t.Fatalf("import: %d to %q", res.StatusCode, loc)
	}
	body = root.page("/admin/directories?dir=corp&done=group-added&search=sales", 200)
	if !strings.Contains(body, "Group chosen for import") || !strings.Contains(body, "chosen here") ||
		!strings.Contains(body, "imported (chosen here)") || !strings.Contains(body, `aria-label="Stop importing Sales EMEA"`) {
		t.Fatalf("after the import:\n%s", body)
	}
	if ev := e.audit("import_group.add"); len(ev) != 1 || ev[0].Actor != "root" {
		t.Fatalf("import audit = %+v", ev)
	}

	// Importing it again is refused, on the page.
	res, body = root.post("/admin/directories", "/admin/directories/corp/groups/import", url.Values{"group": {"a-sales"}})
	if res.StatusCode != 409 || !strings.Contains(body, "imported already") {
		t.Fatalf("second import: %d\n%s", res.StatusCode, body)
	}
	res, _ = root.post("/admin/directories", "/admin/directories/corp/groups/remove", url.Values{"group": {"a-sales"}})
	if res.StatusCode != 303 {
		t.Fatalf("remove: %d", res.StatusCode)
	}
	if body = root.page("/admin/directories", 200); strings.Contains(body, "Sales EMEA") {
		t.Fatalf("after the removal:\n%s", body)
	}

	dir.down = true
	body = root.page("/admin/directories?dir=corp&search=x", 200)
	if !strings.Contains(body, `id="search-error-corp" role="alert">directory corp could not be reached`) || !strings.Contains(body, `aria-invalid="true"`) {
		t.Fatalf("search while the directory is down:\n%s", body)
	}
}
