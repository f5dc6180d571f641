// Package harness starts the real servers dirbridge's tests run against —
// OpenLDAP, Samba AD, PostgreSQL, SimpleSAMLphp, oidc-provider, SMTP, and a
// headless Chromium for the console — on loopback, in temporary directories, and stops them afterwards. A missing
// server binary is a test failure that says how to install it, never a skip.
//
// It is test-only: nothing outside _test.go files and bench/ imports it.
package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// TB is the subset of testing.TB the harness needs, so TestMain-level
// servers (shared by a package) can use a Fatalf of their own.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Cleanup(func())
}

// InstallHint is the command that installs everything the harness uses:
// it names every Debian package explicitly (it installs without
// Recommends) and runs npm ci for the oidc-provider test IdP.
const InstallHint = "scripts/install-deps.sh"

// installPkg is the hint of a "not found" message: the Debian package that
// holds the missing file, and the command that installs it.
func installPkg(pkg string) string {
	return fmt.Sprintf("install %s (%s)", pkg, InstallHint)
}

// lookDirs are searched after PATH: a non-root PATH often lacks the sbin
// directories where Debian puts slapd, slapadd and samba.
var lookDirs = []string{"/usr/sbin", "/usr/lib/postgresql/15/bin", "/usr/local/sbin", "/sbin"}

// LookPath finds a server binary or fails the test naming pkg, the Debian
// package that holds it, and the command that installs it.
func LookPath(t TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		for _, dir := range lookDirs {
			cand := dir + "/" + name
			if st, serr := os.Stat(cand); serr == nil && !st.IsDir() {
				return cand
			}
		}
		t.Fatalf("harness: %s not found on PATH nor in %s: %s", name, strings.Join(lookDirs, ", "), installPkg(pkg))
	}
	return p
}

// requireFiles fails the test when one of files is missing, naming pkg,
// the Debian package that holds them: a server started without its data
// files fails later with a message that names neither.
func requireFiles(t TB, what, pkg string, files ...string) {
	t.Helper()
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("harness: %s: %s not found: %s", what, f, installPkg(pkg))
		}
	}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("harness: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// WaitPort waits until addr accepts TCP connections or the timeout passes.
func WaitPort(ctx context.Context, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		d := net.Dialer{Timeout: 200 * time.Millisecond}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			_ = c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not answering after %s: %w", addr, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Process is a server started by the harness.
type Process struct {
	Name string
	Cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start runs cmd in its own process group so Stop can end it and every
// child it forked. Output goes to logFile when set.
func Start(name string, cmd *exec.Cmd, logFile string) (*Process, error) {
	if logFile != "" {
		f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", name, err)
		}
		cmd.Stdout, cmd.Stderr = f, f
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, Cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM to the process group, then SIGKILL after grace.
func (p *Process) Stop(grace time.Duration) {
	if p == nil || p.Cmd.Process == nil {
		return
	}
	pgid := p.Cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
	// Children that left the group (none expected) are not chased.
}

// Kill ends the process group at once (a server dying mid-read).
func (p *Process) Kill() {
	if p == nil || p.Cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// Run runs a short command and returns an error carrying its output.
func Run(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %v: %w: %s", name, args, err, out)
	}
	return nil
}

// Addr is host:port on loopback.
func Addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// ErrMissing marks a server binary that is not installed.
var ErrMissing = errors.New("server binary missing")

// MainTB is a TB for servers started in TestMain, shared by a package's
// tests: Fatalf panics (TestMain has no *testing.T) and cleanups run when
// Close is called at the end of TestMain.
type MainTB struct {
	cleanups []func()
}

// Helper is a no-op.
func (m *MainTB) Helper() {}

// Fatalf stops the test binary with the message.
func (m *MainTB) Fatalf(format string, args ...any) {
	m.Close()
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

// Logf writes to stderr.
func (m *MainTB) Logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

// Cleanup registers f to run at Close, last registered first.
func (m *MainTB) Cleanup(f func()) { m.cleanups = append(m.cleanups, f) }

// Close runs the cleanups.
func (m *MainTB) Close() {
	for i := len(m.cleanups) - 1; i >= 0; i-- {
		m.cleanups[i]()
	}
	m.cleanups = nil
}

// TempDir makes a temporary directory removed at cleanup.
func TempDir(t TB, pattern string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		t.Fatalf("harness: temp dir: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}
