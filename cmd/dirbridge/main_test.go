package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/internal/password"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/sqlite"
)

func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func TestVersion(t *testing.T) {
	out, _, err := run(t, "version")
	if err != nil || !strings.HasPrefix(out, "dirbridge dev\n") || !strings.Contains(out, "go: go1.") {
		t.Fatalf("version: %q %v", out, err)
	}
}

func TestConfigCheckPrintsEveryProblem(t *testing.T) {
	_, errOut, err := run(t, "config", "check", "--config", "testdata/bad.yaml")
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("exit: %v", err)
	}
	lines := regexp.MustCompile(`(?m)^testdata/bad\.yaml:\d+: `).FindAllString(errOut, -1)
	if len(lines) < 5 || !strings.Contains(errOut, "problem(s) found") {
		t.Fatalf("want >= 5 located problems, got %d:\n%s", len(lines), errOut)
	}
}

func TestEmergencyUser(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "db.sqlite")
	cfg := filepath.Join(dir, "cfg.yaml")
	conf := "store:\n  driver: sqlite\n  dsn: " + db + "\npolicy:\n  argon2: {time: 1, memory_kib: 64, threads: 1}\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := run(t, "emergency-user", "create", "--config", cfg, "--ttl", "2h")
	if err != nil {
		t.Fatalf("create: %v\n%s", err, errOut)
	}
	m := regexp.MustCompile(`initial password .*: (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no password printed: %q", out)
	}
	// The name is random, so it cannot be aimed at before it is known.
	nm := regexp.MustCompile(`emergency user "(emergency-[a-z2-9]{8})" created`).FindStringSubmatch(out)
	if nm == nil {
		t.Fatalf("no random name printed: %q", out)
	}
	EmergencyUsername := nm[1]
	ctx := context.Background()
	st, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.GetUserByUsername(ctx, EmergencyUsername)
	if err != nil {
		t.Fatal(err)
	}
	if !u.Superuser || !u.Emergency || !u.MustChangePassword || u.Profile != "" || u.ExpiresAt.IsZero() {
		t.Fatalf("emergency user: %+v", u)
	}
	if err := password.Verify(u.PasswordHash, m[1]); err != nil {
		t.Fatalf("printed password does not verify: %v", err)
	}
	if _, _, err := run(t, "emergency-user", "create", "--config", cfg, "--name", "breakglass"); err == nil || !strings.Contains(err.Error(), EmergencyUsername) {
		t.Fatalf("second create: %v", err)
	}
	st.Close()
	if out, errOut, err := run(t, "emergency-user", "remove", "--config", cfg); err != nil || !strings.Contains(out, EmergencyUsername) {
		t.Fatalf("remove: %v %s %s", err, out, errOut)
	}
	out, _, err = run(t, "emergency-user", "create", "--config", cfg, "--name", "breakglass")
	if err != nil || !strings.Contains(out, `"breakglass" created`) {
		t.Fatalf("create --name: %v %s", err, out)
	}
	st, err = sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.GetUserByUsername(ctx, EmergencyUsername); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("still there: %v", err)
	}
	ev, _ := st.ListAudit(ctx, store.AuditFilter{})
	var actions []string
	for _, e := range ev {
		actions = append(actions, e.Action)
	}
	if strings.Join(actions, ",") != "emergency_user.create,emergency_user.remove,emergency_user.create" {
		t.Fatalf("audit: %v", actions)
	}
}

// TestBackupCommand copies the store of a config and reads the copy back.
func TestBackupCommand(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "db.sqlite")
	cfg := filepath.Join(dir, "cfg.yaml")
	conf := "store:\n  driver: sqlite\n  dsn: " + db + "\npolicy:\n  argon2: {time: 1, memory_kib: 64, threads: 1}\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, err := run(t, "emergency-user", "create", "--config", cfg, "--name", "keeper"); err != nil {
		t.Fatalf("create: %v %s", err, errOut)
	}
	out := filepath.Join(dir, "copy.db")
	if got, errOut, err := run(t, "backup", "--config", cfg, "--out", out); err != nil || !strings.Contains(got, "store copied to") {
		t.Fatalf("backup: %v %s %s", err, got, errOut)
	}
	if _, _, err := run(t, "backup", "--config", cfg, "--out", out); err == nil {
		t.Fatal("a second backup overwrote the first")
	}
	st, err := sqlite.Open(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if u, err := st.GetUserByUsername(context.Background(), "keeper"); err != nil || !u.Emergency {
		t.Fatalf("restored copy: %+v %v", u, err)
	}
}
