package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/scim"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/sqlite"
)

func TestSCIMToken(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "db.sqlite")
	cfg := filepath.Join(dir, "cfg.yaml")
	conf := "store:\n  driver: sqlite\n  dsn: " + db + "\nprovisioning: [{name: entra, preset: azuread}]\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, "scim", "token", "rotate", "--config", cfg, "--source", "entra"); err == nil || !strings.Contains(err.Error(), "no token yet") {
		t.Fatalf("rotate before create: %v", err)
	}
	out, _, err := run(t, "scim", "token", "create", "--config", cfg, "--source", "entra")
	if err != nil {
		t.Fatal(err)
	}
	first := strings.TrimSpace(out)
	if len(first) < 40 {
		t.Fatalf("token %q", first)
	}
	if _, _, err := run(t, "scim", "token", "create", "--config", cfg, "--source", "entra"); err == nil || !strings.Contains(err.Error(), "rotate") {
		t.Fatalf("second create: %v", err)
	}
	out, _, err = run(t, "scim", "token", "rotate", "--config", cfg, "--source", "entra")
	if err != nil {
		t.Fatal(err)
	}
	second := strings.TrimSpace(out)
	if second == first {
		t.Fatal("rotation kept the token")
	}
	if _, _, err := run(t, "scim", "token", "create", "--config", cfg, "--source", "okta"); err == nil || !strings.Contains(err.Error(), "entra") {
		t.Fatalf("unknown source: %v", err)
	}
	if _, _, err := run(t, "scim", "token", "create", "--config", cfg); err == nil {
		t.Fatal("no --source accepted")
	}
	if _, _, err := run(t, "scim", "token", "create", "extra", "--config", cfg, "--source", "entra"); err == nil {
		t.Fatal("an extra word accepted")
	}

	ctx := context.Background()
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pt, err := st.GetProvisioningToken(ctx, "entra")
	if err != nil || pt.Hash != scim.HashToken(second) {
		t.Fatalf("stored %+v, %v", pt, err)
	}
	evs, err := st.ListAudit(ctx, store.AuditFilter{Target: "scim:entra"})
	if err != nil || len(evs) != 2 || evs[0].Action != "scim.token.rotate" || !strings.HasPrefix(evs[0].Actor, "cli:") {
		t.Fatalf("audit %+v, %v", evs, err)
	}
}
