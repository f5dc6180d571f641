package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/sqlite"
	"github.com/dirbridge/dirbridge/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "test.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
