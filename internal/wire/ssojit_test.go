package wire

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/sso"
	"github.com/dirbridge/dirbridge/store/sqlite"
)

func TestJITMapsGroupsAndRefusesTheUnknown(t *testing.T) {
	cfg := loadYAML(t, `profiles:
  - {name: Agent, privileges: []}
  - {name: Supervisor, privileges: []}
directories:
  - {name: corp, kind: ad, urls: [ldaps://dc1.example.test], bind_dn: svc@example.test, bind_password: pw, base_dn: "DC=example,DC=test", groups: [A]}
mapping:
  rules:
    - {group: corp-only, directory: corp, profile: Supervisor}
    - {group: 0b6f3c3e-1a5d-4f4e-9c8a-6f1d2e3a4b5c, profile: Agent, units: [Floor 1]}
`)
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	j, err := NewJIT(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	u, err := j.Provision(ctx, sso.Identity{Method: "oidc", UPN: "ann@contoso.test", Email: "ann@contoso.test",
		Groups: []string{"0B6F3C3E-1A5D-4F4E-9C8A-6F1D2E3A4B5C", "corp-only"}})
	if err != nil || u.ID == "" || u.Username != "ann@contoso.test" || u.Profile != "Agent" || len(u.Units) != 1 || u.Source != "local" {
		t.Fatalf("provisioned %+v %v", u, err)
	}
	for _, c := range []struct {
		id   sso.Identity
		want string
	}{
		{sso.Identity{UPN: "bob@contoso.test", GroupsOverage: true}, "overage"},
		{sso.Identity{UPN: "bob@contoso.test", Groups: []string{"corp-only"}}, "no mapping rule matched"},
		{sso.Identity{Groups: []string{"0b6f3c3e-1a5d-4f4e-9c8a-6f1d2e3a4b5c"}}, "no name"},
		{sso.Identity{UPN: "ann@contoso.test", Groups: []string{"0b6f3c3e-1a5d-4f4e-9c8a-6f1d2e3a4b5c"}}, "create user"},
	} {
		if _, err := j.Provision(ctx, c.id); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.id, err, c.want)
		}
	}
}
