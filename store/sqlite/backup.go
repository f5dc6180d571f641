package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"

	"github.com/dirbridge/dirbridge/store/internal/codec"
)

// Backup writes a consistent copy of the SQLite store at dsn to out while
// other processes (a running daemon) keep reading and writing it. VACUUM
// INTO reads the database in one read transaction, so the copy is the
// store as of one moment, compacted; it refuses an existing out so that a
// backup never overwrites another. The copy is a plain SQLite file:
// restoring is stopping the daemon and putting it in place of the store.
func Backup(ctx context.Context, dsn, out string) error {
	base, q, err := splitDSN(dsn)
	if err != nil {
		return err
	}
	if _, err := os.Stat(out); err == nil {
		return fmt.Errorf("sqlite: backup: %s already exists; choose a new file", out)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout(10000)")
	db, err := sql.Open("sqlite", base+"?"+q.Encode())
	if err != nil {
		return fmt.Errorf("sqlite: backup: open: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, out); err != nil {
		_ = os.Remove(out)
		return fmt.Errorf("sqlite: backup to %s: %w", out, codec.CtxErr(ctx.Err(), err))
	}
	// The copy holds every user, session and audit event: owner only.
	if err := os.Chmod(out, 0o600); err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	return nil
}
