package admine2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/internal/daemon"
	"github.com/dirbridge/dirbridge/internal/e2e/daemontest"
	"github.com/dirbridge/dirbridge/store"
)

// stack is a running daemon and the dirbridge command.
type stack struct {
	t       *testing.T
	base    string
	cfgPath string
	bin     string
}

func startStack(t *testing.T) *stack {
	t.Helper()
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{t: t, base: "http://" + ln.Addr().String(), cfgPath: filepath.Join(dir, "dirbridge.yaml"), bin: filepath.Join(dir, "dirbridge")}
	conf := "server: {public_url: " + s.base + "}\n" +
		"store: {driver: sqlite, dsn: " + filepath.Join(dir, "db.sqlite") + "}\n" +
		"policy:\n  argon2: {time: 1, memory_kib: 64, threads: 1}\n"
	if err := os.WriteFile(s.cfgPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("go", "build", "-o", s.bin, "github.com/dirbridge/dirbridge/cmd/dirbridge").CombinedOutput(); err != nil {
		t.Fatalf("build dirbridge: %v\n%s", err, out)
	}
	daemontest.Start(t, daemon.Options{ConfigPath: s.cfgPath, Listener: ln, Logger: zaptest.NewLogger(t)}, s.base, nil)
	return s
}

// run runs the dirbridge command; with key, against the daemon's API.
func (s *stack) run(key string, args ...string) string {
	s.t.Helper()
	cmd := exec.Command(s.bin, args...)
	cmd.Env = append(os.Environ(), "DIRBRIDGE_TOKEN=", "DIRBRIDGE_API_KEY="+key, "DIRBRIDGE_SERVER="+s.base, "XDG_CACHE_HOME="+filepath.Dir(s.cfgPath))
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.t.Fatalf("dirbridge %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// key makes an API key for user with the bootstrap command (on the store).
func (s *stack) key(user string) string {
	s.t.Helper()
	out := s.run("", "apikeys", "create", "--config", s.cfgPath, "--user", user, "--name", "e2e")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// caller is one administrator of the API.
type caller struct {
	s     *stack
	name  string
	token string
}

func (s *stack) as(user string) *caller {
	s.t.Helper()
	c := &caller{s: s, name: user}
	var tr admin.TokenResponse
	c.call("POST", "/api/v1/tokens", admin.TokenRequest{APIKey: s.key(user)}, 201, &tr)
	c.token = tr.Token
	return c
}

// call sends a JSON request, wants status and decodes the answer into out.
func (c *caller) call(method, path string, in any, want int, out any) admin.ErrorBody {
	c.s.t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.s.base+path, body)
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		c.s.t.Errorf("%s as %s: %s %s: %d, want %d\n%s", c.name, method, path, "", res.StatusCode, want, data)
	}
	var eb admin.ErrorBody
	_ = json.Unmarshal(data, &eb)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			c.s.t.Fatalf("%s %s: decode: %v", method, path, err)
		}
	}
	return eb
}

func (c *caller) users() []string {
	c.s.t.Helper()
	var list admin.UserList
	c.call("GET", "/api/v1/users?limit=100", nil, 200, &list)
	var names []string
	for _, u := range list.Items {
		names = append(names, u.Username)
	}
	slices.Sort(names)
	return names
}

// TestAdministratorsThroughTheDaemon sets up the administration an
// operator would — the shipped profiles, teams, an IT administrator's
// profile, users — with the dirbridge command against a running daemon,
// then has each kind of administrator try what the seed products say they
// may and may not do.
func TestAdministratorsThroughTheDaemon(t *testing.T) {
	s := startStack(t)

	// Bootstrap: the break-glass superuser (random name) and its key.
	out := s.run("", "emergency-user", "create", "--config", s.cfgPath)
	m := regexp.MustCompile(`emergency user "([^"]+)" created`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("emergency-user create: %s", out)
	}
	rootName := m[1]
	rootKey := s.key(rootName)
	cli := func(args ...string) string { t.Helper(); return s.run(rootKey, args...) }

	profiles, err := filepath.Abs(filepath.Join("..", "..", "..", "deploy", "admin-profiles.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cli("profiles", "load", profiles)
	cli("teams", "create", "Support")
	cli("teams", "create", "Floor 1", "--parent", "Support")
	cli("teams", "create", "Floor 2", "--parent", "Support")
	cli("teams", "create", "Night", "--parent", "Floor 2")
	cli("profiles", "create", "IT Admin", "--privilege", "manage_users", "--privilege", "view_users",
		"--scope", "manage_users=assigned:Floor 1", "--scope", "view_users=assigned:Floor 1", "--may-grant", "edit_own_details")
	for _, u := range [][]string{
		{"sys", "System Administrator"}, {"sec", "Security Administrator"}, {"ita", "IT Admin"},
		{"sue", "Supervisor", "Floor 2"}, {"ann", "Agent", "Floor 1"}, {"bob", "Agent", "Floor 2"},
		{"nick", "Agent", "Night"}, {"fay", "Supervisor", "Floor 1"},
	} {
		args := []string{"users", "create", u[0], "--profile", u[1], "--no-invite"}
		if len(u) > 2 {
			args = append(args, "--team", u[2])
		}
		cli(args...)
	}

	root, sys, sec, sue, ita := s.as(rootName), s.as("sys"), s.as("sec"), s.as("sue"), s.as("ita")
	all := []string{"ann", "bob", "fay", "ita", "nick", rootName, "sec", "sue", "sys"}
	slices.Sort(all)

	t.Run("superuser", func(t *testing.T) {
		if got := root.users(); !slices.Equal(got, all) {
			t.Errorf("users: %q", got)
		}
		root.call("POST", "/api/v1/users/fay/deactivate", nil, 200, nil)
		root.call("POST", "/api/v1/users/fay/activate", nil, 200, nil)
	})

	t.Run("system administrator", func(t *testing.T) {
		if got := sys.users(); !slices.Equal(got, all) {
			t.Errorf("users: %q", got)
		}
		// grant_all: any profile to anyone but superusers and break-glass.
		sys.call("PATCH", "/api/v1/users/ita", map[string]any{"profile": "Security Administrator"}, 200, nil)
		sys.call("PATCH", "/api/v1/users/ita", map[string]any{"profile": "IT Admin"}, 200, nil)
		sys.call("POST", "/api/v1/users/"+rootName+"/deactivate", nil, 403, nil)
		sys.call("POST", "/api/v1/users/"+rootName+"/password", map[string]any{}, 403, nil)
	})

	t.Run("security administrator", func(t *testing.T) {
		// Signs agents out and unlocks them...
		sec.call("DELETE", "/api/v1/users/ann/sessions", nil, 200, nil)
		sec.call("POST", "/api/v1/users/ann/unlock", nil, 200, nil)
		// ...but hands out only what its may_grant lists, and cannot act
		// on anyone holding more (a supervisor's manage_users).
		if eb := sec.call("PATCH", "/api/v1/users/ann", map[string]any{"profile": "System Administrator"}, 403, nil); !strings.Contains(eb.Error.Message, "grant_all") {
			t.Errorf("refusal: %+v", eb.Error)
		}
		sec.call("POST", "/api/v1/users/sue/password", map[string]any{}, 403, nil)
		sec.call("POST", "/api/v1/users/sys/deactivate", nil, 403, nil)
	})

	t.Run("supervisor of one team", func(t *testing.T) {
		// Floor 2 and its subteam Night, nobody else.
		if got := sue.users(); !slices.Equal(got, []string{"bob", "nick", "sue"}) {
			t.Errorf("users: %q", got)
		}
		sue.call("GET", "/api/v1/users/ann", nil, 404, nil)
		sue.call("POST", "/api/v1/users/ann/deactivate", nil, 404, nil)
		sue.call("POST", "/api/v1/users/nick/deactivate", nil, 200, nil)
		sue.call("POST", "/api/v1/users/nick/activate", nil, 200, nil)
		// A new agent goes into her teams only.
		if eb := sue.call("POST", "/api/v1/users", admin.CreateUserRequest{Username: "newbie", Profile: ptr("Agent"), Units: []string{"Floor 1"}, Invite: ptr(false)}, 400, nil); eb.Error.Field != "units[0]" {
			t.Errorf("out-of-reach team: %+v", eb.Error)
		}
		sue.call("POST", "/api/v1/users", admin.CreateUserRequest{Username: "newbie", Profile: ptr("Agent"), Units: []string{"Night"}, Invite: ptr(false)}, 201, nil)
		// She may give the Agent profile, not her own.
		sue.call("PATCH", "/api/v1/users/bob", map[string]any{"profile": "Supervisor"}, 403, nil)
		// And she cannot move bob out of her reach.
		sue.call("PATCH", "/api/v1/users/bob", map[string]any{"units": []string{"Floor 1"}}, 400, nil)
	})

	t.Run("IT administrator with assigned teams", func(t *testing.T) {
		if got := ita.users(); !slices.Equal(got, []string{"ann", "fay"}) {
			t.Errorf("users: %q", got)
		}
		ita.call("POST", "/api/v1/users/bob/deactivate", nil, 404, nil)
		ita.call("PATCH", "/api/v1/users/ann", map[string]any{"units": []string{"Floor 2"}}, 400, nil)
		// fay supervises with manage_users: more than ita may grant.
		ita.call("POST", "/api/v1/users/fay/deactivate", nil, 403, nil)
		ita.call("POST", "/api/v1/users/ann/deactivate", nil, 200, nil)
	})

	// Every refusal is in the audit log; out-of-scope ones say so.
	var audit admin.AuditList
	root.call("GET", "/api/v1/audit?actor=sue&action=user.deactivate&limit=10", nil, 200, &audit)
	outOfScope := false
	for _, ev := range audit.Items {
		outOfScope = outOfScope || (ev.Outcome == string(store.OutcomeDenied) && ev.Details["out_of_scope"] == true)
	}
	if !outOfScope {
		t.Errorf("sue's out-of-scope attempt is not audited as such: %+v", audit.Items)
	}
}

func ptr[T any](v T) *T { return &v }
