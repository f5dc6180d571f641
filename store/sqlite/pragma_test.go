package sqlite

import (
	"context"
	"path/filepath"
	"testing"
)

// TestWriterPragmas: the writer runs with the settings a large sync's
// transaction was measured with; a DSN rewrite that dropped one would only
// show as a slower or unsafe store.
func TestWriterPragmas(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	for pragma, want := range map[string]string{
		"journal_mode": "wal",
		"foreign_keys": "1",
		"synchronous":  "1", // NORMAL
		"cache_size":   "-16384",
		"temp_store":   "2", // MEMORY: statement journals never go to a temp file
	} {
		var got string
		if err := s.write.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", pragma, err)
		}
		if got != want {
			t.Errorf("writer PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
}
