package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/sqlite"
)

// TestBackupWhileWriting copies a store that another writer keeps
// changing, then opens the copy as a restored store and reads it back.
func TestBackupWhileWriting(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := sqlite.Open(ctx, filepath.Join(dir, "live.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	create := func(i int) error {
		return s.Tx(ctx, func(tx store.Tx) error {
			return tx.CreateUser(ctx, &store.User{Username: fmt.Sprintf("u%04d", i), Source: store.SourceLocal, State: store.StateActive})
		})
	}
	for i := range 200 {
		if err := create(i); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 200; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := create(i); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	out := filepath.Join(dir, "backup.db")
	err = sqlite.Backup(ctx, filepath.Join(dir, "live.db"), out)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", fi, err)
	}
	if err := sqlite.Backup(ctx, filepath.Join(dir, "live.db"), out); err == nil {
		t.Fatal("a backup overwrote an existing file")
	}

	restored, err := sqlite.Open(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	n, err := restored.CountUsers(ctx, store.UserFilter{})
	if err != nil || n < 200 {
		t.Fatalf("restored users: %d, %v", n, err)
	}
	if _, err := restored.GetUserByUsername(ctx, "u0199"); err != nil {
		t.Fatalf("restored u0199: %v", err)
	}
}
