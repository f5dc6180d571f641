package privilege

import (
	"slices"
	"testing"

	"github.com/dirbridge/dirbridge/store"
)

func TestSetOps(t *testing.T) {
	a := NewSet("c", "a", "b", "a", "")
	if !slices.Equal(a, Set{"a", "b", "c"}) {
		t.Fatalf("NewSet = %v", a)
	}
	b := NewSet("b", "d")
	for _, tc := range []struct {
		name string
		got  Set
		want Set
	}{
		{"union", a.Union(b), Set{"a", "b", "c", "d"}},
		{"intersect", a.Intersect(b), Set{"b"}},
		{"minus", a.Minus(b), Set{"a", "c"}},
		{"minus empty", Set{}.Minus(a), Set{}},
		{"union nil", Set(nil).Union(nil), Set{}},
	} {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if !a.Has("b") || a.Has("d") || Set(nil).Has("a") {
		t.Error("Has")
	}
	if !a.Contains(NewSet("a", "c")) || a.Contains(b) || !a.Contains(nil) {
		t.Error("Contains")
	}
	if !NewSet("x", "y").Equal(Set{"y", "x"}) || NewSet("x").Equal(NewSet("y")) {
		t.Error("Equal")
	}
	if a.String() != "a, b, c" {
		t.Errorf("String = %q", a.String())
	}
	// Operations never modify their receiver.
	before := slices.Clone(a)
	_ = a.Union(NewSet("0"))
	if !slices.Equal(a, before) {
		t.Error("Union modified its receiver")
	}
}

func TestBuiltIns(t *testing.T) {
	want := []string{BypassSSO, PrivilegedIPAccess, ManageUsers, ManageProfiles, TriggerSync, ViewAuditLog, GrantAll}
	for _, n := range want {
		if !IsBuiltIn(n) {
			t.Errorf("%s is not built in", n)
		}
	}
	for _, b := range BuiltIns() {
		if b.Group == "" || b.Description == "" || !b.BuiltIn {
			t.Errorf("incomplete built-in %+v", b)
		}
	}
	if IsBuiltIn("view_reports") {
		t.Error("view_reports is not built in")
	}
}

func TestCatalogue(t *testing.T) {
	c, err := NewCatalogue([]Info{{Name: "view_reports", Group: "Reports", Description: "See reports"}, {Name: "manage_billing", Group: "Billing"}})
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := c.Lookup("view_reports"); !ok || p.Group != "Reports" || p.BuiltIn {
		t.Errorf("Lookup(view_reports) = %+v, %v", p, ok)
	}
	if p, ok := c.Lookup(BypassSSO); !ok || !p.BuiltIn {
		t.Errorf("Lookup(bypass_sso) = %+v, %v", p, ok)
	}
	if _, ok := c.Lookup("nope"); ok {
		t.Error("Lookup(nope) found")
	}
	if got := c.Unknown(NewSet("view_reports", "fly", GrantAll)); !slices.Equal(got, Set{"fly"}) {
		t.Errorf("Unknown = %v", got)
	}
	if n := len(c.All()); n != len(BuiltIns())+2 {
		t.Errorf("All has %d", n)
	}
	groups, by := c.Grouped()
	if groups[len(groups)-1] != "Billing" || len(by["Reports"]) != 1 {
		t.Errorf("Grouped = %v %v", groups, by)
	}

	for _, bad := range [][]Info{
		{{Name: ""}},
		{{Name: BypassSSO}},
		{{Name: "x"}, {Name: "x"}},
	} {
		if _, err := NewCatalogue(bad); err == nil {
			t.Errorf("NewCatalogue(%v) succeeded", bad)
		}
	}
}

func TestEffective(t *testing.T) {
	cat, err := NewCatalogue([]Info{{Name: "view_reports"}})
	if err != nil {
		t.Fatal(err)
	}
	agent := &store.Profile{Name: "Agent", Privileges: []string{"view_reports", TriggerSync}}
	for _, tc := range []struct {
		name string
		user store.User
		prof *store.Profile
		want Set
	}{
		{"superuser holds everything", store.User{Superuser: true, Profile: "Agent"}, agent, cat.Names()},
		{"superuser without profile", store.User{Superuser: true}, nil, cat.Names()},
		{"custom replaces profile", store.User{Profile: "Agent", CustomPrivileges: []string{ManageUsers}}, agent, Set{ManageUsers}},
		{"empty custom set means none", store.User{Profile: "Agent", CustomPrivileges: []string{}}, agent, Set{}},
		{"profile", store.User{Profile: "Agent"}, agent, Set{TriggerSync, "view_reports"}},
		{"no profile", store.User{}, nil, Set{}},
		{"profile not loaded", store.User{Profile: "Agent"}, nil, Set{}},
		{"someone else's profile is ignored", store.User{Profile: "Viewer"}, agent, Set{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := cat.Effective(tc.user, tc.prof); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	if got := Effective(store.User{Superuser: true}, nil); !got.Has(GrantAll) || got.Has("view_reports") {
		t.Errorf("package Effective for superuser = %v", got)
	}
}

func TestCanGrant(t *testing.T) {
	for _, tc := range []struct {
		name           string
		holder, wanted Set
		missing        Set
	}{
		{"holds all wanted", NewSet(ManageUsers, ManageProfiles, BypassSSO), NewSet(BypassSSO), Set{}},
		{"lacks one", NewSet(ManageProfiles, TriggerSync), NewSet(TriggerSync, BypassSSO), Set{BypassSSO}},
		{"grant_all grants anything", NewSet(GrantAll), NewSet(BypassSSO, "view_reports"), Set{}},
		{"cannot grant grant_all without it", NewSet(ManageProfiles), NewSet(GrantAll), Set{GrantAll}},
		{"empty wanted", NewSet(), NewSet(), Set{}},
		{"unsorted input", Set{"b", "a"}, Set{"c", "a"}, Set{"c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := CanGrant(tc.holder, tc.wanted); !slices.Equal(got, tc.missing) {
				t.Errorf("got %v, want %v", got, tc.missing)
			}
		})
	}
}
