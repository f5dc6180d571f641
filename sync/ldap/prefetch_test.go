package ldap

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/bench/ldapgen"
	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// With many imported groups the user pass runs beside the group pass and
// hands its users over in chunks as it goes. Over several chunks, with
// disabled users, nesting and a cycle (the generator's directory, small),
// that read must say what the group-by-group read says.
func TestSlapdPrefetchedReadMatchesGroupByGroup(t *testing.T) {
	ldif := filepath.Join(t.TempDir(), "gen.ldif")
	f, err := os.Create(ldif)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := ldapgen.Write(f, ldapgen.Options{Users: 3*prefetchChunk + 123, Groups: 400, LargeGroups: 2, LargeSize: 2000, Seed: 7})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	s := harness.StartSlapd(t, harness.SlapdOptions{LDIFFiles: []string{ldif}})

	prefetched := newSource(t, slapdConfig(t, s))
	if len(gen.Imported) <= prefetched.fewGroups {
		t.Fatalf("%d imported groups do not take the prefetch path (over %d)", len(gen.Imported), prefetched.fewGroups)
	}
	one := newSource(t, slapdConfig(t, s))
	one.fewGroups = len(gen.Imported) // resolve the groups one by one, no prefetch

	got, want := read(t, prefetched, gen.Imported...), read(t, one, gen.Imported...)
	if len(got.Users) < 3*prefetchChunk {
		t.Fatalf("read %d users; the test needs several chunks of %d", len(got.Users), prefetchChunk)
	}
	if !sameUsers(got.Users, want.Users) {
		t.Errorf("prefetched read: %d users, group by group: %d; they differ", len(got.Users), len(want.Users))
	}
	disabled := 0
	for _, u := range got.Users {
		if u.Disabled {
			disabled++
		}
	}
	if disabled == 0 {
		t.Error("no disabled user read: the disabled filter was not applied")
	}
	byAnchor := func(gs []directory.Group) map[string][]string {
		m := map[string][]string{}
		for _, g := range gs {
			m[g.Anchor] = slices.Sorted(slices.Values(g.Members))
		}
		return m
	}
	gm, wm := byAnchor(got.Groups), byAnchor(want.Groups)
	if len(gm) != len(wm) {
		t.Fatalf("groups: %d prefetched, %d group by group", len(gm), len(wm))
	}
	for a, members := range wm {
		if !slices.Equal(gm[a], members) {
			t.Errorf("group %s: %d members prefetched, %d group by group", a, len(gm[a]), len(members))
		}
	}
}

// sameUsers says whether two reads hold the same users with the same
// groups and flags, whatever their order.
func sameUsers(a, b []directory.User) bool {
	if len(a) != len(b) {
		return false
	}
	key := func(u directory.User) string {
		gs := slices.Sorted(slices.Values(u.Groups))
		return fmt.Sprint(u.Anchor, u.DN, u.Username, u.Email, u.Disabled, strings.Join(gs, ","))
	}
	ka, kb := make([]string, len(a)), make([]string, len(b))
	for i := range a {
		ka[i], kb[i] = key(a[i]), key(b[i])
	}
	slices.Sort(ka)
	slices.Sort(kb)
	return slices.Equal(ka, kb)
}
