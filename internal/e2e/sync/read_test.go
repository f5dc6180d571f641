package synce2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/internal/wire"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/engine"
)

// Paging: a small page size reads a group above the reader's lookup
// threshold (so every user is streamed, page by page) completely.
func TestPaging(t *testing.T) {
	t.Run("slapd", func(t *testing.T) {
		s := sharedSlapd(t)
		o := s.opts(t)
		o.Groups = []string{"cn=paging-group,ou=paging," + s.s.BaseDN}
		o.PageSize = 100
		e := newEnv(t, o)
		run := e.sync(true)
		checkPaged(t, e, run, "pg", pagingUsers, 100)
	})
	t.Run("samba", func(t *testing.T) {
		s := sharedSamba(t)
		o := s.opts(t)
		o.Groups = []string{s.bigGroup(t)}
		o.PageSize = 100
		e := newEnv(t, o)
		run := e.sync(true)
		checkPaged(t, e, run, "big", bigGroupUsers, 100)
	})
}

func checkPaged(t *testing.T, e *env, run store.SyncRun, prefix string, want, pageSize int) {
	t.Helper()
	if run.Counts.Created != want {
		t.Errorf("created %d, want %d", run.Counts.Created, want)
	}
	n := 0
	for name, u := range e.users() {
		if strings.HasPrefix(name, prefix) && u.State == store.StateActive {
			n++
		}
	}
	if n != want {
		t.Errorf("%d active %s* users in the store, want %d", n, prefix, want)
	}
	st := readStats(t, run)
	if st.Pages < want/pageSize {
		t.Errorf("read %d pages for %d users at page size %d: not paged", st.Pages, want, pageSize)
	}
	t.Logf("%d users in %d pages, %d entries, read %s", want, st.Pages, st.Entries, st.Elapsed.Round(time.Millisecond))
}

// A group of more than 1,500 members on AD comes back whole, both as the
// server sends it and with a small explicit range size that makes the
// reader walk member;range=... to the end (Samba does not force ranges).
func TestLargeGroupAD(t *testing.T) {
	s := sharedSamba(t)
	group := s.bigGroup(t)
	for _, rs := range []int{0, 500} {
		t.Run(fmt.Sprintf("range_size=%d", rs), func(t *testing.T) {
			o := s.opts(t)
			o.Groups = []string{group}
			o.RangeSize = rs
			e := newEnv(t, o)
			start := time.Now()
			run := e.sync(true)
			t.Logf("full sync of %d members: %s", bigGroupUsers, time.Since(start).Round(time.Millisecond))
			if run.Counts.Created != bigGroupUsers {
				t.Errorf("created %d, want %d", run.Counts.Created, bigGroupUsers)
			}
			if got := len(e.active()); got != bigGroupUsers {
				t.Errorf("%d active users, want %d", got, bigGroupUsers)
			}
			if g := e.groupEntry("big-group"); len(g.Groups) != bigGroupUsers {
				t.Errorf("stored group has %d members, want %d", len(g.Groups), bigGroupUsers)
			}
		})
	}
}

// The same group through a proxy that makes Samba answer as Windows AD
// does (member;range=0-1499 unasked, and no range longer than 1,500 even
// when a longer one is asked for): still read whole.
func TestLargeGroupWindowsRanges(t *testing.T) {
	s := sharedSamba(t)
	group := s.bigGroup(t)
	for _, rs := range []int{0, 2000} {
		t.Run(fmt.Sprintf("range_size=%d", rs), func(t *testing.T) {
			p := newRangeProxy(t, strings.TrimPrefix(s.plainURL(), "ldap://"))
			o := s.opts(t)
			o.URLs = []string{p.url()}
			o.CAFile = ""
			o.Groups = []string{group}
			o.RangeSize = rs
			e := newEnv(t, o)
			e.sync(true)
			if p.rewritten.Load() == 0 {
				t.Fatal("the proxy forced no range: the test shows nothing")
			}
			if got := len(e.active()); got != bigGroupUsers {
				t.Errorf("%d active users, want %d", got, bigGroupUsers)
			}
			if g := e.groupEntry("big-group"); len(g.Groups) != bigGroupUsers {
				t.Errorf("stored group has %d members, want %d", len(g.Groups), bigGroupUsers)
			}
			t.Logf("%d answers cut to a %d-value range", p.rewritten.Load(), maxValRange)

			// An incremental sync re-reads the changed group, ranges and all.
			ou := strings.TrimPrefix(group, "CN=big-group,")
			extra := s.user(t, ou, fmt.Sprintf("xbig-extra-%d", rs))
			// The big group is shared: the extra user goes when the test
			// ends, and AD takes its membership with it.
			t.Cleanup(func() { s.remove(t, extra) })
			s.addMembers(t, group, extra)
			p.rewritten.Store(0)
			run := e.sync(false)
			if run.Full || run.Counts.Created != 1 || run.Counts.Deactivated != 0 || p.rewritten.Load() == 0 {
				t.Errorf("incremental: full %v, %+v, %d ranged answers", run.Full, run.Counts, p.rewritten.Load())
			}
			if g := e.groupEntry("big-group"); len(g.Groups) != bigGroupUsers+1 {
				t.Errorf("stored group has %d members after the incremental, want %d", len(g.Groups), bigGroupUsers+1)
			}
		})
	}
}

// Nested groups: members of groups inside the imported group are
// imported, and a cycle (top > mid > leaf > top) ends.
func TestNestedGroupsWithCycle(t *testing.T) {
	forEachServer(t, func(t *testing.T, s server) {
		ou := s.ou(t, "e2e-nested")
		dns := users(t, s, ou, "nest-a", "nest-b", "nest-c")
		leaf := s.group(t, ou, "nest-leaf", dns[2])
		mid := s.group(t, ou, "nest-mid", dns[1], leaf)
		top := s.group(t, ou, "nest-top", dns[0], mid)
		s.addMembers(t, leaf, top)
		o := s.opts(t)
		o.Groups = []string{top}
		e := newEnv(t, o)
		syncWithin(t, e, true, time.Minute)
		if got, want := e.active(), []string{"nest-a", "nest-b", "nest-c"}; !slices.Equal(got, want) {
			t.Fatalf("active = %v, want %v", got, want)
		}
		g := e.groupEntry("nest-top")
		for _, n := range []string{"nest-a", "nest-b", "nest-c"} {
			en, err := e.st.GetDirectoryEntry(context.Background(), dirName, e.user(n).Anchor)
			if err != nil || !slices.Equal(en.Groups, []string{g.Anchor}) {
				t.Errorf("%s's entry groups = %v (%v), want [nest-top]", n, en.Groups, err)
			}
		}

		// An incremental sync walks the changed leaf's parents upwards,
		// round the cycle, to the imported group, and ends.
		s.addMembers(t, leaf, s.user(t, ou, "nest-d"))
		if run := syncWithin(t, e, false, time.Minute); run.Full || run.Counts.Created != 1 || e.user("nest-d").State != store.StateActive {
			t.Fatalf("incremental inside the cycle: full %v, %+v", run.Full, run.Counts)
		}
	})
}

// syncWithin is a successful sync that must end within d.
func syncWithin(t *testing.T, e *env, full bool, d time.Duration) store.SyncRun {
	t.Helper()
	type result struct {
		run store.SyncRun
		err error
	}
	done := make(chan result, 1)
	go func() {
		run, err := e.run(engine.Request{Full: full})
		done <- result{run, err}
	}()
	select {
	case r := <-done:
		if r.err != nil || r.run.Status != store.SyncSucceeded {
			t.Fatalf("sync (full=%v): status %q, error %v / %q", full, r.run.Status, r.err, r.run.Error)
		}
		return r.run
	case <-time.After(d):
		t.Fatalf("sync (full=%v) did not end within %s", full, d)
		return store.SyncRun{}
	}
}

// A group named with filter metacharacters matches only itself: escaped
// (RFC 4515), "a*)(cn=*" would otherwise match every group starting with
// "a", or every group at all.
func TestFilterMetacharacters(t *testing.T) {
	forEachServer(t, func(t *testing.T, s server) {
		ou := s.ou(t, "e2e-escape")
		dns := users(t, s, ou, "esc-in", "esc-alpha", "esc-other")
		s.group(t, ou, "a*)(cn=*", dns[0])
		s.group(t, ou, "alpha-e2e", dns[1])
		s.group(t, ou, "another-e2e", dns[2])
		o := s.opts(t)
		o.Groups = []string{"a*)(cn=*"}
		e := newEnv(t, o)
		e.sync(true)
		if got := sortedKeys(e.users()); !slices.Equal(got, []string{"esc-in"}) {
			t.Fatalf("imported %v, want [esc-in]", got)
		}
		// The group listing (dirbridge directory groups --search) escapes
		// its search text too.
		src, err := wire.Source(e.cfg, dirName, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		gs, err := src.ListGroups(context.Background(), "a*)(cn=")
		if err != nil || len(gs) != 1 || gs[0].MemberCount != 1 || !strings.Contains(strings.ToLower(gs[0].DN), "e2e-escape") {
			t.Fatalf("ListGroups(%q) = %+v, %v", "a*)(cn=", gs, err)
		}
	})
}

// Users whose primary group is the imported group (primaryGroupID = its
// RID) are imported, though AD lists them in neither the group's member
// nor their memberOf.
func TestPrimaryGroupAD(t *testing.T) {
	x := sharedSamba(t)
	ou := x.ou(t, "e2e-primary")
	dns := users(t, x, ou, "prim-1", "prim-2")
	group := x.group(t, ou, "prim-e2e", dns...)
	x.s.SetPrimaryGroup(t, dns[0], group)
	o := x.opts(t)
	o.Groups = []string{"prim-e2e"}
	e := newEnv(t, o)
	e.sync(true)
	if got := e.active(); !slices.Equal(got, []string{"prim-1", "prim-2"}) {
		t.Fatalf("active = %v, want prim-1 (by its primary group) and prim-2", got)
	}
	if g := e.groupEntry("prim-e2e"); len(g.Groups) != 2 {
		t.Errorf("stored group has %d members, want 2", len(g.Groups))
	}
	// Still a member at the next run: not taken for a leaver.
	if run := e.sync(true); run.Counts.Deactivated != 0 || run.Counts.Unchanged != 2 {
		t.Errorf("second sync: %+v", run.Counts)
	}

	// Incremental: prim-2's primary group moves to the group too (the
	// group changes: AD drops prim-2 from member, so the group is read
	// again). Both stay members.
	x.s.SetPrimaryGroup(t, dns[1], group)
	run := e.sync(false)
	if run.Full || run.Counts.Deactivated != 0 {
		t.Errorf("incremental after the group change: full %v, %+v", run.Full, run.Counts)
	}
	if g := e.groupEntry("prim-e2e"); len(g.Groups) != 2 {
		t.Errorf("stored group has %d members after the incremental, want 2", len(g.Groups))
	}
	// Then prim-1 changes alone: the group does not, and prim-1's memberOf
	// does not name it; its primaryGroupID does.
	x.s.Replace(t, dns[0], "mail", "prim-1-new@example.test")
	run = e.sync(false)
	if run.Full || run.Counts.Deactivated != 0 || run.Counts.Updated != 1 {
		t.Errorf("incremental after prim-1's change: full %v, %+v", run.Full, run.Counts)
	}
	if u := e.user("prim-1"); u.Email != "prim-1-new@example.test" || u.State != store.StateActive {
		t.Errorf("prim-1 after the incremental: %s %s", u.Email, u.State)
	}
	if run := e.sync(true); run.Counts.Deactivated != 0 || run.Counts.Created != 0 || run.Counts.Updated != 0 {
		t.Errorf("full sync after the incremental: %+v", run.Counts)
	}
}
