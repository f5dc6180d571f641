package daemon

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/dirbridge/dirbridge/config"
)

// With log.file the daemon logs there, as JSON lines in a file only its
// user reads, and says so once on the logger it was given (stderr).
func TestLogFile(t *testing.T) {
	dir := t.TempDir()
	logFile := filepath.Join(dir, "logs", "dirbridge.log")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "cfg.yaml")
	conf := "store: {driver: sqlite, dsn: " + filepath.Join(dir, "db.sqlite") + "}\n" +
		"server: {public_url: http://" + ln.Addr().String() + "}\n" +
		"log: {file: " + logFile + ", max_size_mib: 1, max_backups: 2}\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	core, stderr := observer.New(zap.DebugLevel)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Options{ConfigPath: cfg, Listener: ln, Logger: zap.New(core)}) }()
	client := &http.Client{Timeout: 5 * time.Second}
	for i := 0; ; i++ {
		if res, err := client.Get("http://" + ln.Addr().String() + "/readyz"); err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if i > 200 {
			t.Fatal("daemon not ready")
		}
		time.Sleep(25 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no shutdown")
	}

	if got := stderr.FilterMessage("logging to file").All(); len(got) != 1 || got[0].ContextMap()["file"] != logFile {
		t.Errorf("stderr logger: %v, want one \"logging to file\" naming %s", got, logFile)
	}
	if n := stderr.FilterMessage("dirbridge serving").Len(); n != 0 {
		t.Errorf("%d serving lines on stderr, want them in the file only", n)
	}
	data, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var entry struct {
			Msg   string `json:"msg"`
			Level string `json:"level"`
		}
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		msgs = append(msgs, entry.Msg)
	}
	for _, want := range []string{"dirbridge serving", "shutting down"} {
		if !strings.Contains(strings.Join(msgs, "\n"), want) {
			t.Errorf("log file lacks %q: %q", want, msgs)
		}
	}
	if runtime.GOOS != "windows" {
		if fi, err := os.Stat(logFile); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("log file mode: %v %v, want 0600", fi.Mode(), err)
		}
	}
}

// The file rotates past log.max_size_mib and keeps the newest backups.
func TestLogFileRotates(t *testing.T) {
	dir := t.TempDir()
	lc := config.Log{Format: "json", File: filepath.Join(dir, "dirbridge.log"), MaxSizeMiB: 1, MaxBackups: 1}
	log, closeFile, err := newFileLogger(lc, zap.NewAtomicLevelAt(zap.InfoLevel))
	if err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("x", 1000)
	for range 3000 { // about 3 MiB
		log.Info("filler", zap.String("pad", pad))
	}
	log.Debug("below the level")
	closeFile()
	var backups []string
	for i := 0; ; i++ {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		backups = backups[:0]
		for _, e := range entries {
			if e.Name() != "dirbridge.log" {
				backups = append(backups, e.Name())
			}
		}
		// Old backups are removed in the background.
		if len(backups) == 1 || i > 100 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(backups) != 1 || !strings.HasPrefix(backups[0], "dirbridge-") {
		t.Errorf("backups %q, want one dirbridge-<time>.log", backups)
	}
	fi, err := os.Stat(lc.File)
	if err != nil || fi.Size() > 1<<20 {
		t.Fatalf("current file: %v %v, want at most 1 MiB", fi, err)
	}
	if data, _ := os.ReadFile(lc.File); strings.Contains(string(data), "below the level") {
		t.Error("a debug line passed the info level")
	}
}

// log.file is an absolute path; the sizes are checked.
func TestLogFileConfig(t *testing.T) {
	_, err := config.Parse([]byte("log: {file: dirbridge.log, max_size_mib: 0, max_backups: -1}\n"), "cfg.yaml")
	if err == nil {
		t.Fatal("a relative log.file passed")
	}
	for _, want := range []string{`log.file: "dirbridge.log" is not an absolute path`, "log.max_size_mib: must be at least 1", "log.max_backups: must not be negative"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v\nwant %q", err, want)
		}
	}
	c, err := config.Parse([]byte("log: {file: "+filepath.Join(t.TempDir(), "d.log")+"}\n"), "cfg.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Log.MaxSizeMiB != 100 || c.Log.MaxBackups != 5 || c.Log.MaxAgeDays != 0 {
		t.Errorf("defaults: %+v", c.Log)
	}
}

// The file logs at the level the daemon runs with: the shared level that
// log.level and SIGHUP set, or the given logger's (serve --log-level wins
// over log.level), or log.level when there is no logger.
func TestLogFileLevel(t *testing.T) {
	shared := zap.NewAtomicLevelAt(zap.ErrorLevel)
	warn, _ := observer.New(zap.WarnLevel)
	for _, tc := range []struct {
		name   string
		shared *zap.AtomicLevel
		given  *zap.Logger
		want   zapcore.Level
	}{
		{"shared", &shared, zap.New(warn), zap.ErrorLevel},
		{"flag", nil, zap.New(warn), zap.WarnLevel},
		{"config", nil, nil, zap.DebugLevel},
		{"nop", nil, zap.NewNop(), zap.DebugLevel},
	} {
		if got := fileLevel(tc.shared, tc.given, "debug").Level(); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}
