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

	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/engine"
)

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
				// In an OU of the test's own: the big group's OU is shared.
				group, n = s.group(t, s.ou(t, "e2e-cut-lookup"), "big-lookup", members...), c.n
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

// Every way of connecting reads the same directory: LDAPS, LDAP upgraded
// with StartTLS, and plain LDAP (allowed for reads; pass-through sign-in
// refuses it unless told otherwise), with a page size of 2 so searches
// span pages on each.
func TestConnectionKinds(t *testing.T) {
	forEachServer(t, func(t *testing.T, s server) {
		ou := s.ou(t, "e2e-conn")
		group := s.group(t, ou, "conn-group", users(t, s, ou, names("conn-", 5)...)...)
		for _, c := range []struct {
			name     string
			url      string
			startTLS bool
		}{
			{"ldaps", "ldaps://" + s.ldapsAddr(), false},
			{"starttls", s.plainURL(), true},
			{"plain", s.plainURL(), false},
		} {
			t.Run(c.name, func(t *testing.T) {
				o := s.opts(t)
				o.URLs, o.StartTLS = []string{c.url}, c.startTLS
				o.Groups = []string{group}
				o.PageSize = 2
				e := newEnv(t, o)
				e.sync(true)
				if got := e.active(); !slices.Equal(got, names("conn-", 5)) {
					t.Errorf("active = %v", got)
				}
			})
		}
	})
}

// An incremental read cut short changes nothing either, and the cursor
// stays where it was, so the next incremental still sees the change.
func TestStoppedMidIncremental(t *testing.T) {
	forEachServer(t, func(t *testing.T, s server) {
		ou := s.ou(t, "e2e-cut-incr")
		dns := users(t, s, ou, names("cutinc-", 40)...)
		group := s.group(t, ou, "cutinc-group", dns[:20]...)
		p := newCutProxy(t, s.ldapsAddr())
		o := s.opts(t)
		o.URLs = []string{"ldaps://" + p.addr()}
		o.Groups = []string{group}
		e := newEnv(t, o)
		e.sync(true)
		s.addMembers(t, group, dns[20:]...)

		// A dry run reads what the real one will, and says how much.
		p.reset(0)
		dry, err := e.run(engine.Request{DryRun: true})
		if err != nil || dry.Full || dry.Counts.Created != 20 {
			t.Fatalf("dry incremental: full %v, %+v, %v", dry.Full, dry.Counts, err)
		}
		whole := p.sent.Load()
		before := e.state()

		p.reset(whole / 2)
		run, err := e.run(engine.Request{})
		if err == nil || run.Status != store.SyncFailed || !strings.Contains(run.Error, "directory unavailable") {
			t.Fatalf("incremental cut at %d of %d bytes: %s %v %q", whole/2, whole, run.Status, err, run.Error)
		}
		t.Logf("cut after %d of %d bytes: %s", p.sent.Load(), whole, run.Error)
		e.unchanged(before)

		p.reset(0)
		if run := e.sync(false); run.Full || run.Counts.Created != 20 {
			t.Errorf("incremental after the cut: full %v, %+v", run.Full, run.Counts)
		}
	})
}
