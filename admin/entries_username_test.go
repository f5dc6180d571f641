package admin_test

import (
	"context"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/sso/policy"
)

// A username the user template builds is held to policy.username like any
// other local username dirbridge chooses.
func TestCreateFromEntriesEnforcesUsernamePolicy(t *testing.T) {
	e := entriesEnv(t, func(o *admin.Options) { o.Usernames = policy.UsernamePolicy{MinLength: 4} })
	var res admin.CreateEntriesResult
	e.do("POST", "/api/v1/directories/corp/entries/create", e.token("root"),
		admin.CreateEntriesRequest{Anchors: []string{"u-ann"}}, 200, &res)
	got := byAnchor(res)
	if got["u-ann"].Code != admin.RefusedUsernamePolicy || !strings.Contains(got["u-ann"].Message, "at least 4 characters") {
		t.Fatalf("ann (3 characters): %+v", got["u-ann"])
	}
	if _, err := e.st.GetUserByUsername(context.Background(), "ann"); err == nil {
		t.Fatal("ann was created")
	}
}
