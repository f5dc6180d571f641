package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/postgres"
	"github.com/dirbridge/dirbridge/store/storetest"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx" for goose
)

func provider(t *testing.T, dsn string) (*goose.Provider, *sql.DB) {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	p, err := goose.NewProvider(goose.DialectPostgres, db, postgres.Migrations(), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	return p, db
}

// TestMigrationsStepByStep writes data in each version's schema, in that
// version's raw SQL, between the migrations.
func TestMigrationsStepByStep(t *testing.T) {
	dsn := harness.NewDatabase(t)
	p, db := provider(t, dsn)
	T := storetest.MigrationFixtureTime
	u, pr, l := storetest.MigrationUser, storetest.MigrationProfile, storetest.MigrationLockout
	e, ds, r := storetest.MigrationEntry, storetest.MigrationState, storetest.MigrationRun
	se, k, tk, a := storetest.MigrationSession, storetest.MigrationAPIKey, storetest.MigrationToken, storetest.MigrationAudit
	far := storetest.MigrationFarAway
	il := storetest.MigrationIdPLink
	exec := func(ctx context.Context, db *sql.DB, stmts ...func() (string, []any)) error {
		for _, s := range stmts {
			q, args := s()
			if _, err := db.ExecContext(ctx, q, args...); err != nil {
				return err
			}
		}
		return nil
	}
	stmt := func(q string, args ...any) func() (string, []any) {
		return func() (string, []any) { return q, args }
	}
	steps := []storetest.MigrationStep{
		{Version: 1, Tables: []string{"profiles", "users", "lockouts"}, Insert: func(ctx context.Context, db *sql.DB) error {
			return exec(ctx, db,
				stmt(`INSERT INTO profiles (name, description, privileges, from_config, created_at, updated_at)
					VALUES ($1, $2, '["app.calls"]', true, $3, $3)`, pr.Name, pr.Description, T),
				stmt(`INSERT INTO users (id, username, username_lc, display_name, email, email_lc, state, source,
					anchor, upn, upn_lc, sam_account_name, profile, units, fields, password_changed_at,
					created_at, updated_at, version, search_lc)
					VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $8, $9, $10, $11, $12, '["HQ"]',
					'{"site":"Zürich"}', $13, $13, $14, 3, $15)`,
					u.ID, u.Username, "mig.user", u.DisplayName, u.Email, "mig.user@example.com", u.Source,
					u.Anchor, u.UPN, "mig.user@corp.example.com", u.SAMAccountName, u.Profile, T, u.UpdatedAt,
					"mig.user\x1fmig user\x1fmig.user@example.com"),
				stmt(`INSERT INTO lockouts (user_id, failed_attempts, first_failure_at, last_failure_at)
					VALUES ($1, 2, $2, $3)`, l.UserID, l.FirstFailureAt, l.LastFailureAt))
		}},
		{Version: 2, Tables: []string{"directory_entries", "directory_state", "sync_runs"}, Insert: func(ctx context.Context, db *sql.DB) error {
			return exec(ctx, db,
				stmt(`INSERT INTO directory_entries (directory, anchor, kind, dn, name, attributes, groups, user_id, updated_at)
					VALUES ($1, $2, 'user', $3, $4, '{"mail":["Mig.User@Example.com"]}', '["g1"]', $5, $6)`,
					e.Directory, e.Anchor, e.DN, e.Name, e.UserID, T),
				stmt(`INSERT INTO directory_state (directory, cursor, last_full_at, last_success_at, updated_at)
					VALUES ($1, $2, $3, $3, $3)`, ds.Directory, ds.Cursor, T),
				stmt(`INSERT INTO sync_runs (id, directory, trigger, "full", status, started_at, finished_at, created, plan)
					VALUES ($1, $2, $3, true, 'succeeded', $4, $5, 1, '{"create":["miguser"]}')`,
					r.ID, r.Directory, r.Trigger, T, r.FinishedAt))
		}},
		{Version: 3, Tables: []string{"sessions", "api_keys", "tokens", "audit_events"}, Insert: func(ctx context.Context, db *sql.DB) error {
			return exec(ctx, db,
				stmt(`INSERT INTO sessions (id, user_id, method, source_ip, created_at, last_seen_at, expires_at)
					VALUES ($1, $2, $3, $4, $5, $5, $6)`, se.ID, se.UserID, se.Method, se.SourceIP, T, se.ExpiresAt),
				stmt(`INSERT INTO api_keys (id, user_id, name, hash, created_at) VALUES ($1, $2, $3, $4, $5)`,
					k.ID, k.UserID, k.Name, k.Hash, T),
				stmt(`INSERT INTO tokens (id, key_id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
					tk.ID, tk.KeyID, tk.UserID, T, tk.ExpiresAt),
				stmt(`INSERT INTO audit_events (time, actor, action, target, outcome, details)
					VALUES ($1, $2, $3, $4, $5, '{"n":1}')`, T, a.Actor, a.Action, a.Target, a.Outcome))
		}},
		{Version: 4, Tables: []string{"once_keys", "ephemeral", "leases"}, Insert: func(ctx context.Context, db *sql.DB) error {
			return exec(ctx, db,
				stmt(`INSERT INTO once_keys (namespace, key, expires_at) VALUES ($1, $2, $3)`,
					storetest.MigrationOnce.Namespace, storetest.MigrationOnce.Key, far),
				stmt(`INSERT INTO ephemeral (namespace, key, value, expires_at) VALUES ($1, $2, $3, $4)`,
					storetest.MigrationEphemeral.Namespace, storetest.MigrationEphemeral.Key,
					storetest.MigrationEphemeral.Value, far),
				stmt(`INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)`,
					storetest.MigrationLease.Name, storetest.MigrationLease.Holder, far))
		}},
		{Version: 5, Tables: []string{"directory_entries"}, Insert: func(ctx context.Context, db *sql.DB) error {
			// The version-2 entry must read as not unmapped; a new one
			// can be written unmapped.
			return exec(ctx, db,
				stmt(`INSERT INTO directory_entries (directory, anchor, kind, dn, name, attributes, groups, user_id, updated_at, unmapped)
					VALUES ($1, 'unmapped-by-admin', 'user', 'cn=x', 'x', '{}', '[]', NULL, $2, true)`, e.Directory, T))
		}},
		{Version: 6, Insert: func(ctx context.Context, db *sql.DB) error {
			// Indexes only: the new one keeps an anchor unique per source.
			_, err := db.ExecContext(ctx, `INSERT INTO users (id, username, username_lc, state, source, anchor, created_at, updated_at, version, search_lc)
				VALUES ('dup', 'dup', 'dup', 'active', $1, $2, $3, $3, 1, 'dup')`, u.Source, u.Anchor, T)
			if err == nil || !strings.Contains(err.Error(), "users_anchor_source") {
				return fmt.Errorf("a second user with the same source and anchor: %v", err)
			}
			return nil
		}},
		{Version: 7, Tables: []string{"idp_links"}, Insert: func(ctx context.Context, db *sql.DB) error {
			if err := exec(ctx, db,
				stmt(`INSERT INTO idp_links (user_id, issuer, subject, created_at) VALUES ($1, $2, $3, $4)`,
					il.UserID, il.Issuer, il.Subject, il.CreatedAt)); err != nil {
				return err
			}
			// One subject per user and IdP: a second one is refused.
			_, err := db.ExecContext(ctx, `INSERT INTO idp_links (user_id, issuer, subject, created_at)
				VALUES ($1, $2, 'another-subject', $3)`, il.UserID, il.Issuer, T)
			if err == nil || !strings.Contains(err.Error(), "idp_links_user_issuer") {
				return fmt.Errorf("a second subject of the user at the same issuer: %v", err)
			}
			return nil
		}},
		{Version: 8, Tables: []string{"teams"}, Insert: func(ctx context.Context, db *sql.DB) error {
			var n int
			if err := db.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE units ?| array['HQ']`).Scan(&n); err != nil || n != 1 {
				return fmt.Errorf("users in HQ: %d, %v", n, err)
			}
			return exec(ctx, db,
				stmt(`INSERT INTO teams (name, supervisors, created_at, updated_at) VALUES ('HQ', '["mig-user"]', $1, $1)`, T),
				stmt(`INSERT INTO teams (name, parent, created_at, updated_at) VALUES ('HQ Night', 'HQ', $1, $1)`, T))
		}},
		{Version: 9, Insert: func(ctx context.Context, db *sql.DB) error {
			// Existing profiles keep "may grant what they hold".
			var mg string
			if err := db.QueryRowContext(ctx, `SELECT may_grant::text FROM profiles LIMIT 1`).Scan(&mg); err != nil || mg != "null" {
				return fmt.Errorf("may_grant of a migrated profile: %q, %v", mg, err)
			}
			return nil
		}},
		{Version: 10, Insert: func(ctx context.Context, db *sql.DB) error {
			// The column is there, empty for the migrated link until a
			// sign-in through it (checkMigrated reads it back as zero).
			var seen sql.NullTime
			if err := db.QueryRowContext(ctx, `SELECT last_seen_at FROM idp_links WHERE user_id = $1`, il.UserID).Scan(&seen); err != nil || seen.Valid {
				return fmt.Errorf("last_seen_at of the migrated link: %v, %v", seen, err)
			}
			return nil
		}},
		{Version: 11, Tables: []string{"provisioning_tokens"}, Insert: func(ctx context.Context, db *sql.DB) error {
			pt := storetest.MigrationProvisioningToken
			return exec(ctx, db, stmt(`INSERT INTO provisioning_tokens (source, hash, created_at) VALUES ($1, $2, $3)`,
				pt.Source, pt.Hash, pt.CreatedAt))
		}},
		{Version: 12, Tables: []string{"import_groups"}, Insert: func(ctx context.Context, db *sql.DB) error {
			g := storetest.MigrationImportGroup
			return exec(ctx, db, stmt(`INSERT INTO import_groups (directory, anchor, dn, name, added_by, added_at) VALUES ($1, $2, $3, $4, $5, $6)`,
				g.Directory, g.Anchor, g.DN, g.Name, g.AddedBy, g.AddedAt))
		}},
	}
	storetest.MigrationsStepByStep(t, p, db, steps, func(t *testing.T) store.Store { return open(t, dsn) })
}

func TestMigrationsDownUp(t *testing.T) {
	p, _ := provider(t, harness.NewDatabase(t))
	storetest.MigrationsDownUp(t, p)
}

// TestRefusesNewerSchema: a store a newer dirbridge migrated is refused
// at open, naming both versions.
func TestRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	dsn := harness.NewDatabase(t)
	open(t, dsn)
	_, db := provider(t, dsn)
	next := postgres.LatestMigration() + 1
	if _, err := db.ExecContext(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES ($1, true)`, next); err != nil {
		t.Fatal(err)
	}
	_, err := postgres.Open(ctx, dsn)
	if !errors.Is(err, store.ErrSchemaNewer) || !strings.Contains(err.Error(), fmt.Sprintf("store version %d", next)) {
		t.Fatalf("open a newer store: %v", err)
	}
}
