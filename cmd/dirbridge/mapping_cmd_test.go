package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/internal/wire"
	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/sqlite"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// mapLDIF: ben is in tier2, nested in support; dan exists twice (people and
// contractors), so both map to username "dan".
const mapLDIF = `dn: ou=people,dc=example,dc=org
objectClass: organizationalUnit
ou: people

dn: ou=contractors,dc=example,dc=org
objectClass: organizationalUnit
ou: contractors

dn: ou=groups,dc=example,dc=org
objectClass: organizationalUnit
ou: groups

dn: uid=ann,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: ann
cn: Ann Lee
sn: Lee
mail: ann@example.org
memberOf: cn=support,ou=groups,dc=example,dc=org

dn: uid=ben,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: ben
cn: Ben Ode
sn: Ode
memberOf: cn=tier2,ou=groups,dc=example,dc=org

dn: uid=dan,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: dan
cn: Dan One
sn: One
memberOf: cn=support,ou=groups,dc=example,dc=org

dn: uid=dan,ou=contractors,dc=example,dc=org
objectClass: inetOrgPerson
uid: dan
cn: Dan Two
sn: Two
memberOf: cn=support,ou=groups,dc=example,dc=org

dn: uid=zed,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: zed
cn: Zed Out
sn: Out

dn: cn=tier2,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: tier2
member: uid=ben,ou=people,dc=example,dc=org
memberOf: cn=support,ou=groups,dc=example,dc=org

dn: cn=support,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: support
member: uid=ann,ou=people,dc=example,dc=org
member: uid=dan,ou=people,dc=example,dc=org
member: uid=dan,ou=contractors,dc=example,dc=org
member: cn=tier2,ou=groups,dc=example,dc=org
`

func mappingConfig(t *testing.T, s *harness.Slapd) (path, db string) {
	t.Helper()
	dir := t.TempDir()
	path, db = filepath.Join(dir, "dirbridge.yaml"), filepath.Join(dir, "db.sqlite")
	y := fmt.Sprintf(`store: {driver: sqlite, dsn: %q}
profiles:
  - {name: Agent, privileges: []}
  - {name: Supervisor, privileges: []}
mapping:
  templates:
    username: '{{lower .username}}'
    email: '{{or .mail (printf "%%s@corp.example" .username)}}'
  rules:
    - {group: tier2, profile: Supervisor, units: [Tier 2]}
    - {group: support, profile: Agent, units: [Support]}
  user_templates:
    - {name: new-hires, language: en, units: [Onboarding]}
directories:
  - name: corp
    kind: ldap
    urls: [%q]
    bind_dn: %q
    bind_password: %q
    base_dn: %q
    groups: [support, tier2]
    user_template: new-hires
`, db, s.URL, s.ReaderDN, s.ReaderPassword, s.BaseDN)
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, db
}

func TestMappingTestCommandOnSlapd(t *testing.T) {
	s := harness.StartSlapd(t, harness.SlapdOptions{LDIF: mapLDIF, Quiet: true})
	cfg, _ := mappingConfig(t, s)

	out, errOut, err := run(t, "mapping", "test", "--config", cfg, "--user", "ben", "--json")
	if err != nil {
		t.Fatalf("mapping test ben: %v %s", err, errOut)
	}
	var ben mappingTest
	if err := json.Unmarshal([]byte(out), &ben); err != nil {
		t.Fatalf("not JSON: %v %q", err, out)
	}
	if ben.Profile != "Supervisor" || ben.ProfileFrom != "rule" || ben.ProfileCause != "rule 1 (group tier2)" ||
		!slices.Equal(ben.Groups, []string{"support", "tier2"}) || ben.Blocked || ben.State != "active" {
		t.Fatalf("ben: %+v", ben)
	}
	units := map[string]string{}
	for _, u := range ben.Units {
		units[u.Unit] = strings.Join(u.Causes, ", ")
	}
	want := map[string]string{"Tier 2": "rule 1 (group tier2)", "Support": "rule 2 (group support)", "Onboarding": `user template "new-hires"`}
	if fmt.Sprint(units) != fmt.Sprint(want) {
		t.Fatalf("ben's units: %v, want %v", units, want)
	}
	fields := map[string]mappingTestField{}
	for _, f := range ben.Fields {
		fields[f.Field] = f
	}
	if f := fields["email"]; f.Value != "ben@corp.example" || !strings.HasPrefix(f.Source, "template {{or .mail") {
		t.Fatalf("ben's email: %+v", f)
	}
	if f := fields["display_name"]; f.Value != "Ben Ode" || f.Source != "directory attribute cn (displayName is empty)" {
		t.Fatalf("ben's display name: %+v", f)
	}
	if f := fields["language"]; f.Value != "en" || !strings.Contains(f.Source, "new-hires") {
		t.Fatalf("ben's language: %+v", f)
	}

	// The readable form says the same, rule by rule.
	out, _, err = run(t, "mapping", "test", "--config", cfg, "--user", "ann@example.org")
	for _, w := range []string{"profile Agent: rule 2 (group support)", "unit Support: rule 2 (group support)", "username", "template {{lower .username}}"} {
		if err != nil || !strings.Contains(out, w) {
			t.Fatalf("readable mapping test lacks %q: %v\n%s", w, err, out)
		}
	}

	// Two directory users mapping to one username: blocked, exit 1.
	out, _, err = run(t, "mapping", "test", "--config", cfg, "--user", "uid=dan,ou=contractors,dc=example,dc=org", "--json")
	var dan mappingTest
	_ = json.Unmarshal([]byte(out), &dan)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 || !dan.Blocked || !slices.ContainsFunc(dan.Warnings, func(w string) bool {
		return strings.Contains(w, `username "dan" is also produced for uid=dan,ou=people`)
	}) {
		t.Fatalf("collision: %v %+v", err, dan)
	}
	// The name alone is ambiguous.
	if _, _, err := run(t, "mapping", "test", "--config", cfg, "--user", "dan"); err == nil || !strings.Contains(err.Error(), "matches 2 users") {
		t.Fatalf("ambiguous name: %v", err)
	}
	// A user in no imported group is not imported at all.
	if _, _, err := run(t, "mapping", "test", "--config", cfg, "--user", "zed"); err == nil || !strings.Contains(err.Error(), "not a member of any imported group") {
		t.Fatalf("zed: %v", err)
	}
}

// apiServer serves the admin API over the config's store, as the daemon
// would, with a superuser's API key in the environment (serveAPI).
func apiServer(t *testing.T, cfgPath, db string) (url string, st store.Store) {
	t.Helper()
	ctx := context.Background()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	st, err = sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := wire.SeedProfiles(ctx, st, cfg, time.Now()); err != nil {
		t.Fatal(err)
	}
	// The daemon's admin API, over the sync's own mappers.
	sy, err := wire.Runner(cfg, st, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sy.Runner.Close)
	a, err := wire.Admin(cfg, wire.AdminDeps{Store: st, Sync: sy})
	if err != nil {
		t.Fatal(err)
	}
	return serveAPI(t, st, a).srv.URL, st
}

func TestEntriesAndPinCommands(t *testing.T) {
	s := harness.StartSlapd(t, harness.SlapdOptions{LDIF: mapLDIF, Quiet: true})
	cfg, db := mappingConfig(t, s)
	if res, _, err := syncJSON(t, "--config", cfg, "--full"); err != nil || res.Status != "succeeded" || *res.Counts.Created != 2 {
		t.Fatalf("sync: %+v %v", res, err)
	}
	srv, st := apiServer(t, cfg, db)
	ctx := context.Background()
	api := func(args ...string) (string, error) {
		t.Helper()
		out, errOut, err := run(t, append(args, "--server", srv)...)
		if err != nil {
			return out + errOut, err
		}
		return out, nil
	}

	// The two dans were blocked by the sync: unmapped entries.
	out, err := api("entries", "list", "--mapped", "false")
	if err != nil || strings.Count(out, "\ndan ") != 2 || strings.Contains(out, "\nann ") {
		t.Fatalf("entries list: %v\n%s", err, out)
	}
	out, err = api("entries", "list", "--json")
	var list admin.DirectoryEntryList
	if err != nil || json.Unmarshal([]byte(out), &list) != nil || len(list.Items) != 4 {
		t.Fatalf("entries list --json: %v %s", err, out)
	}
	var danAnchors []string
	for _, e := range list.Items {
		if e.Name == "dan" {
			danAnchors = append(danAnchors, e.Anchor)
		}
	}

	// Creating a colliding user is refused, names the reason, exits 1.
	out, err = api("entries", "create", danAnchors[0])
	var ee exitError
	if !errors.As(err, &ee) || !strings.Contains(out, "username_collision") || !strings.Contains(out, "0 created, 1 refused") {
		t.Fatalf("create dan: %v\n%s", err, out)
	}
	// An entry name that is ambiguous is refused before any call.
	if _, err := api("entries", "create", "dan"); err == nil || !strings.Contains(err.Error(), "names 2 entries") {
		t.Fatalf("create by ambiguous name: %v", err)
	}

	// unmap, map, remap by login name; each audited.
	if out, err := api("entries", "unmap", "ann"); err != nil || !strings.Contains(out, "unmapped") {
		t.Fatalf("unmap: %v %s", err, out)
	}
	ann, _ := st.GetUserByUsername(ctx, "ann")
	if ann.Source != store.SourceLocal {
		t.Fatalf("ann after unmap: %+v", ann)
	}
	if out, err := api("entries", "map", "ann", "--user", "ann"); err != nil || !strings.Contains(out, "mapped to local user ann") {
		t.Fatalf("map: %v %s", err, out)
	}
	temp := store.User{Username: "temp", State: store.StateActive, Source: store.SourceLocal}
	if err := st.Tx(ctx, func(tx store.Tx) error { return tx.CreateUser(ctx, &temp) }); err != nil {
		t.Fatal(err)
	}
	if out, err := api("entries", "remap", "ann", "--user", "temp", "--json"); err != nil || !strings.Contains(out, `"user_id": "`+temp.ID+`"`) {
		t.Fatalf("remap: %v %s", err, out)
	}
	out, err = api("audit", "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"entry.unmap", "entry.map", "entry.remap", "entry.create"} {
		if !strings.Contains(out, `"action": "`+a+`"`) {
			t.Errorf("%s not audited", a)
		}
	}

	// Pin ben's profile and units, then unpin the profile only.
	out, err = api("users", "pin", "ben", "--profile", "Agent", "--units", "Night,HQ")
	if err != nil || !strings.Contains(out, "pinned (the sync leaves it alone)") {
		t.Fatalf("pin: %v %s", err, out)
	}
	ben, _ := st.GetUserByUsername(ctx, "ben")
	if ben.Profile != "Agent" || !ben.PinnedProfile || !ben.PinnedUnits || !slices.Equal(ben.Units, []string{"Night", "HQ"}) {
		t.Fatalf("ben pinned: %+v", ben)
	}
	if _, err := api("users", "unpin", "ben", "--profile"); err != nil {
		t.Fatal(err)
	}
	ben, _ = st.GetUserByUsername(ctx, "ben")
	if ben.PinnedProfile || !ben.PinnedUnits {
		t.Fatalf("ben after unpin --profile: %+v", ben)
	}
	out, err = api("users", "unpin", "ben", "--json")
	var d admin.UserDetail
	if err != nil || json.Unmarshal([]byte(out), &d) != nil || d.PinnedProfile || d.PinnedUnits {
		t.Fatalf("unpin both: %v %s", err, out)
	}
	// Pinning with no flag pins both at their current values.
	if _, err := api("users", "pin", "ben"); err != nil {
		t.Fatal(err)
	}
	ben, _ = st.GetUserByUsername(ctx, "ben")
	if ben.Profile != "Agent" || !ben.PinnedProfile || !ben.PinnedUnits {
		t.Fatalf("ben pinned as is: %+v", ben)
	}
}

// TestDescribeMappingSaysWhatHappens: a disabled user is reported as not
// created, and the display name's source is the attribute it came from.
func TestDescribeMappingSaysWhatHappens(t *testing.T) {
	mc := mapping.Config{Directory: "corp"}
	d := config.Directory{Name: "corp", Kind: "ldap"}
	for _, c := range []struct {
		user       directory.User
		state, src string
	}{
		{directory.User{Anchor: "a", Username: "x", DisplayName: "X Y", Attributes: map[string][]string{"displayName": {"X Y"}}}, "active", "directory attribute displayName"},
		{directory.User{Anchor: "a", Username: "x", DisplayName: "X Y", Attributes: map[string][]string{"cn": {"X Y"}}}, "active", "directory attribute cn (displayName is empty)"},
		{directory.User{Anchor: "a", Username: "x", Disabled: true}, stateDisabled, "directory attribute displayName (empty), else cn (empty)"},
	} {
		out := describeMapping(mc, d, directory.Snapshot{}, c.user, mapping.Result{State: "active", DisplayName: c.user.DisplayName}, nil)
		var src string
		for _, f := range out.Fields {
			if f.Field == mapping.FieldDisplayName {
				src = f.Source
			}
		}
		if out.State != c.state || src != c.src {
			t.Errorf("%+v: state %q source %q, want %q %q", c.user, out.State, src, c.state, c.src)
		}
	}
}
