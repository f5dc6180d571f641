package synce2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/google/uuid"

	"github.com/dirbridge/dirbridge/internal/harness"

	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/engine"
)

// names makes n usernames prefix1..prefixN.
func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i+1)
	}
	return out
}

// users creates one user per name in ou and returns their DNs.
func users(t *testing.T, s server, ou string, ns ...string) []string {
	t.Helper()
	dns := make([]string, len(ns))
	for i, n := range ns {
		dns[i] = s.user(t, ou, n)
	}
	return dns
}

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
			s.addMembers(t, group, extra)
			t.Cleanup(func() { s.removeMembers(t, group, extra) })
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

// A disabled user is deactivated, and reactivated (the same local user)
// once enabled again, by full and by incremental syncs. AD:
// userAccountControl ACCOUNTDISABLE; slapd: the configured disabled_filter
// (pwdAccountLockedTime=*).
func TestDisabledAndReenabled(t *testing.T) {
	forEachServer(t, func(t *testing.T, s server) {
		for _, full := range []bool{true, false} {
			t.Run(mode(full), func(t *testing.T) {
				ou := s.ou(t, "e2e-disable-"+mode(full))
				// sAMAccountName is unique in the domain: a name per mode.
				d1, d2 := "dis-"+mode(full)[:1]+"1", "dis-"+mode(full)[:1]+"2"
				dns := users(t, s, ou, d1, d2)
				o := s.opts(t)
				o.Groups = []string{s.group(t, ou, "dis-group-"+mode(full), dns...)}
				e := newEnv(t, o)
				e.sync(true)
				before := e.user(d1)

				s.setDisabled(t, dns[0], true)
				run := e.sync(full)
				u := e.user(d1)
				if run.Full != full || run.Counts.Deactivated != 1 || u.State != store.StateInactive || u.DeactivatedReason != engine.ReasonDisabled {
					t.Fatalf("after disabling: full %v, deactivated %d, %s %s (%q)", run.Full, run.Counts.Deactivated, d1, u.State, u.DeactivatedReason)
				}
				if e.user(d2).State != store.StateActive {
					t.Errorf("%s deactivated too", d2)
				}

				s.setDisabled(t, dns[0], false)
				run = e.sync(full)
				u = e.user(d1)
				if run.Full != full || run.Counts.Reactivated != 1 || u.State != store.StateActive || u.DeactivatedReason != "" || u.ID != before.ID {
					t.Fatalf("after enabling: full %v, reactivated %d, %s %s (%q), id %s (was %s)", run.Full, run.Counts.Reactivated, d1, u.State, u.DeactivatedReason, u.ID, before.ID)
				}
			})
		}
	})
}

func mode(full bool) string {
	if full {
		return "full"
	}
	return "incremental"
}

// A rename (username, and on AD the UPN) together with a move to another
// OU updates the same local user, by full and by incremental syncs: the
// anchor decides.
func TestRenameAndMove(t *testing.T) {
	forEachServer(t, func(t *testing.T, s server) {
		for _, full := range []bool{true, false} {
			t.Run(mode(full), func(t *testing.T) {
				from, to := s.ou(t, "e2e-rename-from-"+mode(full)), s.ou(t, "e2e-rename-to-"+mode(full))
				old, other, renamed := "ren-old-"+mode(full)[:1], "ren-other-"+mode(full)[:1], "ren-new-"+mode(full)[:1]
				dns := users(t, s, from, old, other)
				o := s.opts(t)
				o.Groups = []string{s.group(t, from, "ren-group-"+mode(full), dns...)}
				e := newEnv(t, o)
				e.sync(true)
				before := e.user(old)

				newDN := s.rename(t, dns[0], renamed, to)
				run := e.sync(full)
				us := e.users()
				u, ok := us[renamed]
				if !ok || len(us) != 2 {
					t.Fatalf("users after the rename: %v", sortedKeys(us))
				}
				if u.ID != before.ID || u.Anchor != before.Anchor || u.State != store.StateActive {
					t.Errorf("renamed user: id %s anchor %s %s; was id %s anchor %s", u.ID, u.Anchor, u.State, before.ID, before.Anchor)
				}
				if !sameDN(u.DN, newDN) {
					t.Errorf("DN = %s, want %s", u.DN, newDN)
				}
				if run.Full != full || run.Counts.Created != 0 || run.Counts.Updated != 1 || run.Counts.Deactivated != 0 {
					t.Errorf("full %v, counts = %+v, want one update", run.Full, run.Counts)
				}
			})
		}
	})
}

// sameDN compares DNs as parsed (servers escape differently).
func sameDN(a, b string) bool {
	da, err1 := goldap.ParseDN(a)
	db, err2 := goldap.ParseDN(b)
	return err1 == nil && err2 == nil && da.EqualFold(db)
}

// A user removed from every imported group is deactivated; removed from
// one of two, it stays.
func TestRemovedFromAllGroups(t *testing.T) {
	forEachServer(t, func(t *testing.T, s server) {
		ou := s.ou(t, "e2e-leaver")
		dns := users(t, s, ou, "leave-x", "leave-y")
		g1 := s.group(t, ou, "leave-g1", dns...)
		g2 := s.group(t, ou, "leave-g2", dns...)
		o := s.opts(t)
		o.Groups = []string{g1, g2}
		e := newEnv(t, o)
		e.sync(true)

		s.removeMembers(t, g1, dns[0])
		if run := e.sync(true); run.Counts.Deactivated != 0 || e.user("leave-x").State != store.StateActive {
			t.Fatalf("leave-x still in leave-g2 but deactivated: %+v", run.Counts)
		}
		s.removeMembers(t, g2, dns[0])
		run := e.sync(true)
		u := e.user("leave-x")
		if run.Counts.Deactivated != 1 || u.State != store.StateInactive || u.DeactivatedReason != engine.ReasonLeftGroups {
			t.Fatalf("left every group: deactivated %d, leave-x %s (%q)", run.Counts.Deactivated, u.State, u.DeactivatedReason)
		}
		if got := e.active(); !slices.Equal(got, []string{"leave-y"}) {
			t.Errorf("active = %v", got)
		}
	})
}

// An incremental sync sees a membership change made only on the group
// (memberOf is a back-link: on AD the user's uSNChanged does not move).
// On AD the cursor is per domain controller: a cursor from another DC
// (another invocationId) or one ahead of the DC's USN forces a full read.
func TestIncrementalGroupOnlyChange(t *testing.T) {
	forEachServer(t, func(t *testing.T, s server) {
		ou := s.ou(t, "e2e-incr")
		dns := users(t, s, ou, "inc-1", "inc-2")
		group := s.group(t, ou, "inc-group", dns[0])
		o := s.opts(t)
		o.Groups = []string{group}
		e := newEnv(t, o)
		if run := e.sync(true); !run.Full {
			t.Fatal("first sync not full")
		}
		st := e.state().State
		if st.Cursor == "" {
			t.Fatal("no cursor stored after a full sync")
		}

		var usnBefore string
		if x, ok := s.(*sambaServer); ok {
			usnBefore = x.attr(t, dns[1], "uSNChanged")
		}
		s.addMembers(t, group, dns[1])
		if x, ok := s.(*sambaServer); ok {
			// The change is on the group alone: memberOf is a back-link.
			if after := x.attr(t, dns[1], "uSNChanged"); after != usnBefore {
				t.Fatalf("inc-2's uSNChanged moved (%s -> %s): the test would not show a group-only change", usnBefore, after)
			}
		}
		run := e.sync(false)
		if run.Full {
			t.Fatalf("second sync was full (cursor %s)", st.Cursor)
		}
		if run.Counts.Created != 1 || e.user("inc-2").State != store.StateActive {
			t.Fatalf("incremental missed the new member: %+v, users %v", run.Counts, sortedKeys(e.users()))
		}
		if o.Kind != "ad" {
			return
		}
		for _, tc := range []struct{ what, cursor string }{
			{"another DC", `{"kind":"ad","dc":"00000000-0000-0000-0000-000000000001","usn":1}`},
			{"USN ahead of the DC's", withUSN(t, e.state().State.Cursor, 1<<40)},
		} {
			setCursor(t, e, tc.cursor)
			run := e.sync(false)
			if !run.Full {
				t.Errorf("%s: the run was incremental", tc.what)
			}
			if w := readStats(t, run).Warnings; len(w) == 0 {
				t.Errorf("%s: no warning about the full read", tc.what)
			}
		}
	})
}

func setCursor(t *testing.T, e *env, cursor string) {
	t.Helper()
	ctx := context.Background()
	st, err := e.st.GetDirectoryState(ctx, dirName)
	if err != nil {
		t.Fatal(err)
	}
	st.Cursor = cursor
	if err := e.st.Tx(ctx, func(tx store.Tx) error { return tx.PutDirectoryState(ctx, st) }); err != nil {
		t.Fatal(err)
	}
}

// withUSN is an AD cursor with its DC kept and its USN replaced.
func withUSN(t *testing.T, cursor string, usn int64) string {
	t.Helper()
	i := strings.Index(cursor, `"usn":`)
	if i < 0 {
		t.Fatalf("cursor %s has no usn", cursor)
	}
	j := i + len(`"usn":`)
	k := j
	for k < len(cursor) && cursor[k] >= '0' && cursor[k] <= '9' {
		k++
	}
	return cursor[:j] + fmt.Sprint(usn) + cursor[k:]
}

// A DC list whose first URL is dead still syncs, through the second:
// whether nothing listens there, or a server accepts the connection and
// never answers — over LDAPS (the TLS handshake times out) and over plain
// LDAP (the bind does). A stuck DC costs the connect timeout (3 s here),
// not the read timeout (30 s here, 2 minutes by default) on every run and
// every pass-through sign-in.
func TestDeadFirstURL(t *testing.T) {
	forEachServer(t, func(t *testing.T, s server) {
		ou := s.ou(t, "e2e-failover")
		group := s.group(t, ou, "fail-group", users(t, s, ou, "fail-1")...)
		for _, dead := range []struct{ what, url string }{
			{"refused", fmt.Sprintf("ldaps://127.0.0.1:%d", freePort(t))},
			{"hung", "ldaps://" + hungListener(t)},
			{"hung plain", "ldap://" + hungListener(t)},
		} {
			t.Run(dead.what, func(t *testing.T) {
				o := s.opts(t)
				o.Groups = []string{group}
				live := o.URLs[0]
				if strings.HasPrefix(dead.url, "ldap://") {
					live = s.plainURL()
				}
				o.URLs = []string{dead.url, live}
				e := newEnv(t, o)
				start := time.Now()
				run := e.sync(true)
				if took := time.Since(start); took > 10*time.Second {
					t.Errorf("failing over took %s; the connect timeout is 3s", took.Round(time.Millisecond))
				}
				if got := readStats(t, run).Server; got != live {
					t.Errorf("read from %q, want %q", got, live)
				}
				if got := e.active(); !slices.Equal(got, []string{"fail-1"}) {
					t.Errorf("active = %v", got)
				}
				t.Logf("synced through the second URL in %s", time.Since(start).Round(time.Millisecond))
			})
		}
	})
}

// hungListener accepts connections and never answers, as a DC that is up
// but stuck would.
func hungListener(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	return l.Addr().String()
}

// A wrong bind password fails the run with a clear error and changes
// nothing (a run that would deactivate is pending meanwhile).
func TestWrongBindPassword(t *testing.T) {
	forEachServer(t, func(t *testing.T, s server) {
		ou := s.ou(t, "e2e-badpw")
		dns := users(t, s, ou, "bad-1", "bad-2")
		group := s.group(t, ou, "bad-group", dns...)
		o := s.opts(t)
		o.Groups = []string{group}
		e := newEnv(t, o)
		e.sync(true)
		s.removeMembers(t, group, dns[0])
		before := e.state()

		e.reconfigure(func(o *dirOpts) { o.BindPassword = "Wrong-Passw0rd!" })
		run, err := e.run(engine.Request{Full: true})
		if err == nil || run.Status != store.SyncFailed {
			t.Fatalf("run with a wrong password: status %s, err %v", run.Status, err)
		}
		for _, want := range []string{"bind as " + o.BindDN, "service account bind refused", "Invalid Credentials"} {
			if !strings.Contains(run.Error, want) {
				t.Errorf("error %q does not say %q", run.Error, want)
			}
		}
		t.Logf("error: %s", run.Error)
		e.unchanged(before)
		if rec, err := e.st.GetSyncRun(context.Background(), run.ID); err != nil || rec.Status != store.SyncFailed || rec.Error != run.Error {
			t.Errorf("recorded run: %+v %v", rec, err)
		}
	})
}

// A directory that stops in the middle of a read changes nothing: the run
// fails, the store is as it was, and the next run applies what is pending.
// slapd is killed (a dedicated one); Samba is shared, so a loopback proxy
// cuts the connection instead, at a point measured in bytes of a whole
// read, while the users are being read.
func TestStoppedMidRead(t *testing.T) {
	// Above 1,000 members every user is streamed in pages; below, members
	// are looked up one by one, several requests in flight.
	// The cut comes after part of a whole read's bytes: a half for the
	// stream; a quarter for lookups, which on generic LDAP are followed by
	// a catch-up search for the cursor.
	cases := []struct {
		name string
		n    int
		cut  float64
	}{{"streamed", 0, 0.5}, {"looked up", lookupGroupUsers, 0.25}}
	for _, c := range cases {
		t.Run("slapd/"+c.name, func(t *testing.T) {
			ldif := pagingLDIF("dc=example,dc=org") + lookupLDIF("dc=example,dc=org")
			h := harness.StartSlapd(t, harness.SlapdOptions{LDIF: ldif, Quiet: true})
			s := &slapdServer{h}
			p := newCutProxy(t, s.ldapsAddr())
			p.onCut = func() { go h.Kill() }
			o := s.opts(t)
			o.URLs = []string{"ldaps://" + p.addr()}
			group, n := "cn=paging-group,ou=paging,"+h.BaseDN, pagingUsers
			if c.n > 0 {
				group, n = "cn=lookup-group,ou=paging,"+h.BaseDN, c.n
			}
			o.Groups = []string{group}
			o.PageSize = 50
			testStoppedMidRead(t, o, p, c.cut, func() { s.removeMembers(t, group, "uid=pg0000,ou=paging,"+h.BaseDN) },
				func() { h.Start(t) }, "pg0000", n)
		})
		t.Run("samba/"+c.name, func(t *testing.T) {
			s := sharedSamba(t)
			group, n := s.bigGroup(t), bigGroupUsers
			first := strings.Replace(group, "CN=big-group", "CN=big0000", 1)
			if c.n > 0 {
				members := make([]string, c.n)
				for i := range members {
					members[i] = strings.Replace(group, "CN=big-group", fmt.Sprintf("CN=big%04d", i), 1)
				}
				ou := strings.TrimPrefix(group, "CN=big-group,")
				group, n = s.group(t, ou, "big-lookup", members...), c.n
			}
			p := newCutProxy(t, s.ldapsAddr())
			o := s.opts(t)
			o.URLs = []string{"ldaps://" + p.addr()}
			o.Groups = []string{group}
			o.PageSize = 100
			// The big group is shared: its member comes back at the end.
			t.Cleanup(func() {
				if c.n == 0 {
					s.addMembers(t, group, first)
				}
			})
			testStoppedMidRead(t, o, p, c.cut, func() { s.removeMembers(t, group, first) }, func() {}, "big0000", n)
		})
	}
}

// lookupGroupUsers is the size of the groups whose members are looked up
// one by one (below the reader's 1,000-member threshold).
const lookupGroupUsers = 300

// lookupLDIF is cn=lookup-group in ou=paging with the first
// lookupGroupUsers users of pagingLDIF (a full read uses the group's
// member values, so the users' memberOf is left as it is).
func lookupLDIF(base string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dn: cn=lookup-group,ou=paging,%s\nobjectClass: groupOfNames\ncn: lookup-group\n", base)
	for i := range lookupGroupUsers {
		fmt.Fprintf(&b, "member: uid=pg%04d,ou=paging,%s\n", i, base)
	}
	b.WriteString("\n")
	return b.String()
}

// testStoppedMidRead: change makes a whole read deactivate leaver;
// restart brings the directory back after the cut.
func testStoppedMidRead(t *testing.T, o dirOpts, p *cutProxy, cut float64, change, restart func(), leaver string, n int) {
	e := newEnv(t, o)
	p.reset(0)
	e.sync(true)
	whole := p.sent.Load()
	if len(e.active()) != n {
		t.Fatalf("first sync: %d active, want %d", len(e.active()), n)
	}
	change() // a whole read now would deactivate the leaver
	before := e.state()

	limit := int64(float64(whole) * cut)
	p.reset(limit)
	run, err := e.run(engine.Request{Full: true})
	if err == nil || run.Status != store.SyncFailed {
		t.Fatalf("read cut at %d of %d bytes: status %s, err %v, counts %+v", limit, whole, run.Status, err, run.Counts)
	}
	t.Logf("cut after %d of %d bytes: %s", p.sent.Load(), whole, run.Error)
	if !strings.Contains(run.Error, "directory unavailable") {
		t.Errorf("error %q does not say the directory became unavailable", run.Error)
	}
	e.unchanged(before)

	// The directory back: the pending change goes through.
	restart()
	p.reset(0)
	run = e.sync(true)
	if run.Counts.Deactivated != 1 || e.user(leaver).State != store.StateInactive {
		t.Errorf("after the directory came back: %+v, %s is %s", run.Counts, leaver, e.user(leaver).State)
	}
}

// max_deactivations: a run that would deactivate more is refused with the
// numbers, recorded, and changes nothing; the administrator's explicit
// approval lets that run through, and the approval is audited.
func TestMaxDeactivations(t *testing.T) {
	forEachServer(t, func(t *testing.T, s server) {
		ou := s.ou(t, "e2e-maxdeact")
		dns := users(t, s, ou, names("max-", 5)...)
		group := s.group(t, ou, "max-group", dns...)
		o := s.opts(t)
		o.Groups = []string{group}
		o.MaxCount, o.MaxPercent = 2, 50
		e := newEnv(t, o)
		e.sync(true)
		s.removeMembers(t, group, dns[:3]...)
		before := e.state()

		run, err := e.run(engine.Request{Full: true})
		if !errors.Is(err, engine.ErrRefused) || run.Status != store.SyncRefused {
			t.Fatalf("over the limit: status %s, err %v", run.Status, err)
		}
		if want := "plan would deactivate 3 of 5 users (60.0 %); limits are 2 users and 50 % — nothing applied"; !strings.Contains(run.Error, want) {
			t.Errorf("refusal %q does not say %q", run.Error, want)
		}
		e.unchanged(before)
		runs, err := e.st.ListSyncRuns(context.Background(), store.SyncRunFilter{Directory: dirName, Limit: 1})
		if err != nil || len(runs) != 1 || runs[0].ID != run.ID || runs[0].Status != store.SyncRefused || len(runs[0].Plan) == 0 || runs[0].Counts.Deactivated != 3 {
			t.Fatalf("refused run not recorded with its plan: %+v %v", runs, err)
		}

		run, err = e.run(engine.Request{Full: true, AllowMassDeactivation: true, Actor: "admin:e2e"})
		if err != nil || run.Status != store.SyncSucceeded || run.Counts.Deactivated != 3 {
			t.Fatalf("approved run: %s %v %+v", run.Status, err, run.Counts)
		}
		if got := e.active(); !slices.Equal(got, []string{"max-4", "max-5"}) {
			t.Errorf("active = %v", got)
		}
		ev, err := e.st.ListAudit(context.Background(), store.AuditFilter{Action: engine.ActionSyncApply, Limit: 1})
		if err != nil || len(ev) != 1 || ev[0].Actor != "admin:e2e" || ev[0].Details["mass_deactivation_approved"] != true {
			t.Fatalf("approval not audited: %+v %v", ev, err)
		}
	})
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
	})
}

// A full read returning no users for a directory that had users is
// refused — even with the mass-deactivation approval — and changes
// nothing.
func TestZeroUsersRefused(t *testing.T) {
	forEachServer(t, func(t *testing.T, s server) {
		ou := s.ou(t, "e2e-zero")
		dns := users(t, s, ou, "zero-1", "zero-2")
		group := s.group(t, ou, "zero-group", dns...)
		o := s.opts(t)
		o.Groups = []string{group}
		e := newEnv(t, o)
		e.sync(true)
		s.empty(t, group, dns...)
		before := e.state()
		for _, allow := range []bool{false, true} {
			run, err := e.run(engine.Request{Full: true, AllowMassDeactivation: allow})
			if !errors.Is(err, engine.ErrRefused) || run.Status != store.SyncRefused {
				t.Fatalf("empty read (approved=%v): status %s, err %v", allow, run.Status, err)
			}
			if !strings.Contains(run.Error, "full read returned no users but the directory has 2 active users") {
				t.Errorf("refusal %q", run.Error)
			}
		}
		e.unchanged(before)
	})
}

// Deactivation revokes the user's sessions (and only that user's).
func TestDeactivationRevokesSessions(t *testing.T) {
	forEachServer(t, func(t *testing.T, s server) {
		ou := s.ou(t, "e2e-sessions")
		dns := users(t, s, ou, "sess-1", "sess-2")
		group := s.group(t, ou, "sess-group", dns...)
		o := s.opts(t)
		o.Groups = []string{group}
		e := newEnv(t, o)
		e.sync(true)
		ctx := context.Background()
		u1, u2 := e.user("sess-1"), e.user("sess-2")
		now := time.Now().UTC().Truncate(time.Second)
		err := e.st.Tx(ctx, func(tx store.Tx) error {
			for _, uid := range []string{u1.ID, u1.ID, u2.ID} {
				s := store.Session{ID: uuid.NewString(), UserID: uid, Method: "saml", CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
				if err := tx.CreateSession(ctx, s); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		s.removeMembers(t, group, dns[0])
		e.sync(true)
		if e.user("sess-1").State != store.StateInactive {
			t.Fatal("sess-1 not deactivated")
		}
		if ss, err := e.st.ListSessions(ctx, u1.ID); err != nil || len(ss) != 0 {
			t.Errorf("sess-1 keeps %d sessions (%v)", len(ss), err)
		}
		if ss, err := e.st.ListSessions(ctx, u2.ID); err != nil || len(ss) != 1 {
			t.Errorf("sess-2 has %d sessions, want 1 (%v)", len(ss), err)
		}
		ev, err := e.st.ListAudit(ctx, store.AuditFilter{Action: engine.ActionUserDeactivate, Target: u1.ID})
		if err != nil || len(ev) != 1 || fmt.Sprint(ev[0].Details["sessions_revoked"]) != "2" {
			t.Errorf("deactivation audit: %+v %v", ev, err)
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

// An imported group that is gone from the directory fails the run, which
// says which group, and changes nothing: leaving it out would make all its
// members look like leavers.
func TestImportedGroupDeleted(t *testing.T) {
	forEachServer(t, func(t *testing.T, s server) {
		ou := s.ou(t, "e2e-gone")
		dns := users(t, s, ou, "gone-1", "gone-2")
		kept := s.group(t, ou, "gone-kept", dns[0])
		gone := s.group(t, ou, "gone-group", dns[1])
		o := s.opts(t)
		o.Groups = []string{kept, gone}
		e := newEnv(t, o)
		e.sync(true)
		s.remove(t, gone)
		before := e.state()
		for _, full := range []bool{true, false} {
			run, err := e.run(engine.Request{Full: full})
			if full && (err == nil || run.Status != store.SyncFailed || !strings.Contains(run.Error, "gone-group") || !strings.Contains(run.Error, "not found")) {
				t.Fatalf("full sync without an imported group: %s %v %q", run.Status, err, run.Error)
			}
			if !full && run.Status == store.SyncSucceeded && run.Counts.Deactivated != 0 {
				t.Fatalf("incremental deactivated %d users", run.Counts.Deactivated)
			}
			t.Logf("full=%v: %s %s", full, run.Status, run.Error)
		}
		// The users are as they were (an incremental that succeeds may
		// move the cursor; it deactivates nobody).
		if after := e.state(); !reflect.DeepEqual(before.Users, after.Users) {
			t.Errorf("users changed:\nbefore %+v\nafter  %+v", before.Users, after.Users)
		}
	})
}

// A user deleted in the directory is deactivated: by the full read (gone
// from its groups) and, on AD, by an incremental read too (the tombstone,
// read with the show-deleted control, names the anchor).
func TestUserDeleted(t *testing.T) {
	forEachServer(t, func(t *testing.T, s server) {
		for _, full := range []bool{true, false} {
			t.Run(mode(full), func(t *testing.T) {
				ad := s.opts(t).Kind == "ad"
				if !full && !ad {
					t.Log("generic LDAP has no tombstones: deletions are settled by the full schedule")
					return
				}
				ou := s.ou(t, "e2e-deleted-"+mode(full))
				n1, n2 := "del-"+mode(full)[:1]+"1", "del-"+mode(full)[:1]+"2"
				dns := users(t, s, ou, n1, n2)
				o := s.opts(t)
				o.Groups = []string{s.group(t, ou, "del-group-"+mode(full), dns...)}
				e := newEnv(t, o)
				e.sync(true)
				s.remove(t, dns[0])
				run := e.sync(full)
				u := e.user(n1)
				want := engine.ReasonLeftGroups
				if ad && !full {
					want = engine.ReasonDeleted
				}
				if run.Counts.Deactivated != 1 || u.State != store.StateInactive || u.DeactivatedReason != want {
					t.Fatalf("deleted user: %+v, %s %s (%q), want reason %q", run.Counts, n1, u.State, u.DeactivatedReason, want)
				}
				if e.user(n2).State != store.StateActive {
					t.Errorf("%s deactivated too", n2)
				}
			})
		}
	})
}
