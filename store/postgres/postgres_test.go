package postgres_test

import (
	"context"
	"os"
	"testing"

	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/postgres"
	"github.com/dirbridge/dirbridge/store/storetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	harness.StopPostgres()
	os.Exit(code)
}

// open returns a store on a fresh database of the shared server.
func open(t testing.TB, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, harness.NewDatabase(t))
	})
}
