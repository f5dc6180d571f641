package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/store"
)

// Issuers of the IdP link tests, named so that ordering by issuer differs
// from the order the links are created in.
const (
	entraIssuer = "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"
	oktaIssuer  = "https://dirbridge.okta.com"
)

// testIdPLinks pins the binding of users to IdP subjects: the two unique
// keys, exact comparison, the cascade when a user is deleted, and refused
// writes that leave the transaction usable. Each concern is a subtest; they
// build on one another's links, in order, so the first to fail ends the
// run.
func testIdPLinks(t *testing.T, s store.Store) {
	f := newIdPLinkFixture(t, s)
	for _, step := range []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"ReadBack", f.readBack},
		{"Touch", f.touch},
		{"ExactComparison", f.exactComparison},
		{"RefusedWrites", f.refusedWrites},
		{"Rollback", f.rollback},
		{"Delete", f.delete},
		{"DeleteUser", f.deleteUser},
	} {
		if !t.Run(step.name, step.fn) {
			return
		}
	}
}

// idpLinkFixture holds the users of the IdP link tests and their links as
// the store should hold them at the current step: a step that changes a
// link in the store updates it here for the steps after it.
type idpLinkFixture struct {
	ctx     context.Context
	s       store.Store
	a, b, c store.User
	// aEntra and bEntra have set creation times, aOkta one the store sets.
	aEntra, aOkta, bEntra store.IdPLink
	// Links of c added by exactComparison and refusedWrites.
	cUpper, cUpperIss, cOkta store.IdPLink
	// before and after bracket the creation of aOkta.
	before, after time.Time
}

// newIdPLinkFixture creates three users and three links (two IdPs for a,
// one for b) in one transaction, which reads its own links.
func newIdPLinkFixture(t *testing.T, s store.Store) *idpLinkFixture {
	f := &idpLinkFixture{ctx: context.Background(), s: s}
	ctx := f.ctx
	f.a = mustCreateUser(t, s, store.User{Username: "a", Source: store.SourceLocal, State: store.StateActive})
	f.b = mustCreateUser(t, s, store.User{Username: "b", Source: store.SourceLocal, State: store.StateActive})
	f.c = mustCreateUser(t, s, store.User{Username: "c", Source: store.SourceLocal, State: store.StateActive})

	zone := time.FixedZone("UTC-3", -3*3600)
	f.aEntra = store.IdPLink{UserID: f.a.ID, Issuer: entraIssuer, Subject: "oid-a",
		CreatedAt: time.Date(2026, 5, 1, 9, 0, 0, 123456789, zone)}
	f.aOkta = store.IdPLink{UserID: f.a.ID, Issuer: oktaIssuer, Subject: "00u1a"} // CreatedAt set by the store
	f.bEntra = store.IdPLink{UserID: f.b.ID, Issuer: entraIssuer, Subject: "oid-b", CreatedAt: ts(1)}
	f.before = time.Now().Add(-time.Second)
	tx(t, s, func(tx store.Tx) error {
		for _, l := range []store.IdPLink{f.aEntra, f.aOkta, f.bEntra} {
			if err := tx.CreateIdPLink(ctx, l); err != nil {
				return err
			}
		}
		// The transaction reads its own links.
		got, err := tx.GetIdPLink(ctx, oktaIssuer, "00u1a")
		noErr(t, "Tx.GetIdPLink", err)
		equal(t, "Tx.GetIdPLink user", got.UserID, f.a.ID)
		return nil
	})
	f.after = time.Now().Add(time.Second)
	return f
}

// readBack: the links come back as written, times in UTC truncated to the
// microsecond, a zero CreatedAt set to now, lists ordered by issuer, and a
// user without links lists nil.
func (f *idpLinkFixture) readBack(t *testing.T) {
	s, ctx := f.s, f.ctx
	f.aEntra.CreatedAt = time.Date(2026, 5, 1, 12, 0, 0, 123456000, time.UTC)
	got, err := s.GetIdPLink(ctx, entraIssuer, "oid-a")
	noErr(t, "GetIdPLink", err)
	equal(t, "GetIdPLink", got, f.aEntra)
	got, err = s.GetIdPLink(ctx, oktaIssuer, "00u1a")
	noErr(t, "GetIdPLink", err)
	if got.CreatedAt.Before(f.before) || got.CreatedAt.After(f.after) || got.CreatedAt.Location() != time.UTC ||
		got.CreatedAt != got.CreatedAt.Truncate(time.Microsecond) {
		t.Fatalf("CreateIdPLink with a zero CreatedAt stored %v, want now in UTC to the µs", got.CreatedAt)
	}
	f.aOkta.CreatedAt = got.CreatedAt
	equal(t, "GetIdPLink with CreatedAt set by the store", got, f.aOkta)
	list, err := s.ListIdPLinks(ctx, f.a.ID)
	noErr(t, "ListIdPLinks", err)
	equal(t, "ListIdPLinks ordered by issuer", list, []store.IdPLink{f.aOkta, f.aEntra})
	list, err = s.ListIdPLinks(ctx, f.b.ID)
	noErr(t, "ListIdPLinks", err)
	equal(t, "ListIdPLinks of b", list, []store.IdPLink{f.bEntra})
	for _, id := range []string{f.c.ID, "nobody", ""} {
		list, err = s.ListIdPLinks(ctx, id)
		noErr(t, "ListIdPLinks "+id, err)
		if list != nil {
			t.Fatalf("ListIdPLinks(%q) = %+v, want nil", id, list)
		}
	}
}

// touch: a sign-in through a link records when (in UTC, to the µs); an
// unknown link is ErrNotFound and changes nothing.
func (f *idpLinkFixture) touch(t *testing.T) {
	s, ctx := f.s, f.ctx
	seen := time.Date(2026, 6, 1, 8, 30, 0, 987654321, time.FixedZone("UTC-3", -3*3600))
	tx(t, s, func(tx store.Tx) error {
		noErr(t, "TouchIdPLink", tx.TouchIdPLink(ctx, entraIssuer, "oid-b", seen))
		isErr(t, "TouchIdPLink of no link", tx.TouchIdPLink(ctx, entraIssuer, "OID-B", seen), store.ErrNotFound)
		return nil
	})
	got, err := s.GetIdPLink(ctx, entraIssuer, "oid-b")
	noErr(t, "GetIdPLink after TouchIdPLink", err)
	equal(t, "LastSeenAt after TouchIdPLink", got.LastSeenAt, time.Date(2026, 6, 1, 11, 30, 0, 987654000, time.UTC))
	f.bEntra.LastSeenAt = got.LastSeenAt
}

// exactComparison: issuer and subject compare exactly. An IdP's subjects
// and issuers are case-sensitive, so a case variant is someone else, and
// can be linked to another user.
func (f *idpLinkFixture) exactComparison(t *testing.T) {
	s, ctx := f.s, f.ctx
	for _, k := range [][2]string{
		{entraIssuer, "OID-A"}, {strings.ToUpper(entraIssuer), "oid-a"}, {entraIssuer, "oid-a "},
		{entraIssuer + "/", "oid-a"}, {entraIssuer, ""}, {"", "oid-a"},
	} {
		_, err := s.GetIdPLink(ctx, k[0], k[1])
		isErr(t, fmt.Sprintf("GetIdPLink(%q, %q)", k[0], k[1]), err, store.ErrNotFound)
	}
	f.cUpper = store.IdPLink{UserID: f.c.ID, Issuer: entraIssuer, Subject: "OID-A", CreatedAt: ts(2)}
	f.cUpperIss = store.IdPLink{UserID: f.c.ID, Issuer: strings.ToUpper(entraIssuer), Subject: "oid-a", CreatedAt: ts(3)}
	tx(t, s, func(tx store.Tx) error {
		noErr(t, "CreateIdPLink of a subject differing in case", tx.CreateIdPLink(ctx, f.cUpper))
		return tx.CreateIdPLink(ctx, f.cUpperIss)
	})
	list, err := s.ListIdPLinks(ctx, f.c.ID)
	noErr(t, "ListIdPLinks of c", err)
	// Bytewise: upper-case letters sort before lower-case ones.
	equal(t, "ListIdPLinks of c", list, []store.IdPLink{f.cUpperIss, f.cUpper})
}

// refusedWrites: each refused write is refused alone, with the sentinel
// the contract names (or an error wrapping neither for invalid input), and
// the transaction carries on: what it writes afterwards commits.
func (f *idpLinkFixture) refusedWrites(t *testing.T) {
	s, ctx := f.s, f.ctx
	a, b, c := f.a, f.b, f.c
	f.cOkta = store.IdPLink{UserID: c.ID, Issuer: oktaIssuer, Subject: "00u1c", CreatedAt: ts(4)}
	tx(t, s, func(tx store.Tx) error {
		refused := []struct {
			what string
			l    store.IdPLink
			want error // nil: an error wrapping neither sentinel
		}{
			{"(issuer, subject) linked to another user", store.IdPLink{UserID: b.ID, Issuer: oktaIssuer, Subject: "00u1a"}, store.ErrConflict},
			{"a second subject of one user at one IdP", store.IdPLink{UserID: a.ID, Issuer: entraIssuer, Subject: "oid-a-new"}, store.ErrConflict},
			{"the same link again", f.aEntra, store.ErrConflict},
			{"a missing user", store.IdPLink{UserID: "ghost", Issuer: oktaIssuer, Subject: "00u1g"}, store.ErrNotFound},
			{"no user", store.IdPLink{Issuer: oktaIssuer, Subject: "00u1x"}, nil},
			{"no issuer", store.IdPLink{UserID: c.ID, Subject: "00u1x"}, nil},
			{"no subject", store.IdPLink{UserID: c.ID, Issuer: oktaIssuer}, nil},
			{"a NUL byte in the subject", store.IdPLink{UserID: c.ID, Issuer: oktaIssuer, Subject: "00u1c\x00"}, nil},
			{"invalid UTF-8 in the issuer", store.IdPLink{UserID: c.ID, Issuer: "https://idp\xff", Subject: "00u1c"}, nil},
		}
		for _, r := range refused {
			err := tx.CreateIdPLink(ctx, r.l)
			if r.want != nil {
				isErr(t, "CreateIdPLink for "+r.what, err, r.want)
				continue
			}
			if err == nil || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
				t.Fatalf("CreateIdPLink for %s: got %v, want an error wrapping neither ErrConflict nor ErrNotFound", r.what, err)
			}
		}
		return tx.CreateIdPLink(ctx, f.cOkta)
	})
	for _, l := range []store.IdPLink{f.aEntra, f.aOkta, f.bEntra, f.cOkta} {
		got, err := s.GetIdPLink(ctx, l.Issuer, l.Subject)
		noErr(t, "GetIdPLink after the refused writes", err)
		equal(t, "link after the refused writes", got, l)
	}
	list, err := s.ListIdPLinks(ctx, c.ID)
	noErr(t, "ListIdPLinks of c", err)
	equal(t, "links of c after the refused writes", list, []store.IdPLink{f.cUpperIss, f.cOkta, f.cUpper})
	for _, k := range [][2]string{{entraIssuer, "oid-a-new"}, {oktaIssuer, "00u1g"}, {oktaIssuer, "00u1x"}} {
		_, err := s.GetIdPLink(ctx, k[0], k[1])
		isErr(t, "refused link "+k[1], err, store.ErrNotFound)
	}
}

// rollback: a rolled-back transaction leaves the links as they were, and
// Tx returns fn's error unchanged.
func (f *idpLinkFixture) rollback(t *testing.T) {
	s, ctx, b := f.s, f.ctx, f.b
	sentinel := errors.New("sign-in refused later")
	err := s.Tx(ctx, func(tx store.Tx) error {
		noErr(t, "DeleteIdPLink", tx.DeleteIdPLink(ctx, b.ID, entraIssuer))
		noErr(t, "CreateIdPLink", tx.CreateIdPLink(ctx, store.IdPLink{UserID: b.ID, Issuer: entraIssuer, Subject: "oid-b-2"}))
		noErr(t, "CreateIdPLink", tx.CreateIdPLink(ctx, store.IdPLink{UserID: b.ID, Issuer: oktaIssuer, Subject: "00u1b"}))
		return sentinel
	})
	if err != sentinel { //nolint:errorlint // the contract is "fn's error unchanged"
		t.Fatalf("Tx returned %v, want fn's error unchanged", err)
	}
	list, err := s.ListIdPLinks(ctx, b.ID)
	noErr(t, "ListIdPLinks after rollback", err)
	equal(t, "links of b after rollback", list, []store.IdPLink{f.bEntra})
	_, err = s.GetIdPLink(ctx, oktaIssuer, "00u1b")
	isErr(t, "link created in a rolled-back Tx", err, store.ErrNotFound)
}

// delete: a link is deleted by user and issuer, exactly; a deleted link
// frees both keys, so an administrator can re-link a user whose subject
// changed.
func (f *idpLinkFixture) delete(t *testing.T) {
	s, ctx, a, b := f.s, f.ctx, f.a, f.b
	tx(t, s, func(tx store.Tx) error { return tx.DeleteIdPLink(ctx, a.ID, entraIssuer) })
	_, err := s.GetIdPLink(ctx, entraIssuer, "oid-a")
	isErr(t, "GetIdPLink after DeleteIdPLink", err, store.ErrNotFound)
	for _, d := range []struct{ user, issuer string }{
		{a.ID, entraIssuer},                  // twice
		{b.ID, oktaIssuer},                   // b has no link there
		{"ghost", entraIssuer},               // no such user
		{b.ID, strings.ToUpper(entraIssuer)}, // exact issuer only
		{b.ID, ""},
	} {
		err := s.Tx(ctx, func(tx store.Tx) error { return tx.DeleteIdPLink(ctx, d.user, d.issuer) })
		isErr(t, fmt.Sprintf("DeleteIdPLink(%q, %q)", d.user, d.issuer), err, store.ErrNotFound)
	}
	_, err = s.GetIdPLink(ctx, entraIssuer, "oid-b")
	noErr(t, "b's link after the refused deletes", err)
	aEntraNew := store.IdPLink{UserID: a.ID, Issuer: entraIssuer, Subject: "oid-a-new", CreatedAt: ts(5)}
	tx(t, s, func(tx store.Tx) error { return tx.CreateIdPLink(ctx, aEntraNew) })
	list, err := s.ListIdPLinks(ctx, a.ID)
	noErr(t, "ListIdPLinks after re-link", err)
	equal(t, "links of a after re-link", list, []store.IdPLink{f.aOkta, aEntraNew})
	f.aEntra = aEntraNew
}

// deleteUser: deleting a user deletes its links, and no one else's; the
// deleted user's subject is free for whoever is linked next.
func (f *idpLinkFixture) deleteUser(t *testing.T) {
	s, ctx, a, b := f.s, f.ctx, f.a, f.b
	tx(t, s, func(tx store.Tx) error { return tx.DeleteUser(ctx, a.ID) })
	for _, l := range []store.IdPLink{f.aOkta, f.aEntra} {
		_, err := s.GetIdPLink(ctx, l.Issuer, l.Subject)
		isErr(t, "link of a deleted user", err, store.ErrNotFound)
	}
	list, err := s.ListIdPLinks(ctx, a.ID)
	noErr(t, "ListIdPLinks of a deleted user", err)
	if list != nil {
		t.Fatalf("links of a deleted user: %+v", list)
	}
	list, err = s.ListIdPLinks(ctx, b.ID)
	noErr(t, "ListIdPLinks of b", err)
	equal(t, "links of b after a was deleted", list, []store.IdPLink{f.bEntra})
	tx(t, s, func(tx store.Tx) error {
		return tx.CreateIdPLink(ctx, store.IdPLink{UserID: b.ID, Issuer: oktaIssuer, Subject: "00u1a"})
	})
}
