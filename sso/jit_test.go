package sso

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/sso/policy"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/sqlite"
)

func TestJITMapsGroupsAndRefusesTheUnknown(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rules := []mapping.Rule{{Ref: "rule 2", Group: "0b6f3c3e-1a5d-4f4e-9c8a-6f1d2e3a4b5c", Profile: "Agent", Units: []string{"Floor 1"}}}
	j, err := NewJIT(st, rules, policy.UsernamePolicy{MinLength: 3, MinOther: 1})
	if err != nil {
		t.Fatal(err)
	}
	agents := []string{"0B6F3C3E-1A5D-4F4E-9C8A-6F1D2E3A4B5C", "corp-only"}
	u, err := j.Provision(ctx, Identity{Method: "oidc", UPN: "ann@contoso.test", Email: "ann@contoso.test", EmailVerified: true, Groups: agents})
	if err != nil || u.ID == "" || u.Username != "ann@contoso.test" || u.Email != "ann@contoso.test" || u.Profile != "Agent" || len(u.Units) != 1 || u.Source != store.SourceIdP {
		t.Fatalf("provisioned %+v %v", u, err)
	}
	// An address the IdP does not vouch for is neither stored nor used as
	// the username.
	u, err = j.Provision(ctx, Identity{Method: "oidc", Username: "carl.k", Email: "ann@contoso.test", Groups: agents})
	if err != nil || u.Username != "carl.k" || u.Email != "" {
		t.Fatalf("unverified e-mail: %+v %v", u, err)
	}
	for _, c := range []struct {
		id   Identity
		want string
	}{
		{Identity{UPN: "bob@contoso.test", GroupsOverage: true}, "overage"},
		{Identity{UPN: "bob@contoso.test", Groups: []string{"corp-only"}}, "no mapping rule matched"},
		{Identity{Groups: agents}, "no name"},
		{Identity{Email: "dora@contoso.test", Groups: agents}, "no name"}, // unverified
		{Identity{UPN: "ann@contoso.test", Groups: agents}, "create user"},
		{Identity{Username: "bob", Groups: agents}, "breaks policy.username"}, // no character other than letters
		{Identity{Username: "b.o b", Groups: agents}, "spaces"},
	} {
		if _, err := j.Provision(ctx, c.id); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.id, err, c.want)
		}
	}
}
