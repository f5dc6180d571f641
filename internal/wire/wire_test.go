package wire

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/config"
)

func load(t *testing.T) *config.Config {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "dirbridge.yaml")
	y := `store: {driver: sqlite, dsn: ` + filepath.Join(dir, "db.sqlite") + `}
profiles:
  - {name: Agent, privileges: []}
directories:
  - name: corp
    kind: ad
    urls: [ldaps://dc1.example.test, ldaps://dc2.example.test]
    bind_dn: svc@example.test
    bind_password: pw
    base_dn: DC=example,DC=test
    groups: [CC-Agents]
    page_size: 500
    range_size: 100
    read_password_expiry: true
    attributes: [department]
    link_by: email
    max_deactivations: {count: 7, percent: 3}
    mapping:
      rules: [{group: CC-Agents, profile: Agent}]
expiry: {warn_days: [5, 1], time_zone: UTC}
`
	if err := os.WriteFile(p, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestLDAPConfigFollowsTheConfig(t *testing.T) {
	cfg := load(t)
	lc := LDAPConfig(cfg.Directories[0], nil)
	if lc.Name != "corp" || lc.Kind != "ad" || len(lc.URLs) != 2 || lc.BindPassword != "pw" || lc.PageSize != 500 ||
		lc.RangeSize != 100 || !lc.ReadPasswordExpiry || len(lc.ExtraAttributes) != 1 || lc.Logger == nil {
		t.Fatalf("ldap.Config = %+v", lc)
	}
}

func TestRunnerAndExpiryJob(t *testing.T) {
	cfg := load(t)
	ctx := context.Background()
	st, err := Store(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, err := Runner(cfg, st, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Runner.Close()
	d, ok := s.Runner.Directory("corp")
	if !ok || d.Limits.MaxCount != 7 || d.Limits.MaxPercent != 3 || len(d.Groups) != 1 || s.Sources["corp"] == nil {
		t.Fatalf("directory = %+v, ok %v", d, ok)
	}
	if _, err := Scheduler(s.Runner, st, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Mapper(cfg, "nope"); err == nil {
		t.Fatal("mapper of an unknown directory: no error")
	}
	// No smtp.host: the job still builds, and a dry run works.
	job, err := ExpiryJob(cfg, st, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := job.Run(ctx, time.Now(), true); err != nil {
		t.Fatal(err)
	}
	if _, err := ExpiryScheduler(cfg, job, ""); err != nil {
		t.Fatal(err)
	}
}
