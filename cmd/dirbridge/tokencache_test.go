package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/dirbridge/dirbridge/store"
)

// TestMain keeps the CLI's token cache in a directory of its own, removed
// afterwards, instead of the user's cache. Run by runIsolated as the
// command itself, it runs the CLI and no test.
func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(runAsDirbridge())
	}
	// A nested run of the tests must not make a directory of its own.
	if os.Getenv("DIRBRIDGE_TEST_CACHE_OWNER") != "" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "dirbridge-cli-cache-")
	if err != nil {
		panic(err)
	}
	if err := os.Setenv("XDG_CACHE_HOME", dir); err != nil {
		panic(err)
	}
	if err := os.Setenv("DIRBRIDGE_TEST_CACHE_OWNER", "1"); err != nil {
		panic(err)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// TestTokenCache: repeated commands exchange the API key once; a revoked
// cached token is replaced without the caller noticing.
func TestTokenCache(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	e := newManageEnv(t)
	audits := func() int {
		t.Helper()
		ev, err := e.st.ListAudit(context.Background(), store.AuditFilter{Action: "token.create"})
		if err != nil {
			t.Fatal(err)
		}
		return len(ev)
	}
	for range 3 {
		e.api("privileges", "list")
	}
	if n := audits(); n != 1 {
		t.Fatalf("three commands exchanged the key %d times", n)
	}
	files, _ := filepath.Glob(filepath.Join(os.Getenv("XDG_CACHE_HOME"), "dirbridge", "tokens", "*"))
	if len(files) != 1 {
		t.Fatalf("cache files: %q", files)
	}
	if fi, err := os.Stat(files[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("cache file mode: %v %v", fi, err)
	}
	// The server forgets the token (revoked): the next command gets a new one.
	if err := e.st.Tx(context.Background(), func(tx store.Tx) error {
		return tx.DeleteKeyTokens(context.Background(), e.keyID)
	}); err != nil {
		t.Fatal(err)
	}
	e.api("privileges", "list")
	if n := audits(); n != 2 {
		t.Fatalf("after the revocation: %d exchanges", n)
	}
}
