package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/store"
)

// testStoreWriteInsideTx pins what store.Store documents about calling the
// Store's own writes from inside a Tx callback, a mistake that deadlocks
// SQLite (one writer connection, held by the transaction): such a call
// returns once its context ends — never later — and when it fails, the
// error wraps the context's and names the cause. The transaction itself is
// unharmed and commits, and the store works afterwards.
func testStoreWriteInsideTx(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, s, store.User{Username: "inside", Source: store.SourceLocal, State: store.StateActive})
	const wait = 300 * time.Millisecond
	writes := []struct {
		name string
		fn   func(ctx context.Context) error
	}{
		{"RecordOnce", func(ctx context.Context) error {
			return s.RecordOnce(ctx, "inside-tx", "k", time.Now().Add(time.Hour))
		}},
		{"PutEphemeral", func(ctx context.Context) error {
			return s.PutEphemeral(ctx, "inside-tx", "k", []byte("v"), time.Now().Add(time.Hour))
		}},
		{"UpdateLockout", func(ctx context.Context) error {
			_, err := s.UpdateLockout(ctx, u.ID, func(l store.Lockout) (store.Lockout, error) {
				l.FailedAttempts++
				return l, nil
			})
			return err
		}},
		{"AcquireLease", func(ctx context.Context) error {
			_, err := s.AcquireLease(ctx, "inside-tx", "me", time.Minute)
			return err
		}},
		{"nested Tx", func(ctx context.Context) error {
			return s.Tx(ctx, func(store.Tx) error { return nil })
		}},
	}
	for _, w := range writes {
		profile := "inside-" + strings.ReplaceAll(w.name, " ", "-")
		err := s.Tx(ctx, func(tx store.Tx) error {
			// The transaction has written before the call.
			if err := tx.PutProfile(ctx, store.Profile{Name: profile}); err != nil {
				return err
			}
			wctx, cancel := context.WithTimeout(ctx, wait)
			defer cancel()
			start := time.Now()
			err := w.fn(wctx)
			if took := time.Since(start); took > wait+5*time.Second {
				t.Errorf("%s inside a Tx returned %s after its context ended", w.name, took-wait)
			}
			if err == nil {
				t.Logf("%s inside a Tx: committed apart from the transaction", w.name)
				return nil
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s inside a Tx = %v, want an error wrapping context.DeadlineExceeded", w.name, err)
			}
			if !strings.Contains(err.Error(), "inside a Tx") {
				t.Errorf("%s inside a Tx = %q: the error does not name the cause", w.name, err)
			}
			t.Logf("%s inside a Tx: %v", w.name, err)
			return nil
		})
		noErr(t, w.name+": the transaction around it", err)
		_, err = s.GetProfile(ctx, profile)
		noErr(t, w.name+": the transaction's write", err)
	}
	// The writer is free again: Store writes work.
	noErr(t, "RecordOnce after", s.RecordOnce(ctx, "inside-tx", "after", time.Now().Add(time.Hour)))
	_, err := s.UpdateLockout(ctx, u.ID, func(l store.Lockout) (store.Lockout, error) { return l, nil })
	noErr(t, "UpdateLockout after", err)
}
