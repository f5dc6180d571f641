// Package ldapgen writes a large, realistic directory as LDIF for the
// reader's benchmark: users in groups of very different sizes (one holding
// almost everyone, a few above AD's 1,500-value range, thousands of small
// ones), nested groups and a nesting cycle. The LDIF carries memberOf on
// users and nested groups because slapadd, the only fast way to load it,
// runs no overlays.
package ldapgen

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
)

// Options shape the directory. Zero values take the benchmark's defaults.
type Options struct {
	BaseDN string // default dc=example,dc=org
	Users  int    // default 100,000
	Groups int    // default 5,000
	// HugeShare is the share of users in group 0 (default 0.95).
	HugeShare float64
	// LargeGroups are groups 1..LargeGroups with LargeSize members each
	// (defaults 4 and 6,000): above AD's 1,500-value range.
	LargeGroups, LargeSize int
	// SmallSize is the members of every other group (default 66).
	SmallSize int
	Seed      uint64
}

// Result says what was written and which groups a benchmark imports.
type Result struct {
	Users, Groups, Memberships int
	// Imported are the DNs of the first half of the groups; through
	// nesting their closure holds every group.
	Imported []string
}

func (o *Options) defaults() {
	if o.BaseDN == "" {
		o.BaseDN = "dc=example,dc=org"
	}
	if o.Users <= 0 {
		o.Users = 100000
	}
	if o.Groups <= 0 {
		o.Groups = 5000
	}
	if o.HugeShare <= 0 {
		o.HugeShare = 0.95
	}
	if o.LargeGroups <= 0 {
		o.LargeGroups = 4
	}
	if o.LargeSize <= 0 {
		o.LargeSize = 6000
	}
	if o.SmallSize <= 0 {
		o.SmallSize = 66
	}
}

// UserDN and GroupDN name the generated entries.
func UserDN(base string, i int) string  { return fmt.Sprintf("uid=user%06d,ou=people,%s", i, base) }
func GroupDN(base string, i int) string { return fmt.Sprintf("cn=group%04d,ou=groups,%s", i, base) }

// Write writes the LDIF for everything below BaseDN (the base entry itself
// is not written: the harness makes it). Group i (for Groups/2 <= i) is
// nested in group i-Groups/2, so importing the first half covers all; groups
// 10 and Groups/2+10 contain each other (a cycle).
func Write(w io.Writer, o Options) (Result, error) {
	o.defaults()
	rng := rand.New(rand.NewPCG(o.Seed, 42))
	bw := bufio.NewWriterSize(w, 1<<20)
	half := o.Groups / 2
	members := make([][]int, o.Groups) // user indices per group
	userGroups := make([][]int32, o.Users)
	add := func(g, u int) {
		members[g] = append(members[g], u)
		userGroups[u] = append(userGroups[u], int32(g))
	}
	for u := 0; u < o.Users; u++ {
		if rng.Float64() < o.HugeShare {
			add(0, u)
		}
	}
	for g := 1; g <= o.LargeGroups && g < o.Groups; g++ {
		for _, u := range rng.Perm(o.Users)[:min(o.LargeSize, o.Users)] {
			add(g, u)
		}
	}
	for g := o.LargeGroups + 1; g < o.Groups; g++ {
		seen := map[int]bool{}
		for len(seen) < min(o.SmallSize, o.Users) {
			u := rng.IntN(o.Users)
			if !seen[u] {
				seen[u] = true
				add(g, u)
			}
		}
	}
	// Nesting: parent of group g (g >= half) is g-half; plus one cycle.
	parentOf := func(g int) []int {
		var p []int
		if g >= half {
			p = append(p, g-half)
		}
		if g == 10 && half+10 < o.Groups {
			p = append(p, half+10)
		}
		return p
	}
	childrenOf := func(g int) []int {
		var c []int
		if g < half && g+half < o.Groups {
			c = append(c, g+half)
		}
		if g == half+10 {
			c = append(c, 10)
		}
		return c
	}
	b := o.BaseDN
	fmt.Fprintf(bw, "dn: ou=people,%s\nobjectClass: organizationalUnit\nou: people\n\n", b)
	fmt.Fprintf(bw, "dn: ou=groups,%s\nobjectClass: organizationalUnit\nou: groups\n\n", b)
	res := Result{Users: o.Users, Groups: o.Groups}
	for u := 0; u < o.Users; u++ {
		fmt.Fprintf(bw, "dn: %s\nobjectClass: inetOrgPerson\nuid: user%06d\ncn: User %06d\nsn: User\ngivenName: Test%d\nmail: user%06d@example.org\ndisplayName: Test User %06d\nuserPassword: secret%d\n",
			UserDN(b, u), u, u, u, u, u, u)
		if u%97 == 0 {
			bw.WriteString("employeeType: disabled\n")
		}
		for _, g := range userGroups[u] {
			fmt.Fprintf(bw, "memberOf: %s\n", GroupDN(b, int(g)))
		}
		bw.WriteString("\n")
		res.Memberships += len(userGroups[u])
	}
	for g := 0; g < o.Groups; g++ {
		fmt.Fprintf(bw, "dn: %s\nobjectClass: groupOfNames\ncn: group%04d\n", GroupDN(b, g), g)
		for _, u := range members[g] {
			fmt.Fprintf(bw, "member: %s\n", UserDN(b, u))
		}
		for _, c := range childrenOf(g) {
			fmt.Fprintf(bw, "member: %s\n", GroupDN(b, c))
		}
		if len(members[g])+len(childrenOf(g)) == 0 {
			fmt.Fprintf(bw, "member: %s\n", UserDN(b, 0))
		}
		for _, p := range parentOf(g) {
			fmt.Fprintf(bw, "memberOf: %s\n", GroupDN(b, p))
		}
		bw.WriteString("\n")
		if g < half {
			res.Imported = append(res.Imported, GroupDN(b, g))
		}
	}
	return res, bw.Flush()
}
