package mappinge2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/internal/wire"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/engine"
)

const (
	dirName = "corp"
	base    = "dc=example,dc=org"
)

// baseLDIF is the organisation every test starts from. Night-Shift is
// nested in CC-Agents, so carol is an agent through nesting. slapadd runs
// no overlays, so memberOf is written out.
const baseLDIF = `dn: ou=people,dc=example,dc=org
objectClass: organizationalUnit
ou: people

dn: ou=contractors,dc=example,dc=org
objectClass: organizationalUnit
ou: contractors

dn: ou=groups,dc=example,dc=org
objectClass: organizationalUnit
ou: groups

` + `%USERS%` + `
dn: cn=Night-Shift,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: Night-Shift
member: uid=carol,ou=people,dc=example,dc=org
member: uid=nina,ou=people,dc=example,dc=org
memberOf: cn=CC-Agents,ou=groups,dc=example,dc=org

dn: cn=CC-Supervisors,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: CC-Supervisors
member: uid=sue,ou=people,dc=example,dc=org

dn: cn=CC-Agents,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: CC-Agents
member: cn=Night-Shift,ou=groups,dc=example,dc=org
` + `%AGENTS%`

// ldapUser is one person of the test directory.
type ldapUser struct {
	uid, ou  string
	groups   []string // cn of the groups it is a direct member of
	disabled bool
}

func (u ldapUser) dn() string {
	ou := u.ou
	if ou == "" {
		ou = "people"
	}
	return fmt.Sprintf("uid=%s,ou=%s,%s", u.uid, ou, base)
}

// organisation renders baseLDIF with sue (CC-Supervisors), carol and nina
// (Night-Shift) and the given agents (direct members of CC-Agents).
func organisation(agents ...ldapUser) string {
	people := []ldapUser{
		{uid: "sue", groups: []string{"CC-Supervisors"}},
		{uid: "carol", groups: []string{"Night-Shift"}},
		{uid: "nina", groups: []string{"Night-Shift"}},
	}
	for _, a := range agents {
		a.groups = []string{"CC-Agents"}
		people = append(people, a)
	}
	var users, members strings.Builder
	for _, u := range people {
		name := strings.ToUpper(u.uid[:1]) + u.uid[1:]
		fmt.Fprintf(&users, "dn: %s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\n", u.dn(), u.uid, name, name)
		if u.disabled {
			users.WriteString("employeeType: disabled\n")
		}
		for _, g := range u.groups {
			fmt.Fprintf(&users, "memberOf: cn=%s,ou=groups,%s\n", g, base)
		}
		users.WriteString("\n")
	}
	for _, u := range agents {
		fmt.Fprintf(&members, "member: %s\n", u.dn())
	}
	s := strings.Replace(baseLDIF, "%USERS%", users.String(), 1)
	return strings.Replace(s, "%AGENTS%", members.String(), 1)
}

// configYAML: rule numbers matter, the plans name them. Rule 1 adds a
// unit only; rule 2 gives Supervisor; rule 3 Agent. The admin API is the
// daemon's (wire.Admin), so policy.username applies to users created from
// entries: the fixture's "ed" needs a minimum of 2.
const configYAML = `store: {driver: sqlite, dsn: %q}
policy:
  username: {min_length: 2}
profiles:
  - {name: Agent, privileges: []}
  - {name: Supervisor, privileges: [manage_users]}
  - {name: Breakglass, privileges: [bypass_sso]}
mapping:
  templates:
    username: '{{lower .username}}'
  rules:
    - {group: Night-Shift, units: [Night]}
    - {group: CC-Supervisors, profile: Supervisor, units: [Floor 2]}
    - {group: CC-Agents, profile: Agent, units: [Floor 1]}
directories:
  - name: corp
    kind: ldap
    urls: [%q]
    bind_dn: %q
    bind_password: %q
    base_dn: %q
    groups: [CC-Agents, CC-Supervisors, Night-Shift]
    link_by: username
    disabled_filter: "(employeeType=disabled)"
    max_deactivations: {count: 100, percent: 100}
`

// env is one directory, one store, the sync engine and the admin API over
// that store, wired as the daemon wires them.
type env struct {
	t      *testing.T
	slapd  *harness.Slapd
	st     store.Store
	runner *engine.Runner
	api    *httptest.Server
	token  string
}

func newEnv(t *testing.T, ldif string) *env {
	t.Helper()
	ctx := context.Background()
	s := harness.StartSlapd(t, harness.SlapdOptions{LDIF: ldif})
	dir := t.TempDir()
	path := filepath.Join(dir, "dirbridge.yaml")
	y := fmt.Sprintf(configYAML, filepath.Join(dir, "db.sqlite"), s.URL, s.ReaderDN, s.ReaderPassword, s.BaseDN)
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := wire.Store(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := wire.SeedProfiles(ctx, st, cfg, time.Now()); err != nil {
		t.Fatal(err)
	}
	log := zaptest.NewLogger(t)
	sy, err := wire.Runner(cfg, st, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sy.Runner.Close)
	// The daemon's admin API, over the sync's own mappers.
	a, err := wire.Admin(cfg, wire.AdminDeps{Store: st, Logger: log, Sync: sy})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", a)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	e := &env{t: t, slapd: s, st: st, runner: sy.Runner, api: srv}
	root := store.User{Username: "admin", State: store.StateActive, Source: store.SourceLocal, Superuser: true}
	var secret string
	err = st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateUser(ctx, &root); err != nil {
			return err
		}
		secret, _, err = admin.NewAPIKey(ctx, tx, root.ID, "e2e", time.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var tr admin.TokenResponse
	e.call("POST", "/api/v1/tokens", admin.TokenRequest{APIKey: secret}, 201, &tr)
	e.token = tr.Token
	return e
}

// sync runs one sync and returns the run and its decoded plan.
func (e *env) sync(full, dry bool) (store.SyncRun, engine.Plan) {
	e.t.Helper()
	run, err := e.runner.Run(context.Background(), engine.Request{Directory: dirName, Full: full, DryRun: dry,
		Trigger: "manual", Actor: "e2e"})
	if err != nil || run.Status != store.SyncSucceeded {
		e.t.Fatalf("sync (full=%v dry=%v): %v %s %s", full, dry, err, run.Status, run.Error)
	}
	var p engine.Plan
	if err := json.Unmarshal(run.Plan, &p); err != nil {
		e.t.Fatalf("plan: %v", err)
	}
	return run, p
}

// call sends a JSON request to the admin API as the superuser.
func (e *env) call(method, path string, in any, want int, out any) []byte {
	e.t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.api.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		e.t.Fatalf("%s %s: %d, want %d: %s", method, path, res.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return b
}

func (e *env) user(name string) store.User {
	e.t.Helper()
	u, err := e.st.GetUserByUsername(context.Background(), name)
	if err != nil {
		e.t.Fatalf("user %s: %v", name, err)
	}
	return u
}

// localUser creates a local account as an administrator would have.
func (e *env) localUser(u store.User) store.User {
	e.t.Helper()
	ctx := context.Background()
	u.State, u.Source = store.StateActive, store.SourceLocal
	if err := e.st.Tx(ctx, func(tx store.Tx) error { return tx.CreateUser(ctx, &u) }); err != nil {
		e.t.Fatal(err)
	}
	return u
}

// anchor is the entryUUID slapd gave the entry of a user.
func (e *env) anchor(dn string) string {
	e.t.Helper()
	entries, err := e.st.ListDirectoryEntries(context.Background(), dirName)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, x := range entries {
		if strings.EqualFold(x.DN, dn) {
			return x.Anchor
		}
	}
	e.t.Fatalf("no entry %s", dn)
	return ""
}

// move changes uid's direct group memberships online (the memberof overlay
// keeps memberOf in step).
func (e *env) move(u ldapUser, from, to string) {
	e.t.Helper()
	var b strings.Builder
	if from != "" {
		fmt.Fprintf(&b, "dn: cn=%s,ou=groups,%s\nchangetype: modify\ndelete: member\nmember: %s\n\n", from, base, u.dn())
	}
	if to != "" {
		fmt.Fprintf(&b, "dn: cn=%s,ou=groups,%s\nchangetype: modify\nadd: member\nmember: %s\n\n", to, base, u.dn())
	}
	e.slapd.Modify(e.t, b.String())
}

// item finds username's item in a plan.
func item(p engine.Plan, username string) (engine.Item, bool) {
	for _, it := range p.Items {
		if it.Username == username {
			return it, true
		}
	}
	return engine.Item{}, false
}

// change finds field's change in an item, rendered as the summary does.
func change(it engine.Item, field string) string {
	for _, c := range it.Changes {
		if c.Field == field {
			return c.String()
		}
	}
	return ""
}

// audit lists the events of action, newest first.
func (e *env) audit(action string) []store.AuditEvent {
	e.t.Helper()
	ev, err := e.st.ListAudit(context.Background(), store.AuditFilter{Action: action})
	if err != nil {
		e.t.Fatal(err)
	}
	return ev
}
