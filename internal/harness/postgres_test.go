package harness

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestPostgres starts a server of its own, makes two databases, checks
// they are separate and answer over TCP, and that Stop leaves no process
// and no directory behind.
func TestPostgres(t *testing.T) {
	start := time.Now()
	p := StartPostgres(t)
	t.Logf("initdb + start: %s (%s)", time.Since(start).Round(time.Millisecond), p.BinDir)

	ctx := context.Background()
	dsnA, dsnB := p.NewDatabase(t), p.NewDatabase(t)
	if dsnA == dsnB {
		t.Fatalf("NewDatabase returned the same DSN twice: %s", dsnA)
	}
	a, err := pgx.Connect(ctx, dsnA)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	if _, err := a.Exec(ctx, `CREATE TABLE only_in_a (x int)`); err != nil {
		t.Fatal(err)
	}
	b, err := pgx.Connect(ctx, dsnB)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx)
	var n int
	if err := b.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("databases not separate: %d tables, %v", n, err)
	}
	var fsync, tz string
	if err := b.QueryRow(ctx, `SELECT current_setting('fsync'), current_setting('TimeZone')`).Scan(&fsync, &tz); err != nil {
		t.Fatal(err)
	}
	if fsync != "off" {
		t.Errorf("fsync = %s, want off", fsync)
	}

	pid := p.proc.Cmd.Process.Pid
	dir := p.Dir
	p.Stop()
	if err := syscall.Kill(-pid, 0); err == nil {
		t.Errorf("postgres process group %d still alive after Stop", pid)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("postgres dir %s left after Stop: %v", dir, err)
	}
}

// TestPostgresBinDir finds Debian's server binaries without relying on
// PATH or /usr/local/bin.
func TestPostgresBinDir(t *testing.T) {
	dir, err := PostgresBinDir()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(dir + "/" + name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
