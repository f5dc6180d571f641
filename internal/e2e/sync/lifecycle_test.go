package synce2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/google/uuid"

	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/engine"
)

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
