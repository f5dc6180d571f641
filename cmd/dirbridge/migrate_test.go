package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/store/postgres"
	"github.com/dirbridge/dirbridge/store/sqlite"
)

func migrateStatusJSON(t *testing.T, cfg string) migrationReport {
	t.Helper()
	out, errOut, err := run(t, "migrate", "status", "--config", cfg, "--json")
	if err != nil {
		t.Fatalf("migrate status: %v %s", err, errOut)
	}
	var rep migrationReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("migrate status --json: %v: %q", err, out)
	}
	return rep
}

func TestMigrateStatusSQLite(t *testing.T) {
	se := newSideEffects(t)
	latest := sqlite.LatestMigration()

	// No store: reported, and not created.
	rep := migrateStatusJSON(t, se.newCfg)
	if rep.Exists || rep.Driver != "sqlite" || rep.StoreVersion != 0 || rep.BinaryVersion != latest ||
		len(rep.Applied) != 0 || int64(len(rep.Pending)) != latest || rep.Pending[0].Name != "00001_users_profiles" {
		t.Fatalf("no store: %+v", rep)
	}
	out, _, err := run(t, "migrate", "status", "--config", se.newCfg)
	if err != nil || !strings.Contains(out, "no store yet (nothing was created)") || !strings.Contains(out, fmt.Sprintf("%d pending", latest)) {
		t.Fatalf("no store, readable: %q %v", out, err)
	}

	// A store at migration 2: applied and pending, and still at 2 after.
	rep = migrateStatusJSON(t, se.oldCfg)
	if !rep.Exists || rep.StoreVersion != 2 || len(rep.Applied) != 2 || int64(len(rep.Pending)) != latest-2 || rep.Pending[0].Version != 3 {
		t.Fatalf("store at 2: %+v", rep)
	}
	out, _, err = run(t, "migrate", "status", "--config", se.oldCfg)
	if err != nil || !strings.Contains(out, fmt.Sprintf("store version 2, this binary's %d", latest)) ||
		!regexp.MustCompile(`(?m)^2\s+00002_directory_sync\s+applied$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^3\s+00003_sessions_keys_audit\s+pending$`).MatchString(out) {
		t.Fatalf("store at 2, readable:\n%s %v", out, err)
	}
	se.check(t, "migrate status") // no store created, the old one still at 2

	// migrate applies; status then says so.
	if _, _, err := run(t, "migrate", "--config", se.oldCfg); err != nil {
		t.Fatal(err)
	}
	rep = migrateStatusJSON(t, se.oldCfg)
	if rep.StoreVersion != latest || len(rep.Pending) != 0 || int64(len(rep.Applied)) != latest {
		t.Fatalf("after migrate: %+v", rep)
	}
	if out, _, _ := run(t, "migrate", "status", "--config", se.oldCfg); !strings.Contains(out, "up to date") {
		t.Fatalf("after migrate, readable:\n%s", out)
	}

	// A store a newer dirbridge migrated.
	db, err := sql.Open("sqlite", "file:"+se.oldDB)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (?, 1)`, latest+1); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	rep = migrateStatusJSON(t, se.oldCfg)
	if rep.StoreVersion != latest+1 || len(rep.Unknown) != 1 || rep.Unknown[0].Version != latest+1 {
		t.Fatalf("newer store: %+v", rep)
	}
	if out, _, _ := run(t, "migrate", "status", "--config", se.oldCfg); !strings.Contains(out, "is newer than this binary's") {
		t.Fatalf("newer store, readable:\n%s", out)
	}
}

func TestMigrateStatusPostgres(t *testing.T) {
	pg := harness.StartPostgres(t)
	dsn := pg.NewDatabase(t)
	cfg := filepath.Join(t.TempDir(), "pg.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("store: {driver: postgres, dsn: %q}\n", dsn)), 0o600); err != nil {
		t.Fatal(err)
	}
	latest := postgres.LatestMigration()
	tableExists := func() bool {
		t.Helper()
		ctx := context.Background()
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		var ok bool
		if err := c.QueryRow(ctx, `SELECT to_regclass('goose_db_version') IS NOT NULL`).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}

	rep := migrateStatusJSON(t, cfg)
	if rep.Exists || rep.Driver != "postgres" || int64(len(rep.Pending)) != latest || tableExists() {
		t.Fatalf("empty database: %+v (table made: %v)", rep, tableExists())
	}
	out, _, err := run(t, "migrate", "status", "--config", cfg)
	if err != nil || strings.Contains(out, "postgres://") || !strings.Contains(out, "no store yet") {
		t.Fatalf("empty database, readable (the DSN must not be printed):\n%s %v", out, err)
	}
	if _, _, err := run(t, "migrate", "bogus", "--config", cfg); err == nil || tableExists() {
		t.Fatalf("migrate bogus: %v; table made: %v", err, tableExists())
	}
	if _, _, err := run(t, "migrate", "--config", cfg); err != nil {
		t.Fatal(err)
	}
	rep = migrateStatusJSON(t, cfg)
	if !rep.Exists || rep.StoreVersion != latest || len(rep.Pending) != 0 {
		t.Fatalf("after migrate: %+v", rep)
	}
}

// TestMigrateStatusRefusesANonFile: a DSN that names no file is an error,
// not a store created somewhere.
func TestMigrateStatusRefusesANonFile(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "mem.yaml")
	if err := os.WriteFile(cfg, []byte("store: {driver: sqlite, dsn: \"file::memory:\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, "migrate", "status", "--config", cfg); err == nil || !strings.Contains(err.Error(), "names no file") {
		t.Fatalf("in-memory DSN: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("files made: %v", entries)
	}
	if _, err := os.Stat(filepath.Join(dir, ":memory:")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a file named :memory: was made")
	}
}
