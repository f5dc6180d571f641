package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/sqlite"
	"github.com/dirbridge/dirbridge/store/storetest"
)

func provider(t *testing.T, path string) (*goose.Provider, *sql.DB) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sqlite.Migrations(), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	return p, db
}

// us is a time column as the SQLite schema keeps it.
func us(t time.Time) int64 { return t.UnixMicro() }

// TestMigrationsStepByStep writes data in each version's schema, in that
// version's raw SQL, between the migrations.
func TestMigrationsStepByStep(t *testing.T) {
	path := filepath.Join(t.TempDir(), "migrate.db")
	p, db := provider(t, path)
	T := us(storetest.MigrationFixtureTime)
	u, pr, l := storetest.MigrationUser, storetest.MigrationProfile, storetest.MigrationLockout
	e, ds, r := storetest.MigrationEntry, storetest.MigrationState, storetest.MigrationRun
	se, k, tk, a := storetest.MigrationSession, storetest.MigrationAPIKey, storetest.MigrationToken, storetest.MigrationAudit
	far := us(storetest.MigrationFarAway)
	il := storetest.MigrationIdPLink
	type stmt struct {
		q    string
		args []any
	}
	exec := func(ctx context.Context, db *sql.DB, stmts ...stmt) error {
		for _, s := range stmts {
			if _, err := db.ExecContext(ctx, s.q, s.args...); err != nil {
				return err
			}
		}
		return nil
	}
	steps := []storetest.MigrationStep{
		{Version: 1, Tables: []string{"profiles", "users", "lockouts"}, Insert: func(ctx context.Context, db *sql.DB) error {
			return exec(ctx, db,
				stmt{`INSERT INTO profiles (name, description, privileges, from_config, created_at, updated_at)
					VALUES (?, ?, '["app.calls"]', 1, ?, ?)`, []any{pr.Name, pr.Description, T, T}},
				stmt{`INSERT INTO users (id, username, username_lc, display_name, email, email_lc, state, source,
					anchor, upn, upn_lc, sam_account_name, profile, units, fields, password_changed_at,
					created_at, updated_at, version, search_lc)
					VALUES (?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, '["HQ"]', '{"site":"Zürich"}', ?, ?, ?, 3, ?)`,
					[]any{u.ID, u.Username, "mig.user", u.DisplayName, u.Email, "mig.user@example.com", u.Source,
						u.Anchor, u.UPN, "mig.user@corp.example.com", u.SAMAccountName, u.Profile, T, T,
						us(u.UpdatedAt), "mig.user\x00mig user\x00mig.user@example.com"}},
				stmt{`INSERT INTO lockouts (user_id, failed_attempts, first_failure_at, last_failure_at)
					VALUES (?, 2, ?, ?)`, []any{l.UserID, us(l.FirstFailureAt), us(l.LastFailureAt)}})
		}},
		{Version: 2, Tables: []string{"directory_entries", "directory_state", "sync_runs"}, Insert: func(ctx context.Context, db *sql.DB) error {
			return exec(ctx, db,
				stmt{`INSERT INTO directory_entries (directory, anchor, kind, dn, name, attributes, groups, user_id, updated_at)
					VALUES (?, ?, 'user', ?, ?, '{"mail":["Mig.User@Example.com"]}', '["g1"]', ?, ?)`,
					[]any{e.Directory, e.Anchor, e.DN, e.Name, e.UserID, T}},
				stmt{`INSERT INTO directory_state (directory, cursor, last_full_at, last_success_at, updated_at)
					VALUES (?, ?, ?, ?, ?)`, []any{ds.Directory, ds.Cursor, T, T, T}},
				stmt{`INSERT INTO sync_runs (id, directory, trigger, full, status, started_at, finished_at, created, plan)
					VALUES (?, ?, ?, 1, 'succeeded', ?, ?, 1, '{"create":["miguser"]}')`,
					[]any{r.ID, r.Directory, r.Trigger, T, us(r.FinishedAt)}})
		}},
		{Version: 3, Tables: []string{"sessions", "api_keys", "tokens", "audit_events"}, Insert: func(ctx context.Context, db *sql.DB) error {
			return exec(ctx, db,
				stmt{`INSERT INTO sessions (id, user_id, method, source_ip, created_at, last_seen_at, expires_at)
					VALUES (?, ?, ?, ?, ?, ?, ?)`, []any{se.ID, se.UserID, se.Method, se.SourceIP, T, T, us(se.ExpiresAt)}},
				stmt{`INSERT INTO api_keys (id, user_id, name, hash, created_at) VALUES (?, ?, ?, ?, ?)`,
					[]any{k.ID, k.UserID, k.Name, k.Hash, T}},
				stmt{`INSERT INTO tokens (id, key_id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
					[]any{tk.ID, tk.KeyID, tk.UserID, T, us(tk.ExpiresAt)}},
				stmt{`INSERT INTO audit_events (time, actor, action, target, outcome, details)
					VALUES (?, ?, ?, ?, ?, '{"n":1}')`, []any{T, a.Actor, a.Action, a.Target, a.Outcome}})
		}},
		{Version: 4, Tables: []string{"once_keys", "ephemeral", "leases"}, Insert: func(ctx context.Context, db *sql.DB) error {
			return exec(ctx, db,
				stmt{`INSERT INTO once_keys (namespace, key, expires_at) VALUES (?, ?, ?)`,
					[]any{storetest.MigrationOnce.Namespace, storetest.MigrationOnce.Key, far}},
				stmt{`INSERT INTO ephemeral (namespace, key, value, expires_at) VALUES (?, ?, ?, ?)`,
					[]any{storetest.MigrationEphemeral.Namespace, storetest.MigrationEphemeral.Key,
						storetest.MigrationEphemeral.Value, far}},
				stmt{`INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)`,
					[]any{storetest.MigrationLease.Name, storetest.MigrationLease.Holder, far}})
		}},
		{Version: 5, Insert: func(ctx context.Context, db *sql.DB) error {
			// An index only: nothing to write, but it must be there.
			var n int
			return db.QueryRowContext(ctx, `SELECT COUNT(*) FROM users INDEXED BY users_source_state
				WHERE source = ? AND state = 'active'`, u.Source).Scan(&n)
		}},
		{Version: 6, Tables: []string{"directory_entries"}, Insert: func(ctx context.Context, db *sql.DB) error {
			// The version-2 entry must read as not unmapped; a new one
			// can be written unmapped.
			return exec(ctx, db,
				stmt{`INSERT INTO directory_entries (directory, anchor, kind, dn, name, attributes, groups, user_id, updated_at, unmapped)
					VALUES (?, 'unmapped-by-admin', 'user', 'cn=x', 'x', '{}', '[]', NULL, ?, 1)`, []any{e.Directory, T}})
		}},
		{Version: 7, Tables: []string{"directory_entries"}, Insert: func(ctx context.Context, db *sql.DB) error {
			// The table was rebuilt with its rows (the earlier steps' must
			// survive); a group row goes through the new partial index.
			return exec(ctx, db,
				stmt{`INSERT INTO directory_entries (directory, anchor, kind, dn, name, attributes, groups, user_id, updated_at, unmapped)
					VALUES (?, 'group-v7', 'group', 'cn=g', 'g', 'null', '["x"]', NULL, ?, 0)`, []any{e.Directory, T}},
				// An error if the index is missing.
				stmt{`SELECT COUNT(*) FROM directory_entries INDEXED BY directory_entries_groups
					WHERE directory = 'x' AND kind = 'group'`, nil})
		}},
		{Version: 8, Insert: func(ctx context.Context, db *sql.DB) error {
			// Indexes only: a look-up by anchor alone goes through the
			// new one, and it still keeps an anchor unique per source.
			var n int
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM users INDEXED BY users_anchor_source
				WHERE anchor = ? AND anchor <> ''`, u.Anchor).Scan(&n); err != nil || n != 1 {
				return fmt.Errorf("look-up by anchor: %d rows, %v", n, err)
			}
			_, err := db.ExecContext(ctx, `INSERT INTO users (id, username, username_lc, state, source, anchor, created_at, updated_at, version, search_lc)
				VALUES ('dup', 'dup', 'dup', 'active', ?, ?, ?, ?, 1, 'dup')`, u.Source, u.Anchor, T, T)
			if err == nil || !strings.Contains(err.Error(), "UNIQUE") {
				return fmt.Errorf("a second user with the same source and anchor: %v", err)
			}
			return nil
		}},
		{Version: 9, Tables: []string{"idp_links"}, Insert: func(ctx context.Context, db *sql.DB) error {
			if err := exec(ctx, db,
				stmt{`INSERT INTO idp_links (user_id, issuer, subject, created_at) VALUES (?, ?, ?, ?)`,
					[]any{il.UserID, il.Issuer, il.Subject, us(il.CreatedAt)}}); err != nil {
				return err
			}
			// One subject per user and IdP: a second one is refused, and
			// a user's links are read through that index.
			_, err := db.ExecContext(ctx, `INSERT INTO idp_links (user_id, issuer, subject, created_at)
				VALUES (?, ?, 'another-subject', ?)`, il.UserID, il.Issuer, T)
			if err == nil || !strings.Contains(err.Error(), "UNIQUE") {
				return fmt.Errorf("a second subject of the user at the same issuer: %v", err)
			}
			var n int
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM idp_links INDEXED BY idp_links_user_issuer
				WHERE user_id = ?`, il.UserID).Scan(&n); err != nil || n != 1 {
				return fmt.Errorf("links of the user: %d rows, %v", n, err)
			}
			return nil
		}},
		{Version: 10, Tables: []string{"teams", "user_units"}, Insert: func(ctx context.Context, db *sql.DB) error {
			// The migration filled user_units from the users it found.
			var unit string
			if err := db.QueryRowContext(ctx, `SELECT unit FROM user_units WHERE user_id = ?`, u.ID).Scan(&unit); err != nil || unit != "HQ" {
				return fmt.Errorf("user_units of the migrated user: %q, %v", unit, err)
			}
			return exec(ctx, db,
				stmt{`INSERT INTO teams (name, supervisors, created_at, updated_at) VALUES ('HQ', ?, ?, ?)`, []any{`["mig-user"]`, T, T}},
				stmt{`INSERT INTO teams (name, parent, created_at, updated_at) VALUES ('HQ Night', 'HQ', ?, ?)`, []any{T, T}})
		}},
		{Version: 11, Insert: func(ctx context.Context, db *sql.DB) error {
			// Existing profiles keep "may grant what they hold".
			var mg string
			if err := db.QueryRowContext(ctx, `SELECT may_grant FROM profiles LIMIT 1`).Scan(&mg); err != nil || mg != "null" {
				return fmt.Errorf("may_grant of a migrated profile: %q, %v", mg, err)
			}
			return nil
		}},
		{Version: 12, Insert: func(ctx context.Context, db *sql.DB) error {
			// The column is there, empty for the migrated link until a
			// sign-in through it (checkMigrated reads it back as zero).
			var seen sql.NullInt64
			if err := db.QueryRowContext(ctx, `SELECT last_seen_at FROM idp_links WHERE user_id = ?`, il.UserID).Scan(&seen); err != nil || seen.Valid {
				return fmt.Errorf("last_seen_at of the migrated link: %v, %v", seen, err)
			}
			return nil
		}},
		{Version: 13, Tables: []string{"provisioning_tokens"}, Insert: func(ctx context.Context, db *sql.DB) error {
			pt := storetest.MigrationProvisioningToken
			return exec(ctx, db, stmt{`INSERT INTO provisioning_tokens (source, hash, created_at) VALUES (?, ?, ?)`,
				[]any{pt.Source, pt.Hash, us(pt.CreatedAt)}})
		}},
		{Version: 14, Tables: []string{"import_groups"}, Insert: func(ctx context.Context, db *sql.DB) error {
			g := storetest.MigrationImportGroup
			return exec(ctx, db, stmt{`INSERT INTO import_groups (directory, anchor, dn, name, added_by, added_at) VALUES (?, ?, ?, ?, ?, ?)`,
				[]any{g.Directory, g.Anchor, g.DN, g.Name, g.AddedBy, us(g.AddedAt)}})
		}},
	}
	storetest.MigrationsStepByStep(t, p, db, steps, func(t *testing.T) store.Store {
		s, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestMigrationsDownUp(t *testing.T) {
	p, _ := provider(t, filepath.Join(t.TempDir(), "downup.db"))
	storetest.MigrationsDownUp(t, p)
}

// TestRefusesNewerSchema: a store a newer dirbridge migrated is refused
// at open, naming both versions, instead of being served half-understood.
func TestRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "newer.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	_, db := provider(t, path)
	next := sqlite.LatestMigration() + 1
	if _, err := db.ExecContext(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES (?, 1)`, next); err != nil {
		t.Fatal(err)
	}
	_, err = sqlite.Open(ctx, path)
	if !errors.Is(err, store.ErrSchemaNewer) || !strings.Contains(err.Error(), fmt.Sprintf("store version %d", next)) {
		t.Fatalf("open a newer store: %v", err)
	}
}
