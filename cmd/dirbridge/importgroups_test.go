package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// oneGroupFinder is a directory holding the group Sales only.
type oneGroupFinder struct{}

var salesFound = admin.FoundGroup{Name: "Sales", DN: "cn=Sales,ou=Groups,dc=example,dc=test", Anchor: "a-sales", MemberCount: 3}

func (oneGroupFinder) SearchGroups(context.Context, string) ([]admin.FoundGroup, error) {
	return []admin.FoundGroup{salesFound}, nil
}

func (oneGroupFinder) FindGroup(_ context.Context, ref string) (admin.FoundGroup, error) {
	if strings.EqualFold(ref, "Sales") {
		return salesFound, nil
	}
	return admin.FoundGroup{}, directory.ErrGroupNotFound
}

func TestImportGroupsCommands(t *testing.T) {
	st := openTestStore(t)
	a, err := admin.New(admin.Options{Store: st, Directories: []string{"corp"},
		Groups: map[string]admin.DirectoryGroups{"corp": {Configured: []string{"CC-Agents"}, Finder: oneGroupFinder{}}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := serveAPI(t, st, a).srv
	api := func(args ...string) (string, error) {
		t.Helper()
		out, _, err := run(t, append(append([]string{"directory", "import-groups"}, args...), "--server", srv.URL)...)
		return out, err
	}

	if out, err := api("search", "corp", "sal"); err != nil || !strings.Contains(out, "Sales") || !strings.Contains(out, "cn=Sales,ou=Groups") {
		t.Fatalf("search: %v\n%s", err, out)
	}
	if out, err := api("add", "corp", "Sales"); err != nil || !strings.Contains(out, "group Sales (cn=Sales,ou=Groups,dc=example,dc=test) is imported into corp") {
		t.Fatalf("add: %v\n%s", err, out)
	}
	out, err := api("list", "corp")
	if err != nil || !strings.Contains(out, "CC-Agents") || !strings.Contains(out, "config") ||
		!strings.Contains(out, "Sales") || !strings.Contains(out, "store") || !strings.Contains(out, "root") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if out, err := api("search", "corp", "--json"); err != nil || !strings.Contains(out, `"origin": "store"`) {
		t.Fatalf("search --json after the add: %v\n%s", err, out)
	}
	out, err = api("list", "corp", "--json")
	var list admin.ImportGroupList
	if err != nil || json.Unmarshal([]byte(out), &list) != nil || len(list.Items) != 2 || list.Items[1].Origin != "store" {
		t.Fatalf("list --json: %v\n%s", err, out)
	}
	if _, err := api("add", "corp", "Nope"); err == nil || !strings.Contains(err.Error(), "group not found") {
		t.Fatalf("add of a missing group: %v", err)
	}
	if _, err := api("remove", "corp", "CC-Agents"); err == nil || !strings.Contains(err.Error(), "edit the config") {
		t.Fatalf("remove of a config group: %v", err)
	}
	if out, err := api("remove", "corp", "sales"); err != nil || !strings.Contains(out, "no longer imported") {
		t.Fatalf("remove by name: %v\n%s", err, out)
	}
	if _, err := api("remove", "corp", "Sales"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("second remove: %v", err)
	}
	if _, err := api("list"); err == nil {
		t.Fatal("list without a directory succeeded")
	}
}
