package ldap

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/dirbridge/dirbridge/sync/directory"
)

// TestSlapdPasswordOpsBoundToAnchor: a name deleted and reused by a new
// entry (a new entryUUID) is not the imported account any more: sign-in,
// change and reset for the old anchor all refuse, and the new object is
// reachable only with its own anchor.
func TestSlapdPasswordOpsBoundToAnchor(t *testing.T) {
	s := sharedSlapd(t)
	ou := s.AddOU(t, "anchor")
	entry := func(pw string) string {
		return fmt.Sprintf("dn: uid=an-reused,%s\nobjectClass: inetOrgPerson\nuid: an-reused\ncn: an-reused\nsn: Anchor\nuserPassword: %s\n\n", ou, pw)
	}
	s.Add(t, entry("first-Passw0rd"))
	ctx := context.Background()
	src := newSource(t, slapdConfig(t, s))
	first, err := src.Authenticate(ctx, directory.Account{Login: "an-reused"}, "first-Passw0rd")
	if err != nil {
		t.Fatal(err)
	}
	old := directory.Account{Login: "an-reused", Anchor: first.Anchor}
	if _, err := src.Authenticate(ctx, old, "first-Passw0rd"); err != nil {
		t.Fatalf("right anchor: %v", err)
	}

	// The entry goes; another object takes the name.
	s.Modify(t, fmt.Sprintf("dn: uid=an-reused,%s\nchangetype: delete\n\n", ou))
	s.Add(t, entry("second-Passw0rd"))

	if _, err := src.Authenticate(ctx, old, "second-Passw0rd"); !errors.Is(err, directory.ErrInvalidCredentials) {
		t.Fatalf("sign-in with the old anchor bound the new object: %v", err)
	}
	if err := src.ChangePassword(ctx, old, "second-Passw0rd", "third-Passw0rd"); !errors.Is(err, directory.ErrInvalidCredentials) {
		t.Fatalf("change with the old anchor: %v", err)
	}
	if err := src.ResetPassword(ctx, old, "Reset-Passw0rd9", false); !errors.Is(err, directory.ErrNoSuchUser) {
		t.Fatalf("reset with the old anchor: %v, want directory.ErrNoSuchUser", err)
	}
	second, err := src.Authenticate(ctx, directory.Account{Login: "an-reused"}, "second-Passw0rd")
	if err != nil || second.Anchor == first.Anchor {
		t.Fatalf("new object: %+v %v", second, err)
	}
	if _, err := src.Authenticate(ctx, directory.Account{Login: "an-reused", Anchor: second.Anchor}, "second-Passw0rd"); err != nil {
		t.Fatalf("new object with its own anchor: %v", err)
	}

	// The live-state look-up (certificate sign-in) is bound the same way.
	if _, err := src.LookupAccount(ctx, old); !errors.Is(err, directory.ErrNoSuchUser) {
		t.Fatalf("LookupAccount with the old anchor: %v, want directory.ErrNoSuchUser", err)
	}
	u, err := src.LookupAccount(ctx, directory.Account{Login: "an-reused", Anchor: second.Anchor})
	if err != nil || u.Anchor != second.Anchor || u.Disabled || u.Attributes != nil {
		t.Fatalf("LookupAccount with the new anchor: %+v %v", u, err)
	}
	s.Modify(t, fmt.Sprintf("dn: uid=an-reused,%s\nchangetype: modify\nreplace: employeeType\nemployeeType: disabled\n", ou))
	if u, err := src.LookupAccount(ctx, directory.Account{Login: "an-reused", Anchor: second.Anchor}); err != nil || !u.Disabled {
		t.Fatalf("LookupAccount of a disabled account: %+v %v", u, err)
	}
}
