package wire

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/store"
)

func TestMain(m *testing.M) {
	code := m.Run()
	harness.StopPostgres()
	os.Exit(code)
}

func load(t *testing.T) *config.Config {
	t.Helper()
	dir := t.TempDir()
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
	return loadYAML(t, y)
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

// TestStoreSettingsReachTheStore: store.max_open_conns bounds the pool of
// the store wire.Store opens (the daemon's own copy once honoured it and
// this one dropped it). Each transaction holds a connection until its
// function returns: with the pool at 2, a third waits; at 3, none does.
func TestStoreSettingsReachTheStore(t *testing.T) {
	dsn := harness.NewDatabase(t)
	for _, conns := range []int{2, 3} {
		t.Run(fmt.Sprintf("max_open_conns %d", conns), func(t *testing.T) {
			cfg := loadYAML(t, fmt.Sprintf("store: {driver: postgres, dsn: %q, max_open_conns: %d}\n", dsn, conns))
			ctx := context.Background()
			st, err := Store(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			var entered atomic.Int32
			release := make(chan struct{})
			var wg sync.WaitGroup
			for range 3 {
				wg.Go(func() {
					_ = st.Tx(ctx, func(store.Tx) error {
						entered.Add(1)
						<-release
						return nil
					})
				})
			}
			deadline := time.Now().Add(10 * time.Second)
			for entered.Load() < int32(conns) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(300 * time.Millisecond) // time for a third to get in if it could
			got := entered.Load()
			close(release)
			wg.Wait()
			if got != int32(conns) {
				t.Fatalf("%d transactions held a connection at once; store.max_open_conns is %d", got, conns)
			}
			if entered.Load() != 3 {
				t.Fatalf("%d of 3 transactions ran", entered.Load())
			}
		})
	}
}

// TestBuild: one call builds every component of the daemon from the
// config, seeds the profiles, and wires what the config leaves to
// defaults (here: max_deactivations, from config's one home of them).
func TestBuild(t *testing.T) {
	dir := t.TempDir()
	cfg := loadYAML(t, `store: {driver: sqlite, dsn: `+filepath.Join(dir, "db.sqlite")+`}
policy:
  argon2: {time: 1, memory_kib: 64, threads: 1}
profiles:
  - {name: Agent, privileges: []}
directories:
  - name: corp
    kind: ldap
    urls: [ldap://127.0.0.1:1]
    base_dn: dc=example,dc=test
    groups: ["cn=agents,dc=example,dc=test"]
    mapping:
      rules: [{group: "cn=agents,dc=example,dc=test", profile: Agent}]
`)
	ctx := context.Background()
	c, err := Build(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Store == nil || c.Catalogue == nil || c.Hasher == nil || c.Registry == nil || c.Scheduler == nil ||
		c.SignIn == nil || c.Admin == nil || c.Sync.Sources["corp"] == nil {
		t.Fatalf("components missing: %+v", c)
	}
	if c.Expiry != nil {
		t.Error("expiry scheduled without expiry.enabled")
	}
	if p, err := c.Store.GetProfile(ctx, "Agent"); err != nil || !p.FromConfig {
		t.Fatalf("seeded profile: %+v, %v", p, err)
	}
	d, _ := c.Sync.Runner.Directory("corp")
	if d.Limits.MaxCount != config.DefaultMaxDeactivationCount || d.Limits.MaxPercent != config.DefaultMaxDeactivationPercent {
		t.Errorf("default limits %+v", d.Limits)
	}
	if n, err := c.Sync.ReloadMappers(cfg); err != nil || n != 1 {
		t.Errorf("ReloadMappers: %d, %v", n, err)
	}
}
