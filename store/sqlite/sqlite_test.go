package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// TestWriteInsideTxNamesTheCause pins SQLite's side of what storetest
// allows either way: a Store write inside a Tx callback cannot get the
// writer the transaction holds, so it fails when its context ends, with
// an error that names the mistake instead of a silent hang.
func TestWriteInsideTxNamesTheCause(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	var inner error
	err = s.Tx(ctx, func(store.Tx) error {
		wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		inner = s.RecordOnce(wctx, "ns", "k", time.Now().Add(time.Hour))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(inner, context.DeadlineExceeded) || !strings.Contains(inner.Error(), "inside a Tx callback") {
		t.Fatalf("RecordOnce inside a Tx = %v, want the context's error naming the cause", inner)
	}
	// Outside a transaction, an ended context is only that.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.RecordOnce(cctx, "ns", "k", time.Now().Add(time.Hour)); err == nil || strings.Contains(err.Error(), "inside a Tx") {
		t.Fatalf("RecordOnce with a cancelled context = %v", err)
	}
}
