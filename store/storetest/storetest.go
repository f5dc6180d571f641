// Package storetest is the one conformance suite every store backend
// passes. A backend's test file calls Run with a function that opens a
// fresh, empty, migrated store and closes it at the test's cleanup:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { ... })
//	}
//
// What the suite pins beyond the interface's comments: times come back in
// UTC truncated to the microsecond (the zero time stays zero); usernames,
// e-mail addresses and UPNs compare without case, IdP issuers and subjects
// exactly; a nil slice and an empty one stay apart; single-row writes to a
// missing row return ErrNotFound; foreign rows naming a missing user or
// key return ErrNotFound; List methods return nil, not an error, when
// nothing matches; a write refused with ErrConflict or ErrNotFound inside
// a Tx undoes only itself (fn may carry on); lookups by a key no backend
// can store (a NUL byte, invalid UTF-8) find nothing rather than fail; a
// Store write inside a Tx callback never outlives its context (SQLite: it
// fails naming the cause; PostgreSQL: it commits apart).
//
// MigrationsStepByStep and MigrationsDownUp check a backend's migrations:
// one version at a time with data written between the steps, and every
// Down undoing its Up.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/store"
)

// Run runs every conformance test against stores made by open. Each test
// gets a store of its own.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"UserRoundTrip", testUserRoundTrip},
		{"UserNilAndEmpty", testUserNilAndEmpty},
		{"UserLookups", testUserLookups},
		{"UserConflicts", testUserConflicts},
		{"HostileLookupKeys", testHostileKeys},
		{"UserUpdateVersion", testUserUpdateVersion},
		{"UserDelete", testUserDelete},
		{"ListUsers", testListUsers},
		{"EachUserAndEntry", testEach},
		{"UserFilters", testUserFilters},
		{"Profiles", testProfiles},
		{"DirectoryEntries", testDirectoryEntries},
		{"DirectoryState", testDirectoryState},
		{"SyncRuns", testSyncRuns},
		{"Sessions", testSessions},
		{"APIKeysAndTokens", testAPIKeys},
		{"IdPLinks", testIdPLinks},
		{"ProvisioningTokens", testProvisioningTokens},
		{"ImportGroups", testImportGroups},
		{"Teams", testTeams},
		{"Audit", testAudit},
		{"Lockout", testLockout},
		{"LockoutConcurrent", testLockoutConcurrent},
		{"TxRollback", testTxRollback},
		{"TxRollbackOnPanic", testTxPanic},
		{"TxIsolation", testTxIsolation},
		{"TxContinuesAfterFailedWrite", testTxContinues},
		{"Times", testTimes},
		{"ContextCancelled", testCancelled},
		{"RecordOnce", testRecordOnce},
		{"Ephemeral", testEphemeral},
		{"UpdateEphemeral", testUpdateEphemeral},
		{"UpdateEphemeralConcurrent", testUpdateEphemeralConcurrent},
		{"Lease", testLease},
		{"PingAndMigrations", testPingMigrations},
		{"BulkWriterAndDirectoryLookup", testBulkAndLookup},
		{"StoreWriteInsideTx", testStoreWriteInsideTx},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

// tx runs fn in a transaction and fails the test on error.
func tx(t *testing.T, s store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := s.Tx(context.Background(), fn); err != nil {
		t.Fatalf("Tx: %v", err)
	}
}

func mustCreateUser(t *testing.T, s store.Store, u store.User) store.User {
	t.Helper()
	tx(t, s, func(tx store.Tx) error { return tx.CreateUser(context.Background(), &u) })
	return u
}

func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func isErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want one wrapping %v", what, err, target)
	}
}

func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// ts is a fixed instant with microseconds, in UTC.
func ts(sec int) time.Time {
	return time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC).Add(time.Duration(sec) * time.Second)
}

func fullUser() store.User {
	return store.User{
		Username:             "Alice.Smith",
		DisplayName:          "Alice Smith",
		FirstName:            "Alice",
		LastName:             "Smith",
		Email:                "Alice.Smith@Example.com",
		Language:             "en",
		State:                store.StateActive,
		Source:               "corp",
		Anchor:               "3q2+7w==",
		DN:                   "CN=Alice Smith,OU=Agents,DC=corp,DC=example,DC=com",
		UPN:                  "Alice.Smith@corp.example.com",
		SAMAccountName:       "asmith",
		Profile:              "Agent",
		CustomPrivileges:     []string{"bypass_sso", "app.reports"},
		Units:                []string{"HQ", "Sales"},
		Superuser:            true,
		Fields:               map[string]string{"extension": "4711", "site": "Zürich"},
		PinnedProfile:        true,
		PinnedUnits:          true,
		PasswordHash:         "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
		PasswordHistory:      []string{"$argon2id$old1", "$argon2id$old2"},
		PasswordChangedAt:    ts(1),
		PasswordExpiresAt:    ts(2),
		PasswordNeverExpires: true,
		MustChangePassword:   true,
		AccountExpiresAt:     ts(3),
		Emergency:            true,
		ExpiresAt:            ts(4),
	}
}

func testUserRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	in := fullUser()
	created := in
	before := time.Now().Add(-time.Second)
	tx(t, s, func(tx store.Tx) error { return tx.CreateUser(ctx, &created) })
	if created.ID == "" || created.Version != 1 || created.CreatedAt.Before(before) || created.UpdatedAt.IsZero() {
		t.Fatalf("CreateUser did not set ID, Version, CreatedAt, UpdatedAt: %+v", created)
	}
	if created.CreatedAt.Location() != time.UTC {
		t.Fatalf("CreatedAt not UTC: %v", created.CreatedAt)
	}
	want := in
	want.ID, want.Version, want.CreatedAt, want.UpdatedAt = created.ID, 1, created.CreatedAt, created.UpdatedAt
	equal(t, "CreateUser result", created, want)

	got, err := s.GetUser(ctx, created.ID)
	noErr(t, "GetUser", err)
	equal(t, "GetUser", got, want)

	// Reads inside a transaction see the same.
	tx(t, s, func(tx store.Tx) error {
		got, err := tx.GetUser(ctx, created.ID)
		noErr(t, "Tx.GetUser", err)
		equal(t, "Tx.GetUser", got, want)
		return nil
	})

	// A user with an ID chosen by the caller keeps it.
	own := store.User{ID: "user-42", Username: "bob", State: store.StateInactive,
		DeactivatedReason: "left all imported groups", Source: store.SourceLocal}
	own = mustCreateUser(t, s, own)
	got, err = s.GetUser(ctx, "user-42")
	noErr(t, "GetUser own id", err)
	equal(t, "GetUser own id", got, own)

	_, err = s.GetUser(ctx, "nobody")
	isErr(t, "GetUser missing", err, store.ErrNotFound)
}

func testUserNilAndEmpty(t *testing.T, s store.Store) {
	ctx := context.Background()
	nilU := mustCreateUser(t, s, store.User{Username: "nil", Source: store.SourceLocal, State: store.StateActive})
	emptyU := mustCreateUser(t, s, store.User{Username: "empty", Source: store.SourceLocal, State: store.StateActive,
		CustomPrivileges: []string{}, Units: []string{}, Fields: map[string]string{}, PasswordHistory: []string{}})
	got, err := s.GetUser(ctx, nilU.ID)
	noErr(t, "GetUser nil", err)
	if got.CustomPrivileges != nil || got.Units != nil || got.Fields != nil || got.PasswordHistory != nil {
		t.Fatalf("nil slices/maps came back non-nil: %+v", got)
	}
	got, err = s.GetUser(ctx, emptyU.ID)
	noErr(t, "GetUser empty", err)
	if got.CustomPrivileges == nil || len(got.CustomPrivileges) != 0 {
		t.Fatalf("empty CustomPrivileges came back as %#v; nil means no custom set, empty means none", got.CustomPrivileges)
	}
	equal(t, "GetUser empty", got, emptyU)
}

func testUserLookups(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := mustCreateUser(t, s, fullUser())
	b := fullUser()
	b.Username, b.Anchor, b.UPN, b.SAMAccountName = "other", "AAAA", "other@corp.example.com", "other"
	b = mustCreateUser(t, s, b) // same e-mail as a

	got, err := s.GetUserByUsername(ctx, "alice.SMITH")
	noErr(t, "GetUserByUsername other case", err)
	equal(t, "GetUserByUsername", got.ID, a.ID)
	_, err = s.GetUserByUsername(ctx, "nobody")
	isErr(t, "GetUserByUsername missing", err, store.ErrNotFound)

	for _, c := range []struct {
		key   store.UserKey
		value string
		want  []string
	}{
		{store.KeyUsername, "ALICE.smith", []string{a.ID}},
		{store.KeyEmail, "alice.smith@example.COM", []string{a.ID, b.ID}},
		{store.KeyUPN, "alice.smith@CORP.example.com", []string{a.ID}},
		{store.KeyAnchor, "3q2+7w==", []string{a.ID}},
		{store.KeyAnchor, "3Q2+7W==", nil}, // anchors are exact
		{store.KeySAM, "asmith", []string{a.ID}},
		{store.KeyEmail, "nobody@example.com", nil},
		{store.KeyEmail, "", nil},
	} {
		us, err := s.FindUsers(ctx, c.key, c.value)
		noErr(t, fmt.Sprintf("FindUsers(%s, %q)", c.key, c.value), err)
		var ids []string
		for _, u := range us {
			ids = append(ids, u.ID)
		}
		if len(ids) != len(c.want) {
			t.Fatalf("FindUsers(%s, %q) = %v, want %v", c.key, c.value, ids, c.want)
		}
		seen := map[string]bool{}
		for _, id := range ids {
			seen[id] = true
		}
		for _, id := range c.want {
			if !seen[id] {
				t.Fatalf("FindUsers(%s, %q) = %v, want %v", c.key, c.value, ids, c.want)
			}
		}
	}
}

// testHostileKeys: lookups by keys a client chose (a username typed at
// sign-in, an OIDC state from the query string, a cookie) find nothing
// when the key holds a NUL byte or invalid UTF-8, rather than fail:
// PostgreSQL text cannot hold them, SQLite simply matches nothing.
func testHostileKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreateUser(t, s, fullUser())
	for _, key := range []string{"alice.smith\x00", "\x00", "alice\xff.smith", "\xc3\x28"} {
		_, err := s.GetUserByUsername(ctx, key)
		isErr(t, fmt.Sprintf("GetUserByUsername(%q)", key), err, store.ErrNotFound)
		_, err = s.GetUser(ctx, key)
		isErr(t, fmt.Sprintf("GetUser(%q)", key), err, store.ErrNotFound)
		for _, k := range []store.UserKey{store.KeyUsername, store.KeyEmail, store.KeyUPN, store.KeyAnchor, store.KeySAM} {
			us, err := s.FindUsers(ctx, k, key)
			noErr(t, fmt.Sprintf("FindUsers(%s, %q)", k, key), err)
			if len(us) != 0 {
				t.Fatalf("FindUsers(%s, %q) = %d users", k, key, len(us))
			}
		}
		// A query is a substring of one field; what it matches when it
		// holds the byte a backend separates fields with is not pinned.
		_, err = s.ListUsers(ctx, store.UserFilter{Query: key})
		noErr(t, fmt.Sprintf("ListUsers(Query: %q)", key), err)
		_, err = s.GetSession(ctx, key)
		isErr(t, fmt.Sprintf("GetSession(%q)", key), err, store.ErrNotFound)
		_, err = s.GetAPIKeyByHash(ctx, key)
		isErr(t, fmt.Sprintf("GetAPIKeyByHash(%q)", key), err, store.ErrNotFound)
		_, err = s.GetToken(ctx, key)
		isErr(t, fmt.Sprintf("GetToken(%q)", key), err, store.ErrNotFound)
		_, err = s.TakeEphemeral(ctx, "oidc", key)
		isErr(t, fmt.Sprintf("TakeEphemeral(%q)", key), err, store.ErrNotFound)
		_, err = s.GetProfile(ctx, key)
		isErr(t, fmt.Sprintf("GetProfile(%q)", key), err, store.ErrNotFound)
		_, err = s.GetIdPLink(ctx, key, "subject")
		isErr(t, fmt.Sprintf("GetIdPLink(%q, subject)", key), err, store.ErrNotFound)
		_, err = s.GetIdPLink(ctx, "https://idp.example.com", key)
		isErr(t, fmt.Sprintf("GetIdPLink(issuer, %q)", key), err, store.ErrNotFound)
		links, err := s.ListIdPLinks(ctx, key)
		noErr(t, fmt.Sprintf("ListIdPLinks(%q)", key), err)
		if len(links) != 0 {
			t.Fatalf("ListIdPLinks(%q) = %d links", key, len(links))
		}
		// A refused write inside a Tx, not a failed transaction.
		err = s.Tx(ctx, func(tx store.Tx) error { return tx.DeleteIdPLink(ctx, key, key) })
		isErr(t, fmt.Sprintf("DeleteIdPLink(%q)", key), err, store.ErrNotFound)
	}
}

func testUserConflicts(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreateUser(t, s, fullUser())
	create := func(u store.User) error {
		return s.Tx(ctx, func(tx store.Tx) error { return tx.CreateUser(ctx, &u) })
	}
	dupName := fullUser()
	dupName.Username, dupName.Anchor = "ALICE.SMITH", "other-anchor"
	isErr(t, "CreateUser duplicate username (other case)", create(dupName), store.ErrConflict)

	dupAnchor := fullUser()
	dupAnchor.Username = "someone-else"
	isErr(t, "CreateUser duplicate (source, anchor)", create(dupAnchor), store.ErrConflict)

	otherDir := dupAnchor
	otherDir.Source = "other-directory"
	noErr(t, "CreateUser same anchor, other source", create(otherDir))

	// Local users have no anchor; many may coexist.
	noErr(t, "CreateUser local 1", create(store.User{Username: "l1", Source: store.SourceLocal, State: store.StateActive}))
	noErr(t, "CreateUser local 2", create(store.User{Username: "l2", Source: store.SourceLocal, State: store.StateActive}))

	dupID := store.User{ID: "fixed", Username: "x1", Source: store.SourceLocal, State: store.StateActive}
	noErr(t, "CreateUser fixed id", create(dupID))
	dupID.Username = "x2"
	isErr(t, "CreateUser duplicate id", create(dupID), store.ErrConflict)

	// Renaming onto a taken username conflicts too.
	u := mustCreateUser(t, s, store.User{Username: "renamer", Source: store.SourceLocal, State: store.StateActive})
	u.Username = "Alice.Smith"
	err := s.Tx(ctx, func(tx store.Tx) error { return tx.UpdateUser(ctx, &u) })
	isErr(t, "UpdateUser onto taken username", err, store.ErrConflict)
}

func testUserUpdateVersion(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, s, fullUser())
	stale := u

	u.DisplayName = "Alice Jones"
	u.Units = []string{"Support"}
	u.CustomPrivileges = nil
	u.State = store.StateInactive
	u.DeactivatedReason = "disabled in directory"
	time.Sleep(2 * time.Millisecond) // UpdatedAt must move
	tx(t, s, func(tx store.Tx) error { return tx.UpdateUser(ctx, &u) })
	if u.Version != 2 || !u.UpdatedAt.After(stale.UpdatedAt) {
		t.Fatalf("UpdateUser did not bump Version/UpdatedAt: version %d, updated %v (was %v)", u.Version, u.UpdatedAt, stale.UpdatedAt)
	}
	got, err := s.GetUser(ctx, u.ID)
	noErr(t, "GetUser", err)
	equal(t, "GetUser after update", got, u)
	if !got.CreatedAt.Equal(stale.CreatedAt) {
		t.Fatalf("UpdateUser changed CreatedAt")
	}

	stale.DisplayName = "lost update"
	err = s.Tx(ctx, func(tx store.Tx) error { return tx.UpdateUser(ctx, &stale) })
	isErr(t, "UpdateUser stale version", err, store.ErrConflict)
	if stale.Version != 1 {
		t.Fatalf("failed UpdateUser changed the caller's Version to %d", stale.Version)
	}
	got, _ = s.GetUser(ctx, u.ID)
	equal(t, "user after stale update", got, u)

	missing := store.User{ID: "missing", Username: "m", Version: 1, Source: store.SourceLocal, State: store.StateActive}
	err = s.Tx(ctx, func(tx store.Tx) error { return tx.UpdateUser(ctx, &missing) })
	isErr(t, "UpdateUser missing", err, store.ErrNotFound)
}

func testUserDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, s, fullUser())
	keep := mustCreateUser(t, s, store.User{Username: "keep", Source: store.SourceLocal, State: store.StateActive})
	tx(t, s, func(tx store.Tx) error {
		noErr(t, "CreateSession", tx.CreateSession(ctx, store.Session{ID: "s1", UserID: u.ID, ExpiresAt: ts(3600)}))
		noErr(t, "CreateSession", tx.CreateSession(ctx, store.Session{ID: "s2", UserID: keep.ID, ExpiresAt: ts(3600)}))
		noErr(t, "CreateAPIKey", tx.CreateAPIKey(ctx, store.APIKey{ID: "k1", UserID: u.ID, Hash: "h1"}))
		noErr(t, "CreateToken", tx.CreateToken(ctx, store.Token{ID: "t1", KeyID: "k1", UserID: u.ID}))
		noErr(t, "PutLockout", tx.PutLockout(ctx, store.Lockout{UserID: u.ID, FailedAttempts: 2}))
		return tx.PutDirectoryEntries(ctx, []store.DirectoryEntry{{Directory: "corp", Anchor: u.Anchor,
			Kind: store.EntryUser, UserID: u.ID}})
	})
	tx(t, s, func(tx store.Tx) error { return tx.DeleteUser(ctx, u.ID) })
	_, err := s.GetUser(ctx, u.ID)
	isErr(t, "GetUser deleted", err, store.ErrNotFound)
	_, err = s.GetSession(ctx, "s1")
	isErr(t, "GetSession of deleted user", err, store.ErrNotFound)
	_, err = s.GetSession(ctx, "s2")
	noErr(t, "GetSession of other user", err)
	_, err = s.GetAPIKey(ctx, "k1")
	isErr(t, "GetAPIKey of deleted user", err, store.ErrNotFound)
	_, err = s.GetToken(ctx, "t1")
	isErr(t, "GetToken of deleted user", err, store.ErrNotFound)
	_, err = s.GetLockout(ctx, u.ID)
	isErr(t, "GetLockout of deleted user", err, store.ErrNotFound)
	e, err := s.GetDirectoryEntry(ctx, "corp", u.Anchor)
	noErr(t, "GetDirectoryEntry of deleted user", err)
	if e.UserID != "" {
		t.Fatalf("entry still mapped to deleted user: %+v", e)
	}
	err = s.Tx(ctx, func(tx store.Tx) error { return tx.DeleteUser(ctx, u.ID) })
	isErr(t, "DeleteUser twice", err, store.ErrNotFound)
}

func testListUsers(t *testing.T, s store.Store) {
	ctx := context.Background()
	type spec struct {
		name, display, email, source, profile string
		state                                 store.UserState
	}
	specs := []spec{
		{"carol", "Carol King", "carol@example.com", "corp", "Agent", store.StateActive},
		{"alice", "Alice Smith", "alice@example.com", "corp", "Agent", store.StateActive},
		{"Bob", "Bob Müller", "bob@other.org", "corp", "Supervisor", store.StateInactive},
		{"dave", "Dave Null", "dave@example.com", store.SourceLocal, "", store.StateActive},
		{"eve", "Eve Adams", "EVE@EXAMPLE.COM", "lab", "Agent", store.StateActive},
	}
	tx(t, s, func(tx store.Tx) error {
		for i, sp := range specs {
			u := store.User{Username: sp.name, DisplayName: sp.display, Email: sp.email, Source: sp.source,
				Profile: sp.profile, State: sp.state}
			if sp.source != store.SourceLocal {
				u.Anchor = fmt.Sprintf("anchor-%d", i)
			}
			if err := tx.CreateUser(ctx, &u); err != nil {
				return err
			}
		}
		return nil
	})
	names := func(us []store.User) []string {
		var out []string
		for _, u := range us {
			out = append(out, u.Username)
		}
		return out
	}
	for _, c := range []struct {
		f    store.UserFilter
		want []string
	}{
		{store.UserFilter{}, []string{"alice", "Bob", "carol", "dave", "eve"}},
		{store.UserFilter{Source: "corp"}, []string{"alice", "Bob", "carol"}},
		{store.UserFilter{State: store.StateInactive}, []string{"Bob"}},
		{store.UserFilter{Profile: "Agent"}, []string{"alice", "carol", "eve"}},
		{store.UserFilter{Query: "example.com"}, []string{"alice", "carol", "dave", "eve"}},
		{store.UserFilter{Query: "MÜLLER"}, []string{"Bob"}},
		{store.UserFilter{Query: "AL"}, []string{"alice"}},
		{store.UserFilter{Query: "%"}, nil}, // no wildcard semantics
		{store.UserFilter{Source: "corp", State: store.StateActive, Query: "a"}, []string{"alice", "carol"}},
		{store.UserFilter{Limit: 2}, []string{"alice", "Bob"}},
		{store.UserFilter{Limit: 2, Offset: 2}, []string{"carol", "dave"}},
		{store.UserFilter{Limit: 2, Offset: 4}, []string{"eve"}},
		{store.UserFilter{Offset: 3}, []string{"dave", "eve"}},
		{store.UserFilter{Source: "nowhere"}, nil},
	} {
		us, err := s.ListUsers(ctx, c.f)
		noErr(t, fmt.Sprintf("ListUsers(%+v)", c.f), err)
		equal(t, fmt.Sprintf("ListUsers(%+v)", c.f), names(us), c.want)
		n, err := s.CountUsers(ctx, c.f)
		noErr(t, fmt.Sprintf("CountUsers(%+v)", c.f), err)
		paged := c.f.Limit > 0 || c.f.Offset > 0
		if !paged && n != len(c.want) {
			t.Fatalf("CountUsers(%+v) = %d, want %d", c.f, n, len(c.want))
		}
		if paged && n != 5 {
			t.Fatalf("CountUsers(%+v) = %d, want 5 (Limit and Offset ignored)", c.f, n)
		}
	}
}

func testProfiles(t *testing.T, s store.Store) {
	ctx := context.Background()
	agent := store.Profile{Name: "Agent", Description: "Handles calls", Privileges: []string{"app.calls", "app.chat"},
		FromConfig: true, CreatedAt: ts(0), UpdatedAt: ts(1)}
	empty := store.Profile{Name: "Nobody", Privileges: []string{}}
	tx(t, s, func(tx store.Tx) error {
		noErr(t, "PutProfile", tx.PutProfile(ctx, agent))
		return tx.PutProfile(ctx, empty)
	})
	got, err := s.GetProfile(ctx, "Agent")
	noErr(t, "GetProfile", err)
	equal(t, "GetProfile", got, agent)
	got, err = s.GetProfile(ctx, "Nobody")
	noErr(t, "GetProfile empty", err)
	if got.CreatedAt.IsZero() || got.UpdatedAt.IsZero() || got.Privileges == nil || len(got.Privileges) != 0 {
		t.Fatalf("PutProfile with zero times / empty privileges: %+v", got)
	}

	agent2 := agent
	agent2.Description, agent2.Privileges, agent2.FromConfig = "Handles calls and mail", []string{"app.mail"}, false
	agent2.CreatedAt, agent2.UpdatedAt = ts(100), ts(101)
	tx(t, s, func(tx store.Tx) error { return tx.PutProfile(ctx, agent2) })
	got, err = s.GetProfile(ctx, "Agent")
	noErr(t, "GetProfile replaced", err)
	want := agent2
	want.CreatedAt = agent.CreatedAt // a replaced profile keeps its creation time
	equal(t, "GetProfile replaced", got, want)

	list, err := s.ListProfiles(ctx)
	noErr(t, "ListProfiles", err)
	if len(list) != 2 || list[0].Name != "Agent" || list[1].Name != "Nobody" {
		t.Fatalf("ListProfiles = %+v", list)
	}
	tx(t, s, func(tx store.Tx) error { return tx.DeleteProfile(ctx, "Nobody") })
	_, err = s.GetProfile(ctx, "Nobody")
	isErr(t, "GetProfile deleted", err, store.ErrNotFound)
	err = s.Tx(ctx, func(tx store.Tx) error { return tx.DeleteProfile(ctx, "Nobody") })
	isErr(t, "DeleteProfile missing", err, store.ErrNotFound)
}

func testDirectoryEntries(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, s, fullUser())
	const n = 1000 // crosses the backends' batch sizes
	var entries []store.DirectoryEntry
	for i := range n {
		entries = append(entries, store.DirectoryEntry{
			Directory:  "corp",
			Anchor:     fmt.Sprintf("a%04d", i),
			Kind:       store.EntryUser,
			DN:         fmt.Sprintf("CN=User %d,OU=Agents,DC=corp", i),
			Name:       fmt.Sprintf("user%d", i),
			Attributes: map[string][]string{"mail": {fmt.Sprintf("user%d@example.com", i)}, "proxyAddresses": {"a", "b"}},
			Groups:     []string{"g1", "g2"},
			UpdatedAt:  ts(i),
		})
	}
	entries[0].UserID = u.ID
	entries[1].Attributes, entries[1].Groups = nil, nil
	entries = append(entries, store.DirectoryEntry{Directory: "corp", Anchor: "g1", Kind: store.EntryGroup,
		Name: "CC-Agents", Groups: []string{"a0000"}, UpdatedAt: ts(5)})
	// A duplicate in one call: the last one wins.
	dup := entries[2]
	dup.Name = "renamed"
	entries = append(entries, dup)
	entries = append(entries, store.DirectoryEntry{Directory: "lab", Anchor: "a0000", Kind: store.EntryUser, UpdatedAt: ts(0)})

	tx(t, s, func(tx store.Tx) error { return tx.PutDirectoryEntries(ctx, entries) })

	list, err := s.ListDirectoryEntries(ctx, "corp")
	noErr(t, "ListDirectoryEntries", err)
	if len(list) != n+1 {
		t.Fatalf("ListDirectoryEntries = %d entries, want %d", len(list), n+1)
	}
	byAnchor := map[string]store.DirectoryEntry{}
	for _, e := range list {
		byAnchor[e.Anchor] = e
	}
	equal(t, "entry 0", byAnchor["a0000"], entries[0])
	equal(t, "entry 1 (nil maps)", byAnchor["a0001"], entries[1])
	equal(t, "entry 2 (duplicate, last wins)", byAnchor["a0002"], dup)
	equal(t, "group entry", byAnchor["g1"], entries[n])
	got, err := s.GetDirectoryEntry(ctx, "corp", "a0999")
	noErr(t, "GetDirectoryEntry", err)
	equal(t, "GetDirectoryEntry", got, entries[999])
	_, err = s.GetDirectoryEntry(ctx, "corp", "nope")
	isErr(t, "GetDirectoryEntry missing", err, store.ErrNotFound)

	// Replace: unmapped now, new attributes; zero UpdatedAt set to now.
	repl := entries[0]
	repl.UserID, repl.Attributes, repl.UpdatedAt = "", map[string][]string{"mail": {"new@example.com"}}, time.Time{}
	repl.Unmapped = true // an administrator's unmap, remembered
	tx(t, s, func(tx store.Tx) error { return tx.PutDirectoryEntries(ctx, []store.DirectoryEntry{repl}) })
	got, err = s.GetDirectoryEntry(ctx, "corp", "a0000")
	noErr(t, "GetDirectoryEntry replaced", err)
	if got.UserID != "" || !got.Unmapped || got.UpdatedAt.IsZero() || got.Attributes["mail"][0] != "new@example.com" {
		t.Fatalf("replaced entry = %+v", got)
	}
	if l, err := s.ListDirectoryEntries(ctx, "corp"); err != nil || !slices.ContainsFunc(l, func(e store.DirectoryEntry) bool { return e.Anchor == "a0000" && e.Unmapped }) {
		t.Fatalf("ListDirectoryEntries after unmap: err %v, unmapped flag lost", err)
	}

	tx(t, s, func(tx store.Tx) error { return tx.DeleteDirectoryEntry(ctx, "corp", "a0000") })
	_, err = s.GetDirectoryEntry(ctx, "corp", "a0000")
	isErr(t, "GetDirectoryEntry deleted", err, store.ErrNotFound)
	err = s.Tx(ctx, func(tx store.Tx) error { return tx.DeleteDirectoryEntry(ctx, "corp", "a0000") })
	isErr(t, "DeleteDirectoryEntry missing", err, store.ErrNotFound)
	lab, err := s.ListDirectoryEntries(ctx, "lab")
	noErr(t, "ListDirectoryEntries lab", err)
	if len(lab) != 1 {
		t.Fatalf("lab entries = %+v", lab)
	}
	none, err := s.ListDirectoryEntries(ctx, "nowhere")
	noErr(t, "ListDirectoryEntries empty", err)
	if len(none) != 0 {
		t.Fatalf("ListDirectoryEntries(nowhere) = %+v", none)
	}

	// Entries mapped to a user that does not exist are refused (at the
	// latest when the transaction commits) and leave nothing behind.
	err = s.Tx(ctx, func(tx store.Tx) error {
		return tx.PutDirectoryEntries(ctx, []store.DirectoryEntry{{Directory: "x", Anchor: "y", Kind: store.EntryUser, UserID: "ghost"}})
	})
	isErr(t, "PutDirectoryEntries with missing user", err, store.ErrNotFound)
	_, err = s.GetDirectoryEntry(ctx, "x", "y")
	isErr(t, "entry of refused transaction", err, store.ErrNotFound)

	// Within one transaction, an entry may name a user created after it.
	tx(t, s, func(tx store.Tx) error {
		noErr(t, "PutDirectoryEntries before user", tx.PutDirectoryEntries(ctx, []store.DirectoryEntry{
			{Directory: "x", Anchor: "later", Kind: store.EntryUser, UserID: "later-user"}}))
		return tx.CreateUser(ctx, &store.User{ID: "later-user", Username: "later", Source: "x", Anchor: "later", State: store.StateActive})
	})
	noErr(t, "PutDirectoryEntries empty", s.Tx(ctx, func(tx store.Tx) error { return tx.PutDirectoryEntries(ctx, nil) }))
}

func testDirectoryState(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, err := s.GetDirectoryState(ctx, "corp")
	isErr(t, "GetDirectoryState missing", err, store.ErrNotFound)
	st := store.DirectoryState{Directory: "corp", Cursor: "usn:12345", LastFullAt: ts(1), LastSuccessAt: ts(2), UpdatedAt: ts(3)}
	tx(t, s, func(tx store.Tx) error { return tx.PutDirectoryState(ctx, st) })
	got, err := s.GetDirectoryState(ctx, "corp")
	noErr(t, "GetDirectoryState", err)
	equal(t, "GetDirectoryState", got, st)
	st.Cursor, st.LastFullAt = "usn:99999", time.Time{}
	tx(t, s, func(tx store.Tx) error { return tx.PutDirectoryState(ctx, st) })
	got, err = s.GetDirectoryState(ctx, "corp")
	noErr(t, "GetDirectoryState replaced", err)
	equal(t, "GetDirectoryState replaced", got, st)
}

func testSyncRuns(t *testing.T, s store.Store) {
	ctx := context.Background()
	r1 := store.SyncRun{ID: "r1", Directory: "corp", Trigger: "schedule", Full: true, Status: store.SyncRunning, StartedAt: ts(0)}
	r2 := store.SyncRun{ID: "r2", Directory: "lab", Trigger: "manual", DryRun: true, Status: store.SyncSucceeded,
		StartedAt: ts(10), FinishedAt: ts(11), Counts: store.SyncCounts{Created: 1, Updated: 2, Deactivated: 3, Reactivated: 4, Unchanged: 5},
		Plan: json.RawMessage(`{"create":["alice"],"n":1}`), Stats: json.RawMessage(`{"entries":10}`)}
	r3 := store.SyncRun{ID: "r3", Directory: "corp", Trigger: "startup", Status: store.SyncFailed, StartedAt: ts(20), Error: "read: timeout"}
	tx(t, s, func(tx store.Tx) error {
		for _, r := range []store.SyncRun{r1, r2, r3} {
			if err := tx.CreateSyncRun(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	got, err := s.GetSyncRun(ctx, "r2")
	noErr(t, "GetSyncRun", err)
	equal(t, "GetSyncRun", got, r2)
	got, err = s.GetSyncRun(ctx, "r1")
	noErr(t, "GetSyncRun", err)
	equal(t, "GetSyncRun (nil plan)", got, r1)

	r1.Status, r1.FinishedAt, r1.Counts.Created, r1.Plan = store.SyncSucceeded, ts(5), 7, json.RawMessage(`[]`)
	tx(t, s, func(tx store.Tx) error { return tx.UpdateSyncRun(ctx, r1) })
	got, err = s.GetSyncRun(ctx, "r1")
	noErr(t, "GetSyncRun updated", err)
	equal(t, "GetSyncRun updated", got, r1)

	ids := func(rs []store.SyncRun) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	list, err := s.ListSyncRuns(ctx, store.SyncRunFilter{})
	noErr(t, "ListSyncRuns", err)
	equal(t, "ListSyncRuns newest first", ids(list), []string{"r3", "r2", "r1"})
	list, err = s.ListSyncRuns(ctx, store.SyncRunFilter{Directory: "corp", Limit: 1})
	noErr(t, "ListSyncRuns", err)
	equal(t, "ListSyncRuns corp limit 1", ids(list), []string{"r3"})

	err = s.Tx(ctx, func(tx store.Tx) error { return tx.CreateSyncRun(ctx, r1) })
	isErr(t, "CreateSyncRun duplicate", err, store.ErrConflict)
	err = s.Tx(ctx, func(tx store.Tx) error {
		return tx.UpdateSyncRun(ctx, store.SyncRun{ID: "nope", Status: store.SyncFailed})
	})
	isErr(t, "UpdateSyncRun missing", err, store.ErrNotFound)
	_, err = s.GetSyncRun(ctx, "nope")
	isErr(t, "GetSyncRun missing", err, store.ErrNotFound)
}

func testSessions(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := mustCreateUser(t, s, store.User{Username: "a", Source: store.SourceLocal, State: store.StateActive})
	b := mustCreateUser(t, s, store.User{Username: "b", Source: store.SourceLocal, State: store.StateActive})
	c := mustCreateUser(t, s, store.User{Username: "c", Source: store.SourceLocal, State: store.StateActive})
	now := ts(1000)
	s1 := store.Session{ID: "h1", UserID: a.ID, Method: "saml", SourceIP: "192.0.2.1", UserAgent: "Mozilla/5.0",
		CreatedAt: ts(0), LastSeenAt: ts(1), ExpiresAt: now.Add(time.Hour), Bypass: true}
	s2 := store.Session{ID: "h2", UserID: a.ID, Method: "oidc", CreatedAt: ts(2), ExpiresAt: now.Add(time.Minute)}
	s3 := store.Session{ID: "h3", UserID: b.ID, Method: "password", CreatedAt: ts(3), ExpiresAt: now.Add(time.Minute)}
	s4 := store.Session{ID: "h4", UserID: c.ID, Method: "password", CreatedAt: ts(4), ExpiresAt: now.Add(-time.Second)}
	tx(t, s, func(tx store.Tx) error {
		for _, x := range []store.Session{s1, s2, s3, s4} {
			if err := tx.CreateSession(ctx, x); err != nil {
				return err
			}
		}
		return nil
	})
	got, err := s.GetSession(ctx, "h1")
	noErr(t, "GetSession", err)
	equal(t, "GetSession", got, s1)
	list, err := s.ListSessions(ctx, a.ID)
	noErr(t, "ListSessions", err)
	equal(t, "ListSessions", list, []store.Session{s1, s2})

	n, err := s.CountActiveUsersWithSessions(ctx, now)
	noErr(t, "CountActiveUsersWithSessions", err)
	if n != 2 {
		t.Fatalf("CountActiveUsersWithSessions = %d, want 2 (a twice, b; c expired)", n)
	}
	n, _ = s.CountActiveUsersWithSessions(ctx, now.Add(2*time.Minute))
	if n != 1 {
		t.Fatalf("CountActiveUsersWithSessions later = %d, want 1", n)
	}

	tx(t, s, func(tx store.Tx) error { return tx.TouchSession(ctx, "h2", ts(500)) })
	got, _ = s.GetSession(ctx, "h2")
	if !got.LastSeenAt.Equal(ts(500)) {
		t.Fatalf("TouchSession: LastSeenAt = %v", got.LastSeenAt)
	}
	err = s.Tx(ctx, func(tx store.Tx) error { return tx.TouchSession(ctx, "nope", now) })
	isErr(t, "TouchSession missing", err, store.ErrNotFound)
	err = s.Tx(ctx, func(tx store.Tx) error { return tx.CreateSession(ctx, s1) })
	isErr(t, "CreateSession duplicate", err, store.ErrConflict)
	err = s.Tx(ctx, func(tx store.Tx) error {
		return tx.CreateSession(ctx, store.Session{ID: "h9", UserID: "ghost", ExpiresAt: now})
	})
	isErr(t, "CreateSession missing user", err, store.ErrNotFound)

	var expired, revoked int
	tx(t, s, func(tx store.Tx) error {
		var err error
		if expired, err = tx.DeleteExpiredSessions(ctx, now); err != nil {
			return err
		}
		revoked, err = tx.DeleteUserSessions(ctx, a.ID)
		return err
	})
	if expired != 1 || revoked != 2 {
		t.Fatalf("DeleteExpiredSessions = %d (want 1), DeleteUserSessions = %d (want 2)", expired, revoked)
	}
	tx(t, s, func(tx store.Tx) error { return tx.DeleteSession(ctx, "h3") })
	err = s.Tx(ctx, func(tx store.Tx) error { return tx.DeleteSession(ctx, "h3") })
	isErr(t, "DeleteSession twice", err, store.ErrNotFound)
	all, err := s.ListSessions(ctx, "")
	noErr(t, "ListSessions all", err)
	if len(all) != 0 {
		t.Fatalf("sessions left: %+v", all)
	}
}

func testAPIKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, s, store.User{Username: "admin", Source: store.SourceLocal, State: store.StateActive})
	k1 := store.APIKey{ID: "k1", UserID: u.ID, Name: "ci", Hash: "sha256-1", CreatedAt: ts(0)}
	k2 := store.APIKey{ID: "k2", UserID: u.ID, Name: "cron", Hash: "sha256-2", CreatedAt: ts(1)}
	tk := store.Token{ID: "tok1", KeyID: "k1", UserID: u.ID, CreatedAt: ts(2), ExpiresAt: ts(2).Add(2 * time.Hour)}
	tx(t, s, func(tx store.Tx) error {
		noErr(t, "CreateAPIKey", tx.CreateAPIKey(ctx, k1))
		noErr(t, "CreateAPIKey", tx.CreateAPIKey(ctx, k2))
		return tx.CreateToken(ctx, tk)
	})
	got, err := s.GetAPIKey(ctx, "k1")
	noErr(t, "GetAPIKey", err)
	equal(t, "GetAPIKey", got, k1)
	got, err = s.GetAPIKeyByHash(ctx, "sha256-2")
	noErr(t, "GetAPIKeyByHash", err)
	equal(t, "GetAPIKeyByHash", got, k2)
	_, err = s.GetAPIKeyByHash(ctx, "nope")
	isErr(t, "GetAPIKeyByHash missing", err, store.ErrNotFound)
	list, err := s.ListAPIKeys(ctx, u.ID)
	noErr(t, "ListAPIKeys", err)
	equal(t, "ListAPIKeys", list, []store.APIKey{k1, k2})
	gotTok, err := s.GetToken(ctx, "tok1")
	noErr(t, "GetToken", err)
	equal(t, "GetToken", gotTok, tk)

	tx(t, s, func(tx store.Tx) error {
		noErr(t, "RevokeAPIKey", tx.RevokeAPIKey(ctx, "k1", ts(10)))
		noErr(t, "TouchAPIKey", tx.TouchAPIKey(ctx, "k2", ts(11)))
		return tx.DeleteKeyTokens(ctx, "k1")
	})
	got, _ = s.GetAPIKey(ctx, "k1")
	if !got.RevokedAt.Equal(ts(10)) {
		t.Fatalf("RevokeAPIKey: %+v", got)
	}
	got, _ = s.GetAPIKey(ctx, "k2")
	if !got.LastUsedAt.Equal(ts(11)) {
		t.Fatalf("TouchAPIKey: %+v", got)
	}
	_, err = s.GetToken(ctx, "tok1")
	isErr(t, "GetToken after DeleteKeyTokens", err, store.ErrNotFound)

	err = s.Tx(ctx, func(tx store.Tx) error {
		return tx.CreateAPIKey(ctx, store.APIKey{ID: "k3", UserID: u.ID, Hash: "sha256-1"})
	})
	isErr(t, "CreateAPIKey duplicate hash", err, store.ErrConflict)
	err = s.Tx(ctx, func(tx store.Tx) error {
		return tx.CreateAPIKey(ctx, store.APIKey{ID: "k4", UserID: "ghost", Hash: "x"})
	})
	isErr(t, "CreateAPIKey missing user", err, store.ErrNotFound)
	err = s.Tx(ctx, func(tx store.Tx) error { return tx.CreateToken(ctx, store.Token{ID: "t9", KeyID: "ghost"}) })
	isErr(t, "CreateToken missing key", err, store.ErrNotFound)
	err = s.Tx(ctx, func(tx store.Tx) error { return tx.RevokeAPIKey(ctx, "ghost", ts(0)) })
	isErr(t, "RevokeAPIKey missing", err, store.ErrNotFound)
	err = s.Tx(ctx, func(tx store.Tx) error { return tx.TouchAPIKey(ctx, "ghost", ts(0)) })
	isErr(t, "TouchAPIKey missing", err, store.ErrNotFound)
}

func testAudit(t *testing.T, s store.Store) {
	ctx := context.Background()
	events := []*store.AuditEvent{
		{Time: ts(0), Actor: "admin", Action: "user.deactivate", Target: "alice", Outcome: store.OutcomeSuccess,
			SourceIP: "192.0.2.7", Details: map[string]any{"reason": "left", "count": float64(3), "ok": true}},
		{Time: ts(10), Actor: "alice", Action: "login", Target: "alice", Outcome: store.OutcomeFailure, Reason: "bad password"},
		{Time: ts(20), Actor: "admin", Action: "profile.update", Target: "Agent", Outcome: store.OutcomeDenied},
		{Time: ts(20), Actor: "admin", Action: "login", Target: "admin", Outcome: store.OutcomeSuccess},
	}
	tx(t, s, func(tx store.Tx) error {
		for _, e := range events {
			if err := tx.AppendAudit(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	seen := map[int64]bool{}
	for _, e := range events {
		if e.ID == 0 || seen[e.ID] {
			t.Fatalf("AppendAudit IDs not set/unique: %+v", e)
		}
		seen[e.ID] = true
	}
	var now store.AuditEvent
	tx(t, s, func(tx store.Tx) error { return tx.AppendAudit(ctx, &now) })
	if now.Time.IsZero() || time.Since(now.Time) > time.Minute {
		t.Fatalf("AppendAudit did not set Time: %v", now.Time)
	}

	ids := func(es []store.AuditEvent) []int64 {
		var out []int64
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	all, err := s.ListAudit(ctx, store.AuditFilter{})
	noErr(t, "ListAudit", err)
	equal(t, "ListAudit newest first", ids(all), []int64{now.ID, events[3].ID, events[2].ID, events[1].ID, events[0].ID})
	equal(t, "ListAudit event", all[4], *events[0])

	for _, c := range []struct {
		f    store.AuditFilter
		want []int64
	}{
		{store.AuditFilter{Actor: "admin"}, []int64{events[3].ID, events[2].ID, events[0].ID}},
		{store.AuditFilter{Action: "login"}, []int64{events[3].ID, events[1].ID}},
		{store.AuditFilter{Target: "alice"}, []int64{events[1].ID, events[0].ID}},
		{store.AuditFilter{Since: ts(10), Until: ts(20)}, []int64{events[1].ID}}, // Since inclusive, Until exclusive
		{store.AuditFilter{Since: ts(10), Until: ts(21), Limit: 2}, []int64{events[3].ID, events[2].ID}},
		{store.AuditFilter{Since: ts(10), Until: ts(21), Limit: 2, Offset: 2}, []int64{events[1].ID}},
		{store.AuditFilter{Actor: "admin", Action: "login"}, []int64{events[3].ID}},
		{store.AuditFilter{Actor: "nobody"}, nil},
		{store.AuditFilter{Outcome: store.OutcomeDenied}, []int64{events[2].ID}},
		{store.AuditFilter{Outcome: store.OutcomeSuccess, Actor: "admin"}, []int64{events[3].ID, events[0].ID}},
		{store.AuditFilter{Outcome: store.OutcomeFailure, Action: "profile.update"}, nil},
	} {
		got, err := s.ListAudit(ctx, c.f)
		noErr(t, fmt.Sprintf("ListAudit(%+v)", c.f), err)
		equal(t, fmt.Sprintf("ListAudit(%+v)", c.f), ids(got), c.want)
	}
}

func testLockout(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, s, store.User{Username: "l", Source: store.SourceLocal, State: store.StateActive})
	_, err := s.GetLockout(ctx, u.ID)
	isErr(t, "GetLockout none", err, store.ErrNotFound)

	got, err := s.UpdateLockout(ctx, u.ID, func(old store.Lockout) (store.Lockout, error) {
		if old.FailedAttempts != 0 || !old.FirstFailureAt.IsZero() {
			t.Errorf("UpdateLockout first call got %+v, want zero state", old)
		}
		old.FailedAttempts++
		old.FirstFailureAt, old.LastFailureAt = ts(0), ts(0)
		return old, nil
	})
	noErr(t, "UpdateLockout", err)
	want := store.Lockout{UserID: u.ID, FailedAttempts: 1, FirstFailureAt: ts(0), LastFailureAt: ts(0)}
	equal(t, "UpdateLockout result", got, want)
	read, err := s.GetLockout(ctx, u.ID)
	noErr(t, "GetLockout", err)
	equal(t, "GetLockout", read, want)

	refused := errors.New("policy says no")
	_, err = s.UpdateLockout(ctx, u.ID, func(old store.Lockout) (store.Lockout, error) {
		old.FailedAttempts = 99
		return old, refused
	})
	isErr(t, "UpdateLockout fn error", err, refused)
	read, _ = s.GetLockout(ctx, u.ID)
	equal(t, "GetLockout after refused update", read, want)

	locked := store.Lockout{UserID: u.ID, FailedAttempts: 5, FirstFailureAt: ts(0), LastFailureAt: ts(9), LockedUntil: ts(1800)}
	tx(t, s, func(tx store.Tx) error { return tx.PutLockout(ctx, locked) })
	read, _ = s.GetLockout(ctx, u.ID)
	equal(t, "GetLockout after PutLockout", read, locked)
	tx(t, s, func(tx store.Tx) error { return tx.PutLockout(ctx, store.Lockout{UserID: u.ID}) }) // admin unlock
	read, _ = s.GetLockout(ctx, u.ID)
	equal(t, "GetLockout after unlock", read, store.Lockout{UserID: u.ID})

	_, err = s.UpdateLockout(ctx, "ghost", func(old store.Lockout) (store.Lockout, error) { return old, nil })
	isErr(t, "UpdateLockout missing user", err, store.ErrNotFound)
}

func testLockoutConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, s, store.User{Username: "busy", Source: store.SourceLocal, State: store.StateActive})
	const workers, each = 16, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				_, err := s.UpdateLockout(ctx, u.ID, func(old store.Lockout) (store.Lockout, error) {
					old.FailedAttempts++
					return old, nil
				})
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("UpdateLockout: %v", err)
	}
	got, err := s.GetLockout(ctx, u.ID)
	noErr(t, "GetLockout", err)
	if got.FailedAttempts != workers*each {
		t.Fatalf("FailedAttempts = %d after %d concurrent increments: updates were lost", got.FailedAttempts, workers*each)
	}
}

// snapshot reads what the rollback tests may have touched.
func snapshot(t *testing.T, s store.Store) string {
	t.Helper()
	ctx := context.Background()
	users, err := s.ListUsers(ctx, store.UserFilter{})
	noErr(t, "ListUsers", err)
	profiles, err := s.ListProfiles(ctx)
	noErr(t, "ListProfiles", err)
	entries, err := s.ListDirectoryEntries(ctx, "corp")
	noErr(t, "ListDirectoryEntries", err)
	audit, err := s.ListAudit(ctx, store.AuditFilter{})
	noErr(t, "ListAudit", err)
	runs, err := s.ListSyncRuns(ctx, store.SyncRunFilter{})
	noErr(t, "ListSyncRuns", err)
	sessions, err := s.ListSessions(ctx, "")
	noErr(t, "ListSessions", err)
	var links []store.IdPLink
	for _, u := range users {
		l, err := s.ListIdPLinks(ctx, u.ID)
		noErr(t, "ListIdPLinks", err)
		links = append(links, l...)
	}
	linked, err := s.GetIdPLink(ctx, rollbackLink.Issuer, rollbackLink.Subject)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetIdPLink: %v", err)
	}
	return fmt.Sprintf("%+v\n%+v\n%+v\n%+v\n%+v\n%+v\n%+v\n%+v", users, profiles, entries, audit, runs, sessions,
		links, linked)
}

// writeEverything changes every kind of row, for the rollback tests.
func writeEverything(t *testing.T, tx store.Tx, existing store.User) {
	ctx := context.Background()
	nu := store.User{Username: "newcomer", Source: store.SourceLocal, State: store.StateActive}
	noErr(t, "CreateUser", tx.CreateUser(ctx, &nu))
	existing.DisplayName = "changed"
	noErr(t, "UpdateUser", tx.UpdateUser(ctx, &existing))
	noErr(t, "PutProfile", tx.PutProfile(ctx, store.Profile{Name: "P2"}))
	noErr(t, "DeleteProfile", tx.DeleteProfile(ctx, "P1"))
	noErr(t, "PutDirectoryEntries", tx.PutDirectoryEntries(ctx, []store.DirectoryEntry{{Directory: "corp", Anchor: "z", Kind: store.EntryUser}}))
	noErr(t, "CreateSyncRun", tx.CreateSyncRun(ctx, store.SyncRun{ID: "run", Directory: "corp", Status: store.SyncRunning}))
	noErr(t, "CreateSession", tx.CreateSession(ctx, store.Session{ID: "sess", UserID: nu.ID}))
	noErr(t, "AppendAudit", tx.AppendAudit(ctx, &store.AuditEvent{Action: "x"}))
	// The fixture's link moves to the newcomer.
	noErr(t, "DeleteIdPLink", tx.DeleteIdPLink(ctx, existing.ID, rollbackLink.Issuer))
	moved := rollbackLink
	moved.UserID = nu.ID
	noErr(t, "CreateIdPLink", tx.CreateIdPLink(ctx, moved))
	noErr(t, "DeleteUser", tx.DeleteUser(ctx, existing.ID))
	// The transaction sees its own writes.
	if _, err := tx.GetUser(ctx, nu.ID); err != nil {
		t.Errorf("Tx does not see its own insert: %v", err)
	}
	if _, err := tx.GetUser(ctx, existing.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Tx still sees its own delete: %v", err)
	}
}

// rollbackLink is the rollback fixture's IdP link (its UserID is set when
// the fixture's user exists).
var rollbackLink = store.IdPLink{Issuer: "https://idp.example.com", Subject: "rollback-sub", CreatedAt: ts(0)}

func rollbackFixture(t *testing.T, s store.Store) store.User {
	u := mustCreateUser(t, s, fullUser())
	tx(t, s, func(tx store.Tx) error {
		l := rollbackLink
		l.UserID = u.ID
		if err := tx.CreateIdPLink(context.Background(), l); err != nil {
			return err
		}
		return tx.PutProfile(context.Background(), store.Profile{Name: "P1", Privileges: []string{"a"}})
	})
	return u
}

func testTxRollback(t *testing.T, s store.Store) {
	u := rollbackFixture(t, s)
	before := snapshot(t, s)
	sentinel := errors.New("apply failed on item 3")
	err := s.Tx(context.Background(), func(tx store.Tx) error {
		writeEverything(t, tx, u)
		return sentinel
	})
	if err != sentinel { //nolint:errorlint // the contract is "fn's error unchanged"
		t.Fatalf("Tx returned %v, want fn's error unchanged", err)
	}
	equal(t, "state after rollback", snapshot(t, s), before)

	// A failing write inside fn, whose error fn returns, also rolls back.
	err = s.Tx(context.Background(), func(tx store.Tx) error {
		nu := store.User{Username: "first", Source: store.SourceLocal, State: store.StateActive}
		noErr(t, "CreateUser", tx.CreateUser(context.Background(), &nu))
		dup := store.User{Username: "FIRST", Source: store.SourceLocal, State: store.StateActive}
		return tx.CreateUser(context.Background(), &dup)
	})
	isErr(t, "Tx with conflicting insert", err, store.ErrConflict)
	equal(t, "state after failed insert", snapshot(t, s), before)
}

func testTxPanic(t *testing.T, s store.Store) {
	u := rollbackFixture(t, s)
	before := snapshot(t, s)
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v, want the panic to pass through Tx", r)
			}
		}()
		_ = s.Tx(context.Background(), func(tx store.Tx) error {
			writeEverything(t, tx, u)
			panic("boom")
		})
	}()
	equal(t, "state after panic", snapshot(t, s), before)
	// The store is still usable: the writer was released.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	noErr(t, "Tx after panic", s.Tx(ctx, func(tx store.Tx) error {
		return tx.PutProfile(ctx, store.Profile{Name: "after"})
	}))
}

func testTxIsolation(t *testing.T, s store.Store) {
	ctx := context.Background()
	inTx := make(chan struct{})
	checked := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.Tx(ctx, func(tx store.Tx) error {
			u := store.User{ID: "pending", Username: "pending", Source: store.SourceLocal, State: store.StateActive}
			if err := tx.CreateUser(ctx, &u); err != nil {
				return err
			}
			close(inTx)
			<-checked
			return nil
		})
	}()
	select {
	case <-inTx:
	case err := <-done:
		t.Fatalf("Tx: %v", err)
	}
	_, err := s.GetUser(ctx, "pending")
	close(checked)
	isErr(t, "uncommitted insert seen outside the transaction", err, store.ErrNotFound)
	noErr(t, "Tx", <-done)
	_, err = s.GetUser(ctx, "pending")
	noErr(t, "committed insert", err)
}

// testTxContinues pins that a write refused with ErrConflict or
// ErrNotFound undoes only itself: fn may handle the error and carry on,
// and what it did before and after commits. (SQLite undoes the statement;
// PostgreSQL would abort the whole transaction unless the backend guards
// the write with a savepoint.)
func testTxContinues(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreateUser(t, s, store.User{Username: "taken", Source: store.SourceLocal, State: store.StateActive})
	tx(t, s, func(tx store.Tx) error {
		before := store.User{Username: "before", Source: store.SourceLocal, State: store.StateActive}
		noErr(t, "CreateUser before", tx.CreateUser(ctx, &before))
		dup := store.User{Username: "TAKEN", Source: store.SourceLocal, State: store.StateActive}
		isErr(t, "CreateUser duplicate", tx.CreateUser(ctx, &dup), store.ErrConflict)
		isErr(t, "CreateSession for a missing user",
			tx.CreateSession(ctx, store.Session{ID: "orphan", UserID: "ghost"}), store.ErrNotFound)
		isErr(t, "CreateAPIKey for a missing user",
			tx.CreateAPIKey(ctx, store.APIKey{ID: "orphan", UserID: "ghost", Hash: "h"}), store.ErrNotFound)
		isErr(t, "PutLockout for a missing user",
			tx.PutLockout(ctx, store.Lockout{UserID: "ghost", FailedAttempts: 1}), store.ErrNotFound)
		stale := before
		stale.Version = 99
		isErr(t, "UpdateUser stale", tx.UpdateUser(ctx, &stale), store.ErrConflict)
		after := store.User{Username: "taken-2", Source: store.SourceLocal, State: store.StateActive}
		noErr(t, "CreateUser after the refused writes", tx.CreateUser(ctx, &after))
		return tx.AppendAudit(ctx, &store.AuditEvent{Action: "continued"})
	})
	for _, name := range []string{"before", "taken-2"} {
		_, err := s.GetUserByUsername(ctx, name)
		noErr(t, "user written around the refused writes: "+name, err)
	}
	n, err := s.CountUsers(ctx, store.UserFilter{})
	noErr(t, "CountUsers", err)
	if n != 3 {
		t.Fatalf("CountUsers = %d, want 3 (taken, before, taken-2)", n)
	}
	_, err = s.GetSession(ctx, "orphan")
	isErr(t, "refused session", err, store.ErrNotFound)
	evs, err := s.ListAudit(ctx, store.AuditFilter{Action: "continued"})
	noErr(t, "ListAudit", err)
	if len(evs) != 1 {
		t.Fatalf("audit event after the refused writes: %d", len(evs))
	}
}

func testTimes(t *testing.T, s store.Store) {
	ctx := context.Background()
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	local := time.Date(2026, 7, 1, 9, 30, 0, 123456789, zone) // nanoseconds are truncated
	u := store.User{Username: "times", Source: store.SourceLocal, State: store.StateActive,
		PasswordChangedAt: local, PasswordExpiresAt: time.Time{}, AccountExpiresAt: local.Add(24 * time.Hour)}
	u = mustCreateUser(t, s, u)
	got, err := s.GetUser(ctx, u.ID)
	noErr(t, "GetUser", err)
	wantT := time.Date(2026, 7, 1, 4, 0, 0, 123456000, time.UTC)
	if got.PasswordChangedAt != wantT { // == checks location and monotonic-free value
		t.Fatalf("PasswordChangedAt = %v (%s), want %v in UTC truncated to µs", got.PasswordChangedAt, got.PasswordChangedAt.Location(), wantT)
	}
	if !got.PasswordExpiresAt.IsZero() || got.PasswordExpiresAt != (time.Time{}) {
		t.Fatalf("zero time came back as %v", got.PasswordExpiresAt)
	}
	if got.AccountExpiresAt.Location() != time.UTC || !got.AccountExpiresAt.Equal(wantT.Add(24*time.Hour)) {
		t.Fatalf("AccountExpiresAt = %v", got.AccountExpiresAt)
	}
	equal(t, "CreateUser's returned user equals the stored one", got, u)

	// Far past and far future survive too.
	for _, x := range []time.Time{
		time.Date(1601, 1, 1, 0, 0, 1, 0, time.UTC), // AD's epoch
		time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).Add(-time.Microsecond),
	} {
		tx(t, s, func(tx store.Tx) error {
			return tx.PutDirectoryState(ctx, store.DirectoryState{Directory: "t", LastFullAt: x.In(zone), UpdatedAt: x})
		})
		st, err := s.GetDirectoryState(ctx, "t")
		noErr(t, "GetDirectoryState", err)
		if st.LastFullAt != x || st.UpdatedAt != x {
			t.Fatalf("time %v came back as %v / %v", x, st.LastFullAt, st.UpdatedAt)
		}
	}

	// Comparisons happen on instants, not on zones.
	tx(t, s, func(tx store.Tx) error {
		return tx.CreateSession(ctx, store.Session{ID: "z", UserID: u.ID, ExpiresAt: local})
	})
	n, err := s.CountActiveUsersWithSessions(ctx, local.Add(-time.Second).In(time.UTC))
	noErr(t, "CountActiveUsersWithSessions", err)
	if n != 1 {
		t.Fatalf("session expiring at %v not active a second before", local)
	}
	n, _ = s.CountActiveUsersWithSessions(ctx, local.Add(time.Second).In(zone))
	if n != 0 {
		t.Fatalf("session expiring at %v active a second after", local)
	}
}

func testCancelled(t *testing.T, s store.Store) {
	u := mustCreateUser(t, s, store.User{Username: "c", Source: store.SourceLocal, State: store.StateActive})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := map[string]func() error{
		"GetUser":    func() error { _, err := s.GetUser(ctx, u.ID); return err },
		"ListUsers":  func() error { _, err := s.ListUsers(ctx, store.UserFilter{}); return err },
		"CountUsers": func() error { _, err := s.CountUsers(ctx, store.UserFilter{}); return err },
		"ListAudit":  func() error { _, err := s.ListAudit(ctx, store.AuditFilter{}); return err },
		"Tx":         func() error { return s.Tx(ctx, func(tx store.Tx) error { return nil }) },
		"UpdateLockout": func() error {
			_, err := s.UpdateLockout(ctx, u.ID, func(l store.Lockout) (store.Lockout, error) { return l, nil })
			return err
		},
		"RecordOnce":    func() error { return s.RecordOnce(ctx, "n", "k", time.Now().Add(time.Hour)) },
		"PutEphemeral":  func() error { return s.PutEphemeral(ctx, "n", "k", []byte("v"), time.Now().Add(time.Hour)) },
		"TakeEphemeral": func() error { _, err := s.TakeEphemeral(ctx, "n", "k"); return err },
		"UpdateEphemeral": func() error {
			return s.UpdateEphemeral(ctx, "n", "k", func([]byte, bool) ([]byte, time.Time, error) {
				return []byte("v"), time.Now().Add(time.Hour), nil
			})
		},
		"GetIdPLink":   func() error { _, err := s.GetIdPLink(ctx, "https://idp.example.com", "sub"); return err },
		"ListIdPLinks": func() error { _, err := s.ListIdPLinks(ctx, u.ID); return err },
		"AcquireLease": func() error { _, err := s.AcquireLease(ctx, "l", "h", time.Minute); return err },
		"Ping":         func() error { return s.Ping(ctx) },
	}
	for name, call := range calls {
		isErr(t, name+" with cancelled context", call(), context.Canceled)
	}

	// Cancelled in the middle of a transaction: later statements fail and
	// nothing is committed.
	ctx2, cancel2 := context.WithCancel(context.Background())
	err := s.Tx(ctx2, func(tx store.Tx) error {
		nu := store.User{Username: "half", Source: store.SourceLocal, State: store.StateActive}
		if err := tx.CreateUser(ctx2, &nu); err != nil {
			return err
		}
		cancel2()
		nu2 := store.User{Username: "other-half", Source: store.SourceLocal, State: store.StateActive}
		return tx.CreateUser(ctx2, &nu2)
	})
	isErr(t, "Tx cancelled midway", err, context.Canceled)
	_, err = s.GetUserByUsername(context.Background(), "half")
	isErr(t, "user from cancelled Tx", err, store.ErrNotFound)

	// A deadline that passes is reported as such.
	ctx3, cancel3 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel3()
	_, err = s.GetUser(ctx3, u.ID)
	isErr(t, "GetUser past deadline", err, context.DeadlineExceeded)
}

func testRecordOnce(t *testing.T, s store.Store) {
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	noErr(t, "RecordOnce", s.RecordOnce(ctx, "saml", "id-1", exp))
	isErr(t, "RecordOnce again", s.RecordOnce(ctx, "saml", "id-1", exp), store.ErrConflict)
	noErr(t, "RecordOnce other namespace", s.RecordOnce(ctx, "notice", "id-1", exp))
	noErr(t, "RecordOnce other key", s.RecordOnce(ctx, "saml", "id-2", exp))

	noErr(t, "RecordOnce already expired", s.RecordOnce(ctx, "saml", "old", time.Now().Add(-time.Second)))
	noErr(t, "RecordOnce after expiry", s.RecordOnce(ctx, "saml", "old", exp))
	isErr(t, "RecordOnce renewed key", s.RecordOnce(ctx, "saml", "old", exp), store.ErrConflict)

	noErr(t, "RecordOnce short", s.RecordOnce(ctx, "saml", "short", time.Now().Add(150*time.Millisecond)))
	isErr(t, "RecordOnce short again", s.RecordOnce(ctx, "saml", "short", exp), store.ErrConflict)
	time.Sleep(250 * time.Millisecond)
	noErr(t, "RecordOnce short after expiry", s.RecordOnce(ctx, "saml", "short", exp))

	// Many replicas racing for one key: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.RecordOnce(ctx, "race", "k", exp)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, store.ErrConflict):
				t.Errorf("RecordOnce race: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("RecordOnce race: %d winners, want 1", wins)
	}
}

func testUpdateEphemeral(t *testing.T, s store.Store) {
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	type seen struct {
		old   string
		found bool
	}
	update := func(key, value string, expires time.Time) seen {
		t.Helper()
		var got seen
		err := s.UpdateEphemeral(ctx, "counter", key, func(old []byte, found bool) ([]byte, time.Time, error) {
			got = seen{string(old), found}
			return []byte(value), expires, nil
		})
		noErr(t, "UpdateEphemeral "+key, err)
		return got
	}
	equal(t, "UpdateEphemeral of an absent key", update("a", "1", exp), seen{"", false})
	equal(t, "UpdateEphemeral of a stored key", update("a", "2", exp), seen{"1", true})
	v, err := s.TakeEphemeral(ctx, "counter", "a")
	noErr(t, "TakeEphemeral after UpdateEphemeral", err)
	equal(t, "TakeEphemeral after UpdateEphemeral", string(v), "2")

	// An expired value reads as absent.
	update("old", "x", time.Now().Add(-time.Second))
	equal(t, "UpdateEphemeral of an expired key", update("old", "y", exp), seen{"", false})
	// A value put with PutEphemeral is seen.
	noErr(t, "PutEphemeral", s.PutEphemeral(ctx, "counter", "put", []byte("p"), exp))
	equal(t, "UpdateEphemeral after PutEphemeral", update("put", "q", exp), seen{"p", true})

	// fn's error changes nothing, not even for a key that had no value.
	refused := errors.New("refused")
	for _, key := range []string{"a", "never"} {
		err := s.UpdateEphemeral(ctx, "counter", key, func([]byte, bool) ([]byte, time.Time, error) {
			return []byte("bad"), exp, refused
		})
		isErr(t, "UpdateEphemeral fn error", err, refused)
	}
	equal(t, "after a refused update", update("a", "3", exp), seen{"", false}) // taken above
	equal(t, "a refused update wrote nothing", update("never", "n", exp), seen{"", false})
	equal(t, "after a refused update on a stored key", update("a", "4", exp), seen{"3", true})
}

func testUpdateEphemeralConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	const workers, each = 16, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				err := s.UpdateEphemeral(ctx, "counter", "busy", func(old []byte, found bool) ([]byte, time.Time, error) {
					n := 0
					if found {
						n, _ = strconv.Atoi(string(old))
					}
					return []byte(strconv.Itoa(n + 1)), time.Now().Add(time.Hour), nil
				})
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("UpdateEphemeral: %v", err)
	}
	v, err := s.TakeEphemeral(ctx, "counter", "busy")
	noErr(t, "TakeEphemeral", err)
	if string(v) != strconv.Itoa(workers*each) {
		t.Fatalf("counter = %s after %d concurrent increments: updates were lost", v, workers*each)
	}
}

func testEphemeral(t *testing.T, s store.Store) {
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	noErr(t, "PutEphemeral", s.PutEphemeral(ctx, "oidc", "state-1", []byte("verifier\x00bytes"), exp))
	v, err := s.TakeEphemeral(ctx, "oidc", "state-1")
	noErr(t, "TakeEphemeral", err)
	equal(t, "TakeEphemeral value", v, []byte("verifier\x00bytes"))
	_, err = s.TakeEphemeral(ctx, "oidc", "state-1")
	isErr(t, "TakeEphemeral twice", err, store.ErrNotFound)
	_, err = s.TakeEphemeral(ctx, "other", "state-1")
	isErr(t, "TakeEphemeral unknown", err, store.ErrNotFound)

	noErr(t, "PutEphemeral replace", s.PutEphemeral(ctx, "oidc", "s2", []byte("a"), exp))
	noErr(t, "PutEphemeral replace", s.PutEphemeral(ctx, "oidc", "s2", []byte("b"), exp))
	v, err = s.TakeEphemeral(ctx, "oidc", "s2")
	noErr(t, "TakeEphemeral replaced", err)
	equal(t, "TakeEphemeral replaced", string(v), "b")

	noErr(t, "PutEphemeral expired", s.PutEphemeral(ctx, "oidc", "old", []byte("x"), time.Now().Add(-time.Second)))
	_, err = s.TakeEphemeral(ctx, "oidc", "old")
	isErr(t, "TakeEphemeral expired", err, store.ErrNotFound)

	noErr(t, "PutEphemeral empty", s.PutEphemeral(ctx, "oidc", "empty", nil, exp))
	v, err = s.TakeEphemeral(ctx, "oidc", "empty")
	noErr(t, "TakeEphemeral empty", err)
	if len(v) != 0 {
		t.Fatalf("TakeEphemeral empty = %q", v)
	}

	// Concurrent takes: exactly one gets the value.
	noErr(t, "PutEphemeral", s.PutEphemeral(ctx, "oidc", "race", []byte("v"), exp))
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.TakeEphemeral(ctx, "oidc", "race")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				got++
			case !errors.Is(err, store.ErrNotFound):
				t.Errorf("TakeEphemeral race: %v", err)
			}
		}()
	}
	wg.Wait()
	if got != 1 {
		t.Fatalf("TakeEphemeral race: %d takers, want 1", got)
	}
}

func testLease(t *testing.T, s store.Store) {
	ctx := context.Background()
	acquire := func(holder string, ttl time.Duration) bool {
		t.Helper()
		ok, err := s.AcquireLease(ctx, "sync/corp", holder, ttl)
		noErr(t, "AcquireLease "+holder, err)
		return ok
	}
	if !acquire("node-a", time.Hour) {
		t.Fatal("free lease not acquired")
	}
	if acquire("node-b", time.Hour) {
		t.Fatal("lease held by node-a acquired by node-b")
	}
	if !acquire("node-a", 300*time.Millisecond) {
		t.Fatal("holder could not renew its lease")
	}
	ok, err := s.AcquireLease(ctx, "sync/lab", "node-b", time.Hour)
	noErr(t, "AcquireLease other name", err)
	if !ok {
		t.Fatal("lease of another name not acquired")
	}
	noErr(t, "ReleaseLease by non-holder", s.ReleaseLease(ctx, "sync/corp", "node-b"))
	if acquire("node-b", time.Hour) {
		t.Fatal("release by a non-holder freed the lease")
	}
	time.Sleep(500 * time.Millisecond) // node-a "dies"; its lease expires
	if !acquire("node-b", time.Hour) {
		t.Fatal("expired lease not taken over")
	}
	if acquire("node-a", time.Hour) {
		t.Fatal("old holder took the lease back")
	}
	noErr(t, "ReleaseLease", s.ReleaseLease(ctx, "sync/corp", "node-b"))
	if !acquire("node-a", time.Hour) {
		t.Fatal("released lease not acquired")
	}
	noErr(t, "ReleaseLease none", s.ReleaseLease(ctx, "nothing", "x"))

	// Many contenders at once: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.AcquireLease(ctx, "race", fmt.Sprintf("n%d", i), time.Hour)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("AcquireLease race: %v", err)
			}
			if ok {
				wins++
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("AcquireLease race: %d winners, want 1", wins)
	}
}

func testPingMigrations(t *testing.T, s store.Store) {
	ctx := context.Background()
	noErr(t, "Ping", s.Ping(ctx))
	applied, latest, err := s.MigrationVersion(ctx)
	noErr(t, "MigrationVersion", err)
	if applied != latest || latest < 1 {
		t.Fatalf("MigrationVersion = %d applied, %d latest; want equal and > 0", applied, latest)
	}
}
