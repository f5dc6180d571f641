package storetest

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/dirbridge/dirbridge/store"
)

// MigrationStep is what a backend's step-by-step migration test does
// right after one migration version is applied: it writes, in raw SQL of
// that version's schema, the rows of the Migration* fixtures the version
// introduces. Raw SQL, not the store's own methods, so the step keeps
// describing that version's schema when later migrations change the code.
type MigrationStep struct {
	Version int64
	// Tables are the tables Insert writes; every later step checks their
	// row counts did not change.
	Tables []string
	Insert func(ctx context.Context, db *sql.DB) error
}

// The Migration* fixtures are the rows each backend's steps write: a
// directory user with a lock-out (version 1), its directory entry, the
// directory's state and a sync run (version 2), a session, an API key
// with a token and an audit event (version 3), a one-time key, an
// ephemeral value and a lease (version 4), the user's IdP link (the
// version that adds idp_links). MigrationFixtureTime is the instant every
// fixture time derives from.
var (
	MigrationFixtureTime = time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)

	MigrationUser = store.User{
		ID: "mig-user", Username: "Mig.User", DisplayName: "Mig User", Email: "Mig.User@Example.com",
		State: store.StateActive, Source: "corp", Anchor: "bWlnLXVzZXI=", UPN: "Mig.User@corp.example.com",
		SAMAccountName: "miguser", Profile: "Agent", Units: []string{"HQ"},
		Fields: map[string]string{"site": "Zürich"}, PasswordChangedAt: MigrationFixtureTime,
		CreatedAt: MigrationFixtureTime, UpdatedAt: MigrationFixtureTime.Add(time.Second), Version: 3,
	}
	MigrationProfile = store.Profile{Name: "Agent", Description: "Handles calls",
		Privileges: []string{"app.calls"}, FromConfig: true, CreatedAt: MigrationFixtureTime, UpdatedAt: MigrationFixtureTime}
	MigrationLockout = store.Lockout{UserID: "mig-user", FailedAttempts: 2,
		FirstFailureAt: MigrationFixtureTime, LastFailureAt: MigrationFixtureTime.Add(time.Minute)}

	MigrationEntry = store.DirectoryEntry{Directory: "corp", Anchor: "bWlnLXVzZXI=", Kind: store.EntryUser,
		DN: "CN=Mig User,OU=Agents,DC=corp", Name: "miguser",
		Attributes: map[string][]string{"mail": {"Mig.User@Example.com"}}, Groups: []string{"g1"},
		UserID: "mig-user", UpdatedAt: MigrationFixtureTime}
	MigrationState = store.DirectoryState{Directory: "corp", Cursor: "usn:42",
		LastFullAt: MigrationFixtureTime, LastSuccessAt: MigrationFixtureTime, UpdatedAt: MigrationFixtureTime}
	MigrationRun = store.SyncRun{ID: "mig-run", Directory: "corp", Trigger: "manual", Full: true,
		Status: store.SyncSucceeded, StartedAt: MigrationFixtureTime, FinishedAt: MigrationFixtureTime.Add(time.Second),
		Counts: store.SyncCounts{Created: 1}, Plan: json.RawMessage(`{"create":["miguser"]}`)}

	MigrationSession = store.Session{ID: "mig-session", UserID: "mig-user", Method: "password",
		SourceIP: "192.0.2.1", CreatedAt: MigrationFixtureTime, LastSeenAt: MigrationFixtureTime,
		ExpiresAt: MigrationFixtureTime.Add(time.Hour)}
	MigrationAPIKey = store.APIKey{ID: "mig-key", UserID: "mig-user", Name: "ci", Hash: "mig-hash",
		CreatedAt: MigrationFixtureTime}
	MigrationToken = store.Token{ID: "mig-token", KeyID: "mig-key", UserID: "mig-user",
		CreatedAt: MigrationFixtureTime, ExpiresAt: MigrationFixtureTime.Add(2 * time.Hour)}
	MigrationAudit = store.AuditEvent{Time: MigrationFixtureTime, Actor: "admin", Action: "user.create",
		Target: "Mig.User", Outcome: store.OutcomeSuccess, Details: map[string]any{"n": float64(1)}}

	// The one-time key and the ephemeral value expire far in the future,
	// the lease too: the checks see all three still in force.
	MigrationOnce      = struct{ Namespace, Key string }{"saml", "mig-assertion"}
	MigrationEphemeral = struct {
		Namespace, Key string
		Value          []byte
	}{"oidc", "mig-state", []byte("mig\x00value")}
	MigrationLease   = struct{ Name, Holder string }{"sync/corp", "mig-node"}
	MigrationFarAway = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

	MigrationIdPLink = store.IdPLink{UserID: "mig-user",
		Issuer:  "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0",
		Subject: "Mig-OID-00000000-0000-0000-0000-000000000001", CreatedAt: MigrationFixtureTime}
	MigrationProvisioningToken = store.ProvisioningToken{Source: "entra",
		Hash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", CreatedAt: MigrationFixtureTime}
	MigrationImportGroup = store.ImportGroup{Directory: "corp", Anchor: "6f1c2a5e-0000-4000-8000-0000000000aa",
		DN: "cn=Agents,ou=Groups,dc=example,dc=test", Name: "Agents", AddedBy: "admin", AddedAt: MigrationFixtureTime}
)

// MigrationsStepByStep applies p's migrations one version at a time on an
// empty database, runs each version's step, and checks after every step
// that the rows written so far are all still there. Then it opens the
// store on the migrated database (nothing left to apply), checks the
// fixtures read back through the store API, and that the final schema
// takes the writes a running daemon makes. Every migration must have a
// step: a new migration without one fails the test.
func MigrationsStepByStep(t *testing.T, p *goose.Provider, db *sql.DB, steps []MigrationStep, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	sources := p.ListSources()
	if len(sources) != len(steps) {
		t.Fatalf("%d migrations but %d steps: give every migration a step that writes data in its schema", len(sources), len(steps))
	}
	counts := map[string]int{}
	for i, src := range sources {
		st := steps[i]
		if st.Version != src.Version {
			t.Fatalf("step %d is for version %d, migration %d is %s", i, st.Version, src.Version, src.Path)
		}
		res, err := p.UpTo(ctx, src.Version)
		if err != nil {
			t.Fatalf("migrate up to %d: %v", src.Version, err)
		}
		if len(res) != 1 || res[0].Source.Version != src.Version {
			t.Fatalf("migrate up to %d applied %d migrations, want exactly that one", src.Version, len(res))
		}
		v, err := p.GetDBVersion(ctx)
		noErr(t, "GetDBVersion", err)
		if v != src.Version {
			t.Fatalf("database at version %d after UpTo(%d)", v, src.Version)
		}
		// What earlier steps wrote survived this migration.
		for table, want := range counts {
			if got := countRows(t, db, table); got != want {
				t.Fatalf("after migration %d: %s has %d rows, had %d", src.Version, table, got, want)
			}
		}
		if err := st.Insert(ctx, db); err != nil {
			t.Fatalf("step %d: insert: %v", src.Version, err)
		}
		for _, table := range st.Tables {
			counts[table] = countRows(t, db, table)
			if counts[table] == 0 {
				t.Fatalf("step %d wrote nothing to %s", src.Version, table)
			}
		}
	}
	if has, err := p.HasPending(ctx); err != nil || has {
		t.Fatalf("pending migrations after the last step: %v %v", has, err)
	}

	s := open(t)
	checkMigrated(t, s)
	checkWritable(t, s)
}

func countRows(t *testing.T, db *sql.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// checkMigrated reads every fixture back through the store.
func checkMigrated(t *testing.T, s store.Store) {
	ctx := context.Background()
	applied, latest, err := s.MigrationVersion(ctx)
	noErr(t, "MigrationVersion", err)
	if applied != latest {
		t.Fatalf("MigrationVersion = %d applied, %d latest", applied, latest)
	}

	u, err := s.GetUser(ctx, MigrationUser.ID)
	noErr(t, "GetUser", err)
	equal(t, "migrated user", u, MigrationUser)
	byName, err := s.GetUserByUsername(ctx, "MIG.user")
	noErr(t, "GetUserByUsername", err)
	equal(t, "migrated user by username", byName.ID, MigrationUser.ID)
	found, err := s.FindUsers(ctx, store.KeyEmail, "mig.user@example.COM")
	noErr(t, "FindUsers by email", err)
	if len(found) != 1 {
		t.Fatalf("FindUsers by email = %d users", len(found))
	}
	found, err = s.FindUsers(ctx, store.KeyUPN, "MIG.USER@corp.example.com")
	noErr(t, "FindUsers by upn", err)
	if len(found) != 1 {
		t.Fatalf("FindUsers by upn = %d users", len(found))
	}
	listed, err := s.ListUsers(ctx, store.UserFilter{Query: "mig user"})
	noErr(t, "ListUsers by query", err)
	if len(listed) != 1 {
		t.Fatalf("ListUsers(Query: mig user) = %d users; the search key was not migrated right", len(listed))
	}
	p, err := s.GetProfile(ctx, MigrationProfile.Name)
	noErr(t, "GetProfile", err)
	equal(t, "migrated profile", p, MigrationProfile)
	l, err := s.GetLockout(ctx, MigrationUser.ID)
	noErr(t, "GetLockout", err)
	equal(t, "migrated lockout", l, MigrationLockout)

	e, err := s.GetDirectoryEntry(ctx, MigrationEntry.Directory, MigrationEntry.Anchor)
	noErr(t, "GetDirectoryEntry", err)
	equal(t, "migrated entry", e, MigrationEntry)
	um, err := s.GetDirectoryEntry(ctx, MigrationEntry.Directory, "unmapped-by-admin")
	noErr(t, "GetDirectoryEntry unmapped", err)
	if !um.Unmapped || um.UserID != "" {
		t.Fatalf("entry written unmapped reads back as %+v", um)
	}
	ds, err := s.GetDirectoryState(ctx, MigrationState.Directory)
	noErr(t, "GetDirectoryState", err)
	equal(t, "migrated directory state", ds, MigrationState)
	r, err := s.GetSyncRun(ctx, MigrationRun.ID)
	noErr(t, "GetSyncRun", err)
	equal(t, "migrated sync run", r, MigrationRun)

	sess, err := s.GetSession(ctx, MigrationSession.ID)
	noErr(t, "GetSession", err)
	equal(t, "migrated session", sess, MigrationSession)
	k, err := s.GetAPIKeyByHash(ctx, MigrationAPIKey.Hash)
	noErr(t, "GetAPIKeyByHash", err)
	equal(t, "migrated api key", k, MigrationAPIKey)
	tok, err := s.GetToken(ctx, MigrationToken.ID)
	noErr(t, "GetToken", err)
	equal(t, "migrated token", tok, MigrationToken)
	evs, err := s.ListAudit(ctx, store.AuditFilter{Action: MigrationAudit.Action})
	noErr(t, "ListAudit", err)
	if len(evs) != 1 {
		t.Fatalf("migrated audit events: %+v", evs)
	}
	want := MigrationAudit
	want.ID = evs[0].ID
	equal(t, "migrated audit event", evs[0], want)

	isErr(t, "RecordOnce of the migrated key",
		s.RecordOnce(ctx, MigrationOnce.Namespace, MigrationOnce.Key, MigrationFarAway), store.ErrConflict)
	v, err := s.TakeEphemeral(ctx, MigrationEphemeral.Namespace, MigrationEphemeral.Key)
	noErr(t, "TakeEphemeral of the migrated value", err)
	equal(t, "migrated ephemeral value", v, MigrationEphemeral.Value)
	ok, err := s.AcquireLease(ctx, MigrationLease.Name, "someone-else", time.Minute)
	noErr(t, "AcquireLease", err)
	if ok {
		t.Fatal("the migrated lease was taken by another holder")
	}
	ok, err = s.AcquireLease(ctx, MigrationLease.Name, MigrationLease.Holder, time.Minute)
	noErr(t, "AcquireLease by the holder", err)
	if !ok {
		t.Fatal("the migrated lease's holder could not renew it")
	}

	link, err := s.GetIdPLink(ctx, MigrationIdPLink.Issuer, MigrationIdPLink.Subject)
	noErr(t, "GetIdPLink", err)
	equal(t, "migrated idp link", link, MigrationIdPLink)
	links, err := s.ListIdPLinks(ctx, MigrationUser.ID)
	noErr(t, "ListIdPLinks", err)
	equal(t, "migrated idp links of the user", links, []store.IdPLink{MigrationIdPLink})

	pt, err := s.GetProvisioningToken(ctx, MigrationProvisioningToken.Source)
	noErr(t, "GetProvisioningToken", err)
	equal(t, "migrated provisioning token", pt, MigrationProvisioningToken)

	igs, err := s.ListImportGroups(ctx, MigrationImportGroup.Directory)
	noErr(t, "ListImportGroups", err)
	equal(t, "migrated import groups", igs, []store.ImportGroup{MigrationImportGroup})
}

// checkWritable makes the writes a running daemon makes on the migrated
// data: update the user, add one and link it to an IdP, count a failure,
// append to the log, delete the migrated user.
func checkWritable(t *testing.T, s store.Store) {
	ctx := context.Background()
	u, err := s.GetUser(ctx, MigrationUser.ID)
	noErr(t, "GetUser", err)
	u.DisplayName = "Mig User (renamed)"
	tx(t, s, func(tx store.Tx) error {
		if err := tx.UpdateUser(ctx, &u); err != nil {
			return err
		}
		nu := store.User{Username: "after-migration", Source: store.SourceLocal, State: store.StateActive}
		if err := tx.CreateUser(ctx, &nu); err != nil {
			return err
		}
		dup := store.User{Username: "mig.USER", Source: store.SourceLocal, State: store.StateActive}
		if err := tx.CreateUser(ctx, &dup); !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("duplicate of the migrated username: got %v, want ErrConflict", err)
		}
		// A first sign-in links the new user; the migrated subject stays
		// the migrated user's.
		taken := store.IdPLink{UserID: nu.ID, Issuer: MigrationIdPLink.Issuer, Subject: MigrationIdPLink.Subject}
		if err := tx.CreateIdPLink(ctx, taken); !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("link of the migrated subject to another user: got %v, want ErrConflict", err)
		}
		if err := tx.CreateIdPLink(ctx, store.IdPLink{UserID: nu.ID, Issuer: MigrationIdPLink.Issuer,
			Subject: "after-migration"}); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &store.AuditEvent{Action: "after-migration"})
	})
	if u.Version != MigrationUser.Version+1 {
		t.Fatalf("UpdateUser on the migrated user: version %d, want %d", u.Version, MigrationUser.Version+1)
	}
	l, err := s.UpdateLockout(ctx, MigrationUser.ID, func(l store.Lockout) (store.Lockout, error) {
		l.FailedAttempts++
		return l, nil
	})
	noErr(t, "UpdateLockout", err)
	if l.FailedAttempts != MigrationLockout.FailedAttempts+1 {
		t.Fatalf("UpdateLockout on the migrated lock-out: %+v", l)
	}
	n, err := s.CountUsers(ctx, store.UserFilter{})
	noErr(t, "CountUsers", err)
	if n != 2 {
		t.Fatalf("CountUsers = %d, want 2", n)
	}
	tx(t, s, func(tx store.Tx) error { return tx.DeleteUser(ctx, MigrationUser.ID) })
	e, err := s.GetDirectoryEntry(ctx, MigrationEntry.Directory, MigrationEntry.Anchor)
	noErr(t, "GetDirectoryEntry after DeleteUser", err)
	if e.UserID != "" {
		t.Fatalf("entry still mapped after its user was deleted: the migrated foreign key lost ON DELETE SET NULL")
	}
	_, err = s.GetSession(ctx, MigrationSession.ID)
	isErr(t, "session of the deleted user", err, store.ErrNotFound)
	_, err = s.GetIdPLink(ctx, MigrationIdPLink.Issuer, MigrationIdPLink.Subject)
	isErr(t, "idp link of the deleted user (the migrated foreign key's ON DELETE CASCADE)", err, store.ErrNotFound)
	_, err = s.GetIdPLink(ctx, MigrationIdPLink.Issuer, "after-migration")
	noErr(t, "idp link of the user created after migration", err)
}

// MigrationsDownUp applies every migration, rolls them all back and
// applies them again on an empty database: every Down undoes its Up.
func MigrationsDownUp(t *testing.T, p *goose.Provider) {
	ctx := context.Background()
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up: %v", err)
	}
	if _, err := p.DownTo(ctx, 0); err != nil {
		t.Fatalf("down to 0: %v", err)
	}
	v, err := p.GetDBVersion(ctx)
	noErr(t, "GetDBVersion", err)
	if v != 0 {
		t.Fatalf("version %d after DownTo(0)", v)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up again after down: %v", err)
	}
}
