package synce2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/internal/wire"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/directory"
	"github.com/dirbridge/dirbridge/sync/engine"
)

// dirName is the directory's name in every test config.
const dirName = "corp"

// Servers shared by the package's tests (started on first use, stopped
// at the end): one slapd and one Samba DC — Samba's ports are fixed, so a
// test run provisions one domain and every test works in its own OU.
var mainTB = &harness.MainTB{}

func TestMain(m *testing.M) {
	code := m.Run()
	mainTB.Close()
	os.Exit(code)
}

// dirOpts is one directory section of the config.
type dirOpts struct {
	Kind           string
	URLs           []string
	StartTLS       bool
	CAFile         string
	BindDN         string
	BindPassword   string
	BaseDN         string
	Groups         []string
	PageSize       int
	RangeSize      int
	DisabledFilter string
	// MaxCount and MaxPercent are max_deactivations; the tests that are
	// not about the limit lift them (a run there deactivates 1 of 3).
	MaxCount   int
	MaxPercent float64
}

// yaml renders the config file the daemon would read.
func (o dirOpts) yaml(dsn string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "store: {driver: sqlite, dsn: %q}\n", dsn)
	b.WriteString("profiles:\n  - {name: Agent, privileges: []}\n")
	b.WriteString("directories:\n")
	fmt.Fprintf(&b, "  - name: %s\n    kind: %s\n", dirName, o.Kind)
	b.WriteString("    urls: [")
	for i, u := range o.URLs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", u)
	}
	b.WriteString("]\n")
	if o.StartTLS {
		b.WriteString("    start_tls: true\n")
	}
	if o.CAFile != "" {
		fmt.Fprintf(&b, "    ca_file: %q\n", o.CAFile)
	}
	fmt.Fprintf(&b, "    bind_dn: %q\n    bind_password: %q\n    base_dn: %q\n", o.BindDN, o.BindPassword, o.BaseDN)
	b.WriteString("    groups:\n")
	for _, g := range o.Groups {
		fmt.Fprintf(&b, "      - %q\n", g)
	}
	if o.PageSize > 0 {
		fmt.Fprintf(&b, "    page_size: %d\n", o.PageSize)
	}
	if o.RangeSize > 0 {
		fmt.Fprintf(&b, "    range_size: %d\n", o.RangeSize)
	}
	if o.DisabledFilter != "" {
		fmt.Fprintf(&b, "    disabled_filter: %q\n", o.DisabledFilter)
	}
	fmt.Fprintf(&b, "    max_deactivations: {count: %d, percent: %g}\n", o.MaxCount, o.MaxPercent)
	b.WriteString("    default_profile: Agent\n    connect_timeout: 3s\n    read_timeout: 30s\n")
	return b.String()
}

// env is one dirbridge instance as the daemon builds it: the config file,
// the SQLite store it names and the Runner internal/wire makes from both.
type env struct {
	t      *testing.T
	dir    string
	opts   dirOpts
	cfg    *config.Config
	st     store.Store
	runner *engine.Runner
}

func newEnv(t *testing.T, o dirOpts) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir()}
	e.open(o)
	t.Cleanup(e.close)
	return e
}

// open writes the config, loads it and wires the store and the Runner.
func (e *env) open(o dirOpts) {
	e.t.Helper()
	e.opts = o
	path := filepath.Join(e.dir, "dirbridge.yaml")
	if err := os.WriteFile(path, []byte(o.yaml(filepath.Join(e.dir, "dirbridge.db"))), 0o600); err != nil {
		e.t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		e.t.Fatalf("config: %v", err)
	}
	e.cfg = cfg
	ctx := context.Background()
	if e.st, err = wire.Store(ctx, cfg); err != nil {
		e.t.Fatalf("store: %v", err)
	}
	s, err := wire.Runner(cfg, e.st, testLogger(e.t), nil)
	if err != nil {
		e.t.Fatalf("runner: %v", err)
	}
	e.runner = s.Runner
}

func (e *env) close() {
	if e.runner != nil {
		e.runner.Close()
		e.runner = nil
	}
	if e.st != nil {
		_ = e.st.Close()
		e.st = nil
	}
}

// reconfigure restarts the instance on the same store with changed
// settings, as an administrator editing the config and restarting would.
func (e *env) reconfigure(change func(*dirOpts)) {
	e.t.Helper()
	o := e.opts
	o.URLs = append([]string(nil), o.URLs...)
	o.Groups = append([]string(nil), o.Groups...)
	change(&o)
	e.close()
	e.open(o)
}

// run runs one sync through the Runner, as `dirbridge sync` does.
func (e *env) run(req engine.Request) (store.SyncRun, error) {
	e.t.Helper()
	req.Directory = dirName
	if req.Trigger == "" {
		req.Trigger = engine.TriggerManual
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return e.runner.Run(ctx, req)
}

// sync runs a sync that must succeed.
func (e *env) sync(full bool) store.SyncRun {
	e.t.Helper()
	run, err := e.run(engine.Request{Full: full})
	if err != nil || run.Status != store.SyncSucceeded {
		e.t.Fatalf("sync (full=%v): status %q, error %v / %q", full, run.Status, err, run.Error)
	}
	return run
}

// users is the store's users of the directory by username.
func (e *env) users() map[string]store.User {
	e.t.Helper()
	us, err := e.st.ListUsers(context.Background(), store.UserFilter{Source: dirName})
	if err != nil {
		e.t.Fatal(err)
	}
	m := make(map[string]store.User, len(us))
	for _, u := range us {
		m[u.Username] = u
	}
	return m
}

// user is one stored user by username; the test fails when it is missing.
func (e *env) user(name string) store.User {
	e.t.Helper()
	u, ok := e.users()[name]
	if !ok {
		e.t.Fatalf("user %s not in the store (have %v)", name, sortedKeys(e.users()))
	}
	return u
}

// active lists the active users' names, sorted.
func (e *env) active() []string {
	e.t.Helper()
	var out []string
	for n, u := range e.users() {
		if u.State == store.StateActive {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// storeState is everything a sync may change, for "changed nothing"
// checks: users, directory entries, the directory's state and the audit
// log (the run records are checked on their own).
type storeState struct {
	Users   []store.User
	Entries []store.DirectoryEntry
	State   store.DirectoryState
	Audit   int
}

func (e *env) state() storeState {
	e.t.Helper()
	ctx := context.Background()
	var s storeState
	var err error
	if s.Users, err = e.st.ListUsers(ctx, store.UserFilter{}); err != nil {
		e.t.Fatal(err)
	}
	if s.Entries, err = e.st.ListDirectoryEntries(ctx, dirName); err != nil {
		e.t.Fatal(err)
	}
	sort.Slice(s.Entries, func(i, j int) bool { return s.Entries[i].Anchor < s.Entries[j].Anchor })
	if s.State, err = e.st.GetDirectoryState(ctx, dirName); err != nil {
		e.t.Fatal(err)
	}
	audit, err := e.st.ListAudit(ctx, store.AuditFilter{})
	if err != nil {
		e.t.Fatal(err)
	}
	s.Audit = len(audit)
	return s
}

// unchanged fails the test when the store differs from before.
func (e *env) unchanged(before storeState) {
	e.t.Helper()
	after := e.state()
	if !reflect.DeepEqual(before.Users, after.Users) {
		e.t.Errorf("users changed:\nbefore %+v\nafter  %+v", before.Users, after.Users)
	}
	if !reflect.DeepEqual(before.Entries, after.Entries) {
		e.t.Errorf("directory entries changed (%d before, %d after)", len(before.Entries), len(after.Entries))
	}
	if !reflect.DeepEqual(before.State, after.State) {
		e.t.Errorf("directory state changed:\nbefore %+v\nafter  %+v", before.State, after.State)
	}
	if before.Audit != after.Audit {
		e.t.Errorf("audit log grew from %d to %d events", before.Audit, after.Audit)
	}
}

// groupEntry is the stored entry of an imported group, by name.
func (e *env) groupEntry(name string) store.DirectoryEntry {
	e.t.Helper()
	es, err := e.st.ListDirectoryEntries(context.Background(), dirName)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, en := range es {
		if en.Kind == store.EntryGroup && en.Name == name {
			return en
		}
	}
	e.t.Fatalf("no stored entry for group %s", name)
	return store.DirectoryEntry{}
}

// readStats decodes a run's read statistics.
func readStats(t *testing.T, run store.SyncRun) directory.Stats {
	t.Helper()
	var s directory.Stats
	if err := json.Unmarshal(run.Stats, &s); err != nil {
		t.Fatalf("run stats %s: %v", run.Stats, err)
	}
	return s
}

func testLogger(t *testing.T) *zap.Logger {
	return zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func freePort(t *testing.T) int { return harness.FreePort(t) }

// names makes n usernames prefix1..prefixN.
func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i+1)
	}
	return out
}

// users creates one user per name in ou and returns their DNs.
func users(t *testing.T, s server, ou string, ns ...string) []string {
	t.Helper()
	dns := make([]string, len(ns))
	for i, n := range ns {
		dns[i] = s.user(t, ou, n)
	}
	return dns
}
