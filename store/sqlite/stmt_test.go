package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/dirbridge/dirbridge/store"
)

// TestTxReusesStatements: a statement one transaction prepared is kept on
// the writer, also when the transaction rolled back, and later
// transactions bind it without parsing it again (parsing in every
// transaction was a third of a SCIM create).
func TestTxReusesStatements(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	errUndo := errors.New("undo")
	run := func(undo bool) []string {
		var missed []string
		err := s.Tx(ctx, func(tx store.Tx) error {
			u := store.User{Username: "alice", Source: store.SourceLocal, State: store.StateActive}
			if err := tx.CreateUser(ctx, &u); err != nil {
				return err
			}
			if _, err := tx.FindUsers(ctx, store.KeyUsername, "alice"); err != nil {
				return err
			}
			missed = slices.Clone(tx.(*txn).q.(*txRunner).missed)
			if undo {
				return errUndo
			}
			return nil
		})
		if undo != errors.Is(err, errUndo) || (!undo && err != nil) {
			t.Fatalf("Tx: %v", err)
		}
		return missed
	}
	if missed := run(true); len(missed) < 2 {
		t.Fatalf("the first transaction prepared %q, want its two statements at least", missed)
	}
	if missed := run(false); len(missed) != 0 {
		t.Fatalf("the second transaction prepared %q again", missed)
	}
	if u, err := s.FindUsers(ctx, store.KeyUsername, "alice"); err != nil || len(u) != 1 {
		t.Fatalf("after the commit: %v, %v", u, err)
	}
}
