package ldap

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/sync/directory"
)

func TestSplitSID(t *testing.T) {
	// S-1-5-21-1-2-3-1105
	b := []byte{1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0x51, 0x04, 0, 0}
	domain, rid, err := splitSID(b)
	if err != nil || domain != "S-1-5-21-1-2-3" || rid != 1105 {
		t.Fatalf("splitSID = %q %d %v", domain, rid, err)
	}
	if _, _, err := splitSID([]byte{1, 0, 0, 0, 0, 0, 0, 5}); err == nil {
		t.Error("a SID without sub-authorities has no RID")
	}
	if _, _, err := splitSID(b[:10]); err == nil {
		t.Error("a truncated SID was accepted")
	}
}

// Users whose primary group is an imported group (or a group nested in
// one) are its members, although AD lists them in neither the group's
// member nor their memberOf.
func TestSambaPrimaryGroup(t *testing.T) {
	s := sharedSamba(t)
	ctx := context.Background()
	ou := s.AddOU(t, "dirbridge-primary")
	u := func(name string) string {
		return s.AddUser(t, ou, harness.SambaUser{Name: name, Password: adPassword})
	}
	p1, p2, p3 := u("prim1"), u("prim2"), u("prim3")
	pg := s.AddGroup(t, ou, "prim-group", p1, p2)
	outer := s.AddGroup(t, ou, "prim-outer", pg)
	s.SetPrimaryGroup(t, p1, pg)
	// As on Windows: the primary membership is implicit from now on.
	if e, err := (&searcher{s: newSource(t, sambaConfig(t, s)), c: s.Admin(t)}).base(ctx, pg, []string{"member"}); err != nil ||
		len(e.GetAttributeValues("member")) != 1 {
		t.Fatalf("prim-group's member after the primary group change: %v %v", e, err)
	}
	// The listing counts prim1 too; Domain Users holds every user.
	gs, err := newSource(t, sambaConfig(t, s)).ListGroups(ctx, "prim-group")
	if err != nil || len(gs) != 1 || gs[0].MemberCount != 2 {
		t.Fatalf("ListGroups(prim-group) = %+v, %v; want 2 members", gs, err)
	}
	gs, err = newSource(t, sambaConfig(t, s)).ListGroups(ctx, "Domain Users")
	if err != nil || len(gs) != 1 || gs[0].MemberCount < 4 {
		t.Fatalf("ListGroups(Domain Users) = %+v, %v", gs, err)
	}
	t.Logf("Domain Users listed with %d members", gs[0].MemberCount)

	for _, few := range []int{50, 0} {
		t.Run(fmt.Sprintf("fewGroups=%d", few), func(t *testing.T) {
			src := newSource(t, sambaConfig(t, s))
			src.fewGroups = few
			snap := read(t, src, pg, outer)
			if got := usernames(snap.Users); !slices.Equal(got, []string{"prim1", "prim2"}) {
				t.Fatalf("users = %v, want prim1 (primary group) and prim2", got)
			}
			g, o := groupByName(t, snap, "prim-group"), groupByName(t, snap, "prim-outer")
			if len(g.Members) != 2 || len(o.Members) != 2 {
				t.Errorf("members: prim-group %d, prim-outer %d, want 2 each", len(g.Members), len(o.Members))
			}
			if got := userByName(t, snap, "prim1").Groups; !slices.Equal(got, []string{g.Anchor, o.Anchor}) {
				t.Errorf("prim1's groups = %v", got)
			}
		})
	}

	// Domain Users (RID 513) holds every user whose primary group it is:
	// prim2 and prim3 by primaryGroupID; prim1, whose primary group moved,
	// is listed in member (AD keeps the former primary group explicitly).
	cfg := sambaConfig(t, s)
	cfg.UserBaseDN = ou
	src := newSource(t, cfg)
	if got := usernames(read(t, src, "Domain Users").Users); !slices.Equal(got, []string{"prim1", "prim2", "prim3"}) {
		t.Fatalf("Domain Users under %s = %v", ou, got)
	}

	// Incremental: a group change re-reads the group with its primary
	// members; a user-only change carries the primary group in Groups.
	src = newSource(t, sambaConfig(t, s))
	first := read(t, src, pg)
	s.AddMembers(t, pg, p3)
	s.SetPrimaryGroup(t, p3, pg)
	inc, err := src.Read(ctx, directory.ReadRequest{Groups: []string{pg}, Cursor: first.Cursor})
	if err != nil {
		t.Fatal(err)
	}
	g := groupByName(t, inc, "prim-group")
	if inc.Complete || len(g.Members) != 3 {
		t.Fatalf("incremental after prim3's primary group change: complete=%v, %d members, users %v", inc.Complete, len(g.Members), usernames(inc.Users))
	}
	s.Replace(t, p1, "mail", "prim1-new@example.test")
	inc2, err := src.Read(ctx, directory.ReadRequest{Groups: []string{pg}, Cursor: inc.Cursor})
	if err != nil {
		t.Fatal(err)
	}
	if got := userByName(t, inc2, "prim1"); got.Email != "prim1-new@example.test" || !slices.Equal(got.Groups, []string{g.Anchor}) {
		t.Fatalf("user-only change of prim1: %+v", got)
	}
}

// With many groups in the closure, their SIDs come from one pass over the
// groups and the members from one pass over the users.
func TestSambaPrimaryGroupMany(t *testing.T) {
	s := sharedSamba(t)
	ou := s.AddOU(t, "dirbridge-primary-many")
	user := s.AddUser(t, ou, harness.SambaUser{Name: "primmany", Password: adPassword})
	n := max(maxSIDLookups, maxRIDFilter) + 5
	nested := make([]string, n)
	for i := range nested {
		nested[i] = s.AddGroup(t, ou, fmt.Sprintf("prim-many-%03d", i))
	}
	target := nested[n/2]
	s.AddMembers(t, target, user)
	s.SetPrimaryGroup(t, user, target)
	top := s.AddGroup(t, ou, "prim-many-top", nested...)
	for _, few := range []int{50, 0} {
		src := newSource(t, sambaConfig(t, s))
		src.fewGroups = few
		snap := read(t, src, top)
		if got := usernames(snap.Users); !slices.Equal(got, []string{"primmany"}) {
			t.Fatalf("fewGroups=%d: users = %v, want primmany (primary group nested %d groups in)", few, got, n)
		}
	}
}
