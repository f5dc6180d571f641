package main

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The shipped deployment files, relative to this package.
const (
	shippedUnit   = "../../deploy/dirbridge.service"
	shippedConfig = "../../deploy/dirbridge.example.yaml"
	// unitConfigPath is where the unit expects the config.
	unitConfigPath = "/etc/dirbridge/dirbridge.yaml"
)

// helperEnv makes the test binary run the CLI instead of the tests
// (TestMain, runAsDirbridge) in a child process whose environment the
// test controls entirely.
const helperEnv = "DIRBRIDGE_TEST_PROCESS"

// runAsDirbridge is the child process runIsolated starts: it executes the
// CLI with the arguments after "--" and returns its exit status.
func runAsDirbridge() int {
	args := os.Args
	if i := slices.Index(args, "--"); i >= 0 {
		args = args[i+1:]
	}
	root := newRoot()
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		return 1
	}
	return 0
}

// runIsolated runs `dirbridge args...` in a child process with exactly env
// (plus the helper marker): nothing of the test's own environment leaks in.
func runIsolated(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"--"}, args...)...)
	cmd.Env = append(slices.Clone(env), helperEnv+"=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// systemdUnit is what the test reads from a unit file: the [Service]
// settings that shape the process environment and its start.
type systemdUnit struct {
	settings map[string][]string // key -> values in order, [Service] only
}

func parseUnit(t *testing.T, path string) systemdUnit {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := systemdUnit{settings: map[string][]string{}}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		if strings.HasPrefix(line, "[") {
			section = line
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: not a setting: %q", path, line)
		}
		if section == "[Service]" {
			u.settings[k] = append(u.settings[k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

// credentials are the LoadCredential= ids and their source files.
func (u systemdUnit) credentials(t *testing.T) map[string]string {
	creds := map[string]string{}
	for _, v := range u.settings["LoadCredential"] {
		id, src, ok := strings.Cut(v, ":")
		if !ok || id == "" || src == "" {
			t.Fatalf("LoadCredential=%s: want ID:PATH", v)
		}
		creds[id] = src
	}
	return creds
}

// environment is the variables Environment= sets (EnvironmentFile= with a
// leading "-" is optional and may be absent, so it adds nothing).
func (u systemdUnit) environment(t *testing.T) []string {
	var env []string
	for _, v := range u.settings["Environment"] {
		for _, kv := range strings.Fields(v) {
			kv = strings.Trim(kv, `"`)
			if !strings.Contains(kv, "=") {
				t.Fatalf("Environment=%s: want KEY=VALUE", v)
			}
			env = append(env, kv)
		}
	}
	for _, v := range u.settings["EnvironmentFile"] {
		if !strings.HasPrefix(v, "-") {
			t.Fatalf("EnvironmentFile=%s is required by the unit; the test cannot know its contents", v)
		}
	}
	return env
}

var credentialRef = regexp.MustCompile(`\$\{CREDENTIALS_DIRECTORY\}/([A-Za-z0-9._-]+)`)

// usedCredentials lists the credentials a config reads, outside comments.
func usedCredentials(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		for _, m := range credentialRef.FindAllStringSubmatch(line, -1) {
			seen[m[1]] = true
		}
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestShippedUnitChecksShippedExample runs the unit's own ExecStartPre
// (`config check`) on deploy/dirbridge.example.yaml the way systemd would:
// the environment is only what the unit sets plus CREDENTIALS_DIRECTORY
// holding one file per LoadCredential=, and the unit loads exactly the
// credentials the example reads.
func TestShippedUnitChecksShippedExample(t *testing.T) {
	u := parseUnit(t, shippedUnit)
	creds := u.credentials(t)
	used := usedCredentials(t, shippedConfig)
	var loaded []string
	for id, src := range creds {
		loaded = append(loaded, id)
		if !strings.HasPrefix(src, "/etc/dirbridge/credentials/") {
			t.Errorf("LoadCredential=%s:%s: keep secrets under /etc/dirbridge/credentials/", id, src)
		}
	}
	sort.Strings(loaded)
	if !slices.Equal(loaded, used) {
		t.Errorf("the unit loads credentials %v, the example reads %v", loaded, used)
	}

	dir := t.TempDir()
	credDir := filepath.Join(dir, "credentials")
	if err := os.Mkdir(credDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for id := range creds {
		if err := os.WriteFile(filepath.Join(credDir, id), []byte("secret-"+id+"\n"), 0o400); err != nil {
			t.Fatal(err)
		}
	}
	example, err := os.ReadFile(shippedConfig)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "dirbridge.yaml")
	if err := os.WriteFile(cfgPath, example, 0o600); err != nil {
		t.Fatal(err)
	}

	pre := u.settings["ExecStartPre"]
	if len(pre) != 1 {
		t.Fatalf("ExecStartPre: %q, want one config check", pre)
	}
	argv := strings.Fields(pre[0])
	if len(argv) < 3 || argv[0] != "/usr/local/bin/dirbridge" || !slices.Equal(argv[1:3], []string{"config", "check"}) {
		t.Fatalf("ExecStartPre=%s: want /usr/local/bin/dirbridge config check ...", pre[0])
	}
	args := slices.Clone(argv[1:])
	if i := slices.Index(args, unitConfigPath); i < 0 {
		t.Fatalf("ExecStartPre=%s does not check %s", pre[0], unitConfigPath)
	} else {
		args[i] = cfgPath
	}
	start := u.settings["ExecStart"]
	if len(start) != 1 || !strings.Contains(start[0], " serve --config "+unitConfigPath) {
		t.Errorf("ExecStart=%q: want serve --config %s, the file ExecStartPre checks", start, unitConfigPath)
	}

	env := append(u.environment(t), "CREDENTIALS_DIRECTORY="+credDir)
	out, err := runIsolated(t, env, args...)
	if err != nil {
		t.Fatalf("config check under the unit's environment: %v\n%s", err, out)
	}
	if !strings.Contains(out, ": OK") {
		t.Fatalf("config check: %s", out)
	}

	// Without the credentials the check fails and names the variable: the
	// test above passes because of the unit, not despite it.
	out, err = runIsolated(t, u.environment(t), args...)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !strings.Contains(out, "CREDENTIALS_DIRECTORY is not set") {
		t.Fatalf("config check without credentials: %v\n%s", err, out)
	}
}

// The unit is Type=notify (the daemon sends READY=1, internal/daemon), its
// Documentation= lines name files the install steps put in place, and its
// hardening keeps systemd-analyze's exposure score at 1.5 or better.
func TestShippedUnitNotifyDocsAndHardening(t *testing.T) {
	u := parseUnit(t, shippedUnit)
	if got := u.settings["Type"]; !slices.Equal(got, []string{"notify"}) {
		t.Errorf("Type=%q, want notify", got)
	}
	data, err := os.ReadFile(shippedUnit)
	if err != nil {
		t.Fatal(err)
	}
	var docs int
	for _, line := range strings.Split(string(data), "\n") {
		v, ok := strings.CutPrefix(line, "Documentation=")
		if !ok {
			continue
		}
		for _, uri := range strings.Fields(v) {
			docs++
			name, ok := strings.CutPrefix(uri, "file:///usr/share/doc/dirbridge/")
			if !ok {
				t.Errorf("Documentation=%s: want a file the install steps copy to /usr/share/doc/dirbridge", uri)
				continue
			}
			// The header installs README.md and docs/*.md there.
			if _, err := os.Stat(filepath.Join("../..", name)); err != nil {
				if _, err := os.Stat(filepath.Join("../../docs", name)); err != nil {
					t.Errorf("Documentation=%s: no README.md or docs/%s in the tree", uri, name)
				}
			}
		}
	}
	if docs == 0 {
		t.Error("no Documentation= line")
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze not found: install Debian's systemd package (scripts/install-deps.sh)")
	}
	// --offline reads the file alone; the name must end in .service.
	unit := filepath.Join(t.TempDir(), "dirbridge.service")
	if err := os.WriteFile(unit, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "security", "--offline=true", "--threshold=15", unit).CombinedOutput()
	score := regexp.MustCompile(`Overall exposure level for dirbridge.service: ([0-9.]+)`).FindSubmatch(out)
	if err != nil || score == nil {
		t.Fatalf("systemd-analyze security: %v, exposure above 1.5 or unreadable:\n%s", err, out)
	}
	t.Logf("systemd-analyze security: exposure %s", score[1])
}
