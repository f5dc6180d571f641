package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pressly/goose/v3"
	"github.com/spf13/cobra"

	"github.com/dirbridge/dirbridge/store/sqlite"
)

// commandPaths walks the whole command tree, cobra's help and completion
// commands included, and returns every command's path below the root.
func commandPaths(t *testing.T) map[string]*cobra.Command {
	t.Helper()
	root := newRoot()
	root.InitDefaultHelpCmd() // otherwise added only at Execute
	paths := map[string]*cobra.Command{"": root}
	var walk func(prefix []string, c *cobra.Command)
	walk = func(prefix []string, c *cobra.Command) {
		for _, sub := range c.Commands() {
			p := append(append([]string{}, prefix...), sub.Name())
			paths[strings.Join(p, " ")] = sub
			walk(p, sub)
		}
	}
	walk(nil, root)
	if len(paths) < 40 {
		t.Fatalf("walked only %d commands", len(paths))
	}
	return paths
}

func TestEveryCommandStatesItsArgs(t *testing.T) {
	for path, c := range commandPaths(t) {
		if c.Args == nil {
			t.Errorf("dirbridge %s: no Args: cobra would let any word through", path)
		}
	}
}

// sideEffects is what a command that did something would leave behind: a
// request to the daemon's API, a store created or migrated.
type sideEffects struct {
	requests    atomic.Int64
	server      *httptest.Server
	newCfg      string // its store does not exist
	newDB       string
	oldCfg      string // its store is at migration 2
	oldDB       string
	lastRequest atomic.Value
}

func newSideEffects(t *testing.T) *sideEffects {
	t.Helper()
	t.Setenv("DIRBRIDGE_TOKEN", "dbt_test") // a client gets as far as the request
	t.Setenv("DIRBRIDGE_API_KEY", "")
	se := &sideEffects{}
	se.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		se.requests.Add(1)
		se.lastRequest.Store(r.Method + " " + r.URL.String())
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(se.server.Close)
	dir := t.TempDir()
	se.newDB, se.newCfg = filepath.Join(dir, "new.sqlite"), filepath.Join(dir, "new.yaml")
	se.oldDB, se.oldCfg = filepath.Join(dir, "old.sqlite"), filepath.Join(dir, "old.yaml")
	for cfg, db := range map[string]string{se.newCfg: se.newDB, se.oldCfg: se.oldDB} {
		conf := fmt.Sprintf("store: {driver: sqlite, dsn: %q}\npolicy:\n  argon2: {time: 1, memory_kib: 64, threads: 1}\n", db)
		if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	migrateSQLiteTo(t, se.oldDB, 2)
	return se
}

// migrateSQLiteTo makes a SQLite store at migration version v, as an
// older dirbridge would have left it.
func migrateSQLiteTo(t *testing.T, path string, v int64) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sqlite.Migrations(), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(context.Background(), v); err != nil {
		t.Fatal(err)
	}
}

// sqliteVersion is the highest applied migration of a SQLite store.
func sqliteVersion(t *testing.T, path string) int64 {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v sql.NullInt64
	if err := db.QueryRow(`SELECT MAX(version_id) FROM goose_db_version WHERE is_applied`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v.Int64
}

// check fails t when a command left a side effect.
func (se *sideEffects) check(t *testing.T, what string) {
	t.Helper()
	if n := se.requests.Load(); n != 0 {
		t.Errorf("%s: %d request(s) reached the API (last: %v)", what, n, se.lastRequest.Load())
	}
	if _, err := os.Stat(se.newDB); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s: the store %s was created (%v)", what, se.newDB, err)
	}
	if v := sqliteVersion(t, se.oldDB); v != 2 {
		t.Errorf("%s: the store at migration 2 is now at %d", what, v)
	}
}

// words are what the probe offers a command's Args: plain words no
// command knows.
var words = []string{"w1", "w2", "w3", "w4", "w5", "w6"}

// TestNoCommandActsOnAnUnknownWord gives every runnable command one word
// more than it accepts and checks that it fails, says so, and does
// nothing: no API request, no store created, no migration applied. Each
// command runs twice, once with a config whose store does not exist and
// once with one whose store is at an old migration.
func TestNoCommandActsOnAnUnknownWord(t *testing.T) {
	se := newSideEffects(t)
	// The checks can see a side effect: a real migrate migrates, a real
	// API command makes a request.
	if _, _, err := run(t, "migrate", "--config", se.oldCfg); err != nil || sqliteVersion(t, se.oldDB) == 2 {
		t.Fatalf("migrate did not migrate the old store: %v", err)
	}
	if _, _, err := run(t, "users", "list", "--server", se.server.URL); err != nil || se.requests.Load() != 1 {
		t.Fatalf("users list made %d requests: %v", se.requests.Load(), err)
	}

	tested := 0
	for path, c := range commandPaths(t) {
		if !c.Runnable() {
			t.Errorf("dirbridge %s: not runnable: cobra prints its help and exits 0 for any word", path)
			continue
		}
		// The most words Args accepts; a command that takes any number
		// must say so in its Use ("ENTRY...", "[command]").
		n := 0
		for n < len(words) && c.ValidateArgs(words[:n+1]) == nil {
			n++
		}
		if n == len(words) {
			if strings.Contains(c.Use, "...") || strings.Contains(c.Use, "[command]") {
				continue
			}
			t.Errorf("dirbridge %s: accepts any number of words, and its Use %q does not say so", path, c.Use)
			n = 0 // and show what the word does
		}
		args := append(strings.Fields(path), words[:n]...)
		args = append(args, "extra")
		for _, old := range []bool{false, true} {
			se := newSideEffects(t) // each run starts clean
			cfg := se.newCfg
			if old {
				cfg = se.oldCfg
			}
			full := append([]string{}, args...)
			if c.Flags().Lookup("config") != nil {
				full = append(full, "--config", cfg)
			}
			if c.Flags().Lookup("server") != nil {
				full = append(full, "--server", se.server.URL)
			}
			out, errOut, err := run(t, full...)
			if err == nil {
				t.Errorf("dirbridge %s: succeeded with an extra word: %q", strings.Join(full, " "), out)
			} else if !strings.Contains(err.Error(), `"extra"`) && !strings.Contains(err.Error(), "received") {
				t.Errorf("dirbridge %s: the error does not name the word: %v", strings.Join(full, " "), err)
			}
			if !strings.Contains(errOut, "Error: ") {
				t.Errorf("dirbridge %s: nothing on stderr: %q", strings.Join(full, " "), errOut)
			}
			se.check(t, "dirbridge "+strings.Join(full, " "))
		}
		tested++
	}
	if tested < 40 {
		t.Fatalf("only %d commands tested", tested)
	}
}

// TestWordsThatOnceActed pins the words that ran a sync, applied
// migrations or printed help with exit 0, and what they say now.
func TestWordsThatOnceActed(t *testing.T) {
	se := newSideEffects(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"sync", "list", "--config", se.oldCfg}, "unknown command \"list\" for \"dirbridge sync\"\n\nDid you mean this?\n\truns"},
		{[]string{"sync", "history", "--config", se.newCfg}, "unknown command \"history\" for \"dirbridge sync\"\n\nDid you mean this?\n\truns"},
		{[]string{"sync", "histroy", "--config", se.newCfg, "--full"}, `unknown command "histroy" for "dirbridge sync"`},
		{[]string{"sync", "--server", se.server.URL, "runz"}, "Did you mean this?\n\truns"},
		{[]string{"migrate", "statsu", "--config", se.oldCfg}, "unknown command \"statsu\" for \"dirbridge migrate\"\n\nDid you mean this?\n\tstatus"},
		{[]string{"migrate", "version", "--config", se.oldCfg}, "Did you mean this?\n\tstatus"},
		{[]string{"config", "validate", "--config", se.oldCfg}, "unknown command \"validate\" for \"dirbridge config\"\n\nDid you mean this?\n\tcheck"},
		{[]string{"config", "chek"}, "Did you mean this?\n\tcheck"},
		{[]string{"emergency-user", "creat", "--config", se.newCfg}, "Did you mean this?\n\tcreate"},
		{[]string{"users", "lst", "--server", se.server.URL}, `unknown command "lst" for "dirbridge users"`},
		{[]string{"help", "sync", "bogus"}, `unknown command "bogus" for "dirbridge sync"`},
		{[]string{"completion", "fish-shell"}, `unknown command "fish-shell" for "dirbridge completion"`},
		{[]string{"serve", "now", "--config", se.newCfg}, `unknown command "now" for "dirbridge serve"`},
		{[]string{"snyc"}, "unknown command \"snyc\" for \"dirbridge\"\n\nDid you mean this?\n\tsync"},
	} {
		_, errOut, err := run(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(errOut, tc.want) {
			t.Errorf("dirbridge %s: want an error with %q, got %v (stderr %q)", strings.Join(tc.args, " "), tc.want, err, errOut)
		}
	}
	se.check(t, "the words that once acted")

	// A parent alone prints its help, as before.
	out, _, err := run(t, "config")
	if err != nil || !strings.Contains(out, "Available Commands:") || !strings.Contains(out, "check") {
		t.Fatalf("config alone: %q %v", out, err)
	}
}

func TestVersionFlag(t *testing.T) {
	out, _, err := run(t, "--version")
	if err != nil || out != "dirbridge dev\n" {
		t.Fatalf("--version: %q %v", out, err)
	}
	sub, _, err := run(t, "version")
	if err != nil || !strings.HasPrefix(sub, out) {
		t.Fatalf("version subcommand %q does not begin with --version's %q: %v", sub, out, err)
	}
}
