package admin_test

import (
	"context"
	"testing"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/scim"
	"github.com/dirbridge/dirbridge/store"
)

// TestProvisioningToken: a superuser, or manage_users over everyone with
// grant_all, issues a source's SCIM token (created, then rotated: the old
// hash is gone); manage_users alone is refused and audited; an unknown
// source is 404.
func TestProvisioningToken(t *testing.T) {
	e := newEnvWith(t, func(o *admin.Options) { o.Provisioning = []string{"entra"} })
	ctx := context.Background()
	hash := func() string {
		t.Helper()
		pt, err := e.st.GetProvisioningToken(ctx, "entra")
		if err != nil {
			t.Fatal(err)
		}
		return pt.Hash
	}
	const path = "/api/v1/provisioning/entra/token"

	var first admin.ProvisioningToken
	e.do("POST", path, e.token("root"), nil, 201, &first)
	if first.Source != "entra" || first.Token == "" || first.Rotated || hash() != scim.HashToken(first.Token) {
		t.Fatalf("first token: %+v (stored %s)", first, hash())
	}
	var second admin.ProvisioningToken
	e.do("POST", path, e.token("alice"), nil, 201, &second)
	if !second.Rotated || second.Token == first.Token || hash() != scim.HashToken(second.Token) {
		t.Fatalf("rotation: %+v", second)
	}
	if ev := e.audit("scim.token.rotate"); len(ev) != 1 || ev[0].Actor != "alice" || ev[0].Target != "scim:entra" ||
		ev[0].Outcome != store.OutcomeSuccess || ev[0].SourceIP == "" {
		t.Fatalf("rotation audit: %+v", ev)
	}
	if ev := e.audit("scim.token.create"); len(ev) != 1 || ev[0].Actor != "root" {
		t.Fatalf("creation audit: %+v", ev)
	}

	// uma holds manage_users without grant_all; pete not even that.
	for _, who := range []string{"uma", "pete"} {
		r := e.do("POST", path, e.token(who), nil, 403, nil)
		if r.err().Code != admin.CodeForbidden {
			t.Fatalf("%s: %+v", who, r.err())
		}
	}
	if hash() != scim.HashToken(second.Token) {
		t.Fatal("a refused call changed the token")
	}
	denied := 0
	for _, ev := range e.audit("scim.token.rotate") {
		if ev.Outcome == store.OutcomeDenied {
			denied++
		}
	}
	if denied != 2 {
		t.Fatalf("refusals audited %d times, want 2", denied)
	}

	// manage_users limited to a team, even with grant_all, is refused.
	err := e.st.Tx(ctx, func(tx store.Tx) error {
		return tx.PutProfile(ctx, store.Profile{Name: "TeamAdmins", Privileges: []string{"manage_users", "grant_all"},
			Scopes: map[string]store.Scope{"manage_users": {Kind: store.ScopeOwnTeams}}})
	})
	if err != nil {
		t.Fatal(err)
	}
	e.user("tess", "TeamAdmins", false)
	e.do("POST", path, e.token("tess"), nil, 403, nil)

	r := e.do("POST", "/api/v1/provisioning/okta/token", e.token("root"), nil, 404, nil)
	if r.err().Code != admin.CodeNotFound {
		t.Fatalf("unknown source: %+v", r.err())
	}
}
