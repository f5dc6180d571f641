package backend_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/backend"
	"github.com/dirbridge/dirbridge/store/postgres"
	"github.com/dirbridge/dirbridge/store/sqlite"
)

func TestMain(m *testing.M) {
	code := m.Run()
	harness.StopPostgres()
	os.Exit(code)
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		driver, dsn string
		check       func(store.Store) bool
	}{
		{"", filepath.Join(t.TempDir(), "default.db"), func(s store.Store) bool { _, ok := s.(*sqlite.Store); return ok }},
		{"sqlite", filepath.Join(t.TempDir(), "sqlite.db"), func(s store.Store) bool { _, ok := s.(*sqlite.Store); return ok }},
		{"postgres", harness.NewDatabase(t), func(s store.Store) bool { _, ok := s.(*postgres.Store); return ok }},
	} {
		s, err := backend.Open(ctx, c.driver, c.dsn, backend.WithMaxOpenConns(3))
		if err != nil {
			t.Fatalf("Open(%q): %v", c.driver, err)
		}
		if !c.check(s) {
			t.Errorf("Open(%q) = %T", c.driver, s)
		}
		applied, latest, err := s.MigrationVersion(ctx)
		if err != nil || applied != latest {
			t.Errorf("Open(%q): migrations %d/%d, %v", c.driver, applied, latest, err)
		}
		_ = s.Close()
	}
	if _, err := backend.Open(ctx, "mysql", "x"); err == nil || !strings.Contains(err.Error(), `"mysql"`) {
		t.Errorf("unknown driver: %v", err)
	}
}
