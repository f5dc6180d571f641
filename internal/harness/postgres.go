package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is a private PostgreSQL server: a cluster made by initdb in a
// temp dir, listening on 127.0.0.1 at a free port with its unix socket in
// the same dir, durability switched off for speed (fsync=off: a crash
// loses the test data, which a test never keeps). Connections from
// loopback are trusted; the superuser is "postgres".
type Postgres struct {
	Host string // 127.0.0.1
	Port int
	// Dir holds the cluster (Dir/data), the socket and the log.
	Dir string
	// BinDir is the PostgreSQL version's bin directory the server runs from.
	BinDir string

	mu   sync.Mutex
	proc *Process
}

// PostgresInstallHint says how to get the PostgreSQL binaries.
const PostgresInstallHint = "install postgresql (" + InstallHint + "); Debian keeps the server binaries in /usr/lib/postgresql/VERSION/bin"

// PostgresBinDir returns the bin directory of the newest PostgreSQL
// installed under /usr/lib/postgresql (Debian's layout). /usr/local/bin
// symlinks are not relied on: a fresh machine has none.
func PostgresBinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	type cand struct {
		dir string
		ver []int
	}
	var cands []cand
	for _, d := range dirs {
		if st, err := os.Stat(filepath.Join(d, "postgres")); err != nil || st.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "initdb")); err != nil {
			continue
		}
		var ver []int
		for _, part := range strings.Split(filepath.Base(filepath.Dir(d)), ".") {
			n, err := strconv.Atoi(part)
			if err != nil {
				ver = nil
				break
			}
			ver = append(ver, n)
		}
		if ver == nil {
			continue
		}
		cands = append(cands, cand{d, ver})
	}
	if len(cands) == 0 {
		return "", fmt.Errorf("%w: no PostgreSQL server under /usr/lib/postgresql/*/bin: %s", ErrMissing, PostgresInstallHint)
	}
	sort.Slice(cands, func(i, j int) bool {
		a, b := cands[i].ver, cands[j].ver
		for k := 0; k < len(a) && k < len(b); k++ {
			if a[k] != b[k] {
				return a[k] > b[k]
			}
		}
		return len(a) > len(b)
	})
	return cands[0].dir, nil
}

// StartPostgres starts a PostgreSQL server of the test's own, stopped and
// removed at cleanup. Most tests want NewDatabase on the shared server
// instead; this is for tests that need a server to themselves.
func StartPostgres(t TB) *Postgres {
	t.Helper()
	p, err := startPostgres()
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	t.Cleanup(p.Stop)
	return p
}

// startPostgres runs initdb and the server. On error nothing is left
// behind.
func startPostgres() (p *Postgres, err error) {
	bin, err := PostgresBinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "dirbridge-postgres-")
	if err != nil {
		return nil, fmt.Errorf("postgres: temp dir: %w", err)
	}
	p = &Postgres{Host: "127.0.0.1", Dir: dir, BinDir: bin}
	defer func() {
		if err != nil {
			p.Stop()
		}
	}()
	// initdb and postgres refuse to run as root: as root (the CI and this
	// machine), run them as the postgres system user the Debian package
	// creates, in a dir it owns.
	var asUser []string
	if os.Geteuid() == 0 {
		u, lerr := user.Lookup("postgres")
		if lerr != nil {
			return p, fmt.Errorf("postgres: running as root needs the postgres system user (%w): %s", lerr, PostgresInstallHint)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return p, fmt.Errorf("postgres: chown %s: %w", dir, err)
		}
		setpriv, lerr := exec.LookPath("setpriv")
		if lerr != nil {
			return p, fmt.Errorf("postgres: setpriv not found: install util-linux (Essential in Debian): %w", lerr)
		}
		// --pdeathsig: the credential change clears a parent-death signal
		// set before it, so setpriv sets it again after dropping root; a
		// test binary that dies leaves no server behind.
		asUser = []string{setpriv, "--reuid=" + u.Uid, "--regid=" + u.Gid, "--clear-groups",
			"--pdeathsig=KILL", "--"}
	}
	command := func(name string, args ...string) *exec.Cmd {
		argv := append(append(append([]string{}, asUser...), filepath.Join(bin, name)), args...)
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "TZ=UTC"}
		return cmd
	}

	data := filepath.Join(dir, "data")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	initdb := command("initdb", "-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8",
		"--locale=C.UTF-8", "--no-sync", "--no-instructions")
	if out, err := runCmd(ctx, initdb); err != nil {
		return p, fmt.Errorf("postgres: initdb: %w: %s", err, tail(out, 3000))
	}

	// A port taken between FreePort and the bind is retried with another.
	var lastErr error
	for range 3 {
		p.Port = freePort()
		if p.Port == 0 {
			return p, errors.New("postgres: no free port")
		}
		cmd := command("postgres", "-D", data,
			"-c", "listen_addresses="+p.Host,
			"-c", "port="+strconv.Itoa(p.Port),
			"-c", "unix_socket_directories="+dir,
			"-c", "fsync=off",
			"-c", "synchronous_commit=off",
			"-c", "full_page_writes=off",
			"-c", "shared_buffers=32MB",
			"-c", "max_connections=200",
			"-c", "log_min_messages=warning",
			"-c", "logging_collector=off",
			"-c", "TimeZone=UTC")
		proc, err := Start("postgres", cmd, filepath.Join(dir, "postgres.log"))
		if err != nil {
			return p, fmt.Errorf("postgres: %w", err)
		}
		p.mu.Lock()
		p.proc = proc
		p.mu.Unlock()
		if lastErr = p.waitReady(ctx, proc); lastErr == nil {
			return p, nil
		}
		p.stopProc()
	}
	out, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
	return p, fmt.Errorf("postgres: %w\n%s", lastErr, tail(out, 3000))
}

func runCmd(ctx context.Context, cmd *exec.Cmd) ([]byte, error) {
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			if cmd.Process != nil {
				_ = cmd.Process.Kill()
			}
		case <-done:
		}
	}()
	return cmd.CombinedOutput()
}

// freePort is FreePort for the shared server, which reports errors to
// every test that asks for it rather than to the first one's TB.
func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitReady waits until the server accepts a query.
func (p *Postgres) waitReady(ctx context.Context, proc *Process) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := pgx.Connect(ctx, p.DSN("postgres"))
		if err == nil {
			err = c.Ping(ctx)
			_ = c.Close(ctx)
			if err == nil {
				return nil
			}
		}
		if proc.Exited() {
			return fmt.Errorf("server exited: %w", err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server not answering after 30s: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// DSN is the URL of database db as the superuser.
func (p *Postgres) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", Addr(p.Port), db)
}

var dbSeq atomic.Int64

// NewDatabase creates an empty database and returns its DSN; it is
// dropped (connections still open are ended) at the test's cleanup.
func (p *Postgres) NewDatabase(t TB) string {
	t.Helper()
	name := fmt.Sprintf("t_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("harness: postgres: create database: %v", err)
	}
	t.Cleanup(func() {
		if !p.running() {
			return // stopped first: the whole cluster is gone
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := p.exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`); err != nil {
			t.Logf("harness: postgres: drop database %s: %v", name, err)
		}
	})
	return p.DSN(name)
}

func (p *Postgres) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.proc != nil && !p.proc.Exited()
}

// exec runs one statement on the postgres database as the superuser.
func (p *Postgres) exec(ctx context.Context, sql string) error {
	c, err := pgx.Connect(ctx, p.DSN("postgres"))
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	_, err = c.Exec(ctx, sql)
	return err
}

// stopProc ends the server: SIGINT is PostgreSQL's fast shutdown (open
// sessions are ended, not waited for), then the whole group is killed if
// it lingers.
func (p *Postgres) stopProc() {
	p.mu.Lock()
	proc := p.proc
	p.proc = nil
	p.mu.Unlock()
	if proc == nil || proc.Cmd.Process == nil {
		return
	}
	pgid := proc.Cmd.Process.Pid
	// The leader is setpriv's exec of postgres itself: signal it alone
	// first, so the postmaster stops its backends in order.
	_ = syscall.Kill(pgid, syscall.SIGINT)
	select {
	case <-proc.done:
	case <-time.After(10 * time.Second):
	}
	proc.Stop(5 * time.Second)
	// Backends may outlive the postmaster by a moment; wait for the group.
	start := time.Now()
	for syscall.Kill(-pgid, 0) == nil && time.Since(start) < 10*time.Second {
		if time.Since(start) > 5*time.Second {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop ends the server and removes its directory.
func (p *Postgres) Stop() {
	if p == nil {
		return
	}
	p.stopProc()
	if p.Dir != "" {
		_ = os.RemoveAll(p.Dir)
	}
}

// The test binary's shared server, started on first use.
var sharedPG struct {
	mu  sync.Mutex
	srv *Postgres
	err error
}

// SharedPostgres returns the test binary's one PostgreSQL server, started
// on first use (initdb and start take about a second). A package that uses
// it calls StopPostgres at the end of its TestMain, which stops the server
// and removes its directory.
func SharedPostgres(t TB) *Postgres {
	t.Helper()
	sharedPG.mu.Lock()
	defer sharedPG.mu.Unlock()
	if sharedPG.srv == nil && sharedPG.err == nil {
		sharedPG.srv, sharedPG.err = startPostgres()
		if sharedPG.err != nil {
			sharedPG.srv = nil
		}
	}
	if sharedPG.err != nil {
		t.Fatalf("harness: %v", sharedPG.err)
	}
	return sharedPG.srv
}

// NewDatabase returns the DSN of a fresh, empty database on the shared
// server, dropped at the test's cleanup.
func NewDatabase(t TB) string {
	t.Helper()
	return SharedPostgres(t).NewDatabase(t)
}

// StopPostgres stops the shared server, if one was started, and removes
// its directory. Call it at the end of TestMain.
func StopPostgres() {
	sharedPG.mu.Lock()
	defer sharedPG.mu.Unlock()
	sharedPG.srv.Stop()
	sharedPG.srv, sharedPG.err = nil, nil
}
