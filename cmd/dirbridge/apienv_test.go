package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/sqlite"
)

// apiEnv is an admin API served on loopback, with a superuser "root"
// whose API key is in the environment (DIRBRIDGE_API_KEY), so the
// commands run as an administrator's script would.
type apiEnv struct {
	t      *testing.T
	st     store.Store
	srv    *httptest.Server
	rootID string
	keyID  string
}

// openTestStore opens a SQLite store in t's temporary directory, closed
// when t ends.
func openTestStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// serveAPI serves api (an admin API over st) and creates root and its key.
func serveAPI(t *testing.T, st store.Store, api http.Handler) *apiEnv {
	t.Helper()
	ctx := context.Background()
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", api)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	root := store.User{Username: "root", State: store.StateActive, Source: store.SourceLocal, Superuser: true}
	var secret, keyID string
	err := st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateUser(ctx, &root); err != nil {
			return err
		}
		var k store.APIKey
		var err error
		secret, k, err = admin.NewAPIKey(ctx, tx, root.ID, "cli-test", time.Now())
		keyID = k.ID
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("DIRBRIDGE_TOKEN", "")
	t.Setenv("DIRBRIDGE_API_KEY", secret)
	return &apiEnv{t: t, st: st, srv: srv, rootID: root.ID, keyID: keyID}
}

// api runs a command against the API and fails the test if it fails.
func (e *apiEnv) api(args ...string) string {
	e.t.Helper()
	out, errOut, err := run(e.t, append(args, "--server", e.srv.URL)...)
	if err != nil {
		e.t.Fatalf("%v: %v\n%s%s", args, err, out, errOut)
	}
	return out
}
