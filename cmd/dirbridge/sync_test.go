package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/internal/harness"
)

const cliLDIF = `dn: ou=people,dc=example,dc=org
objectClass: organizationalUnit
ou: people

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
mail: ben@example.org
memberOf: cn=tier2,ou=groups,dc=example,dc=org

dn: uid=cat,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: cat
cn: Cat Roy
sn: Roy
employeeType: disabled
memberOf: cn=support,ou=groups,dc=example,dc=org

dn: cn=tier2,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: tier2
member: uid=ben,ou=people,dc=example,dc=org
memberOf: cn=support,ou=groups,dc=example,dc=org

dn: cn=support,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: support
member: uid=ann,ou=people,dc=example,dc=org
member: uid=cat,ou=people,dc=example,dc=org
member: cn=tier2,ou=groups,dc=example,dc=org
`

func cliConfig(t *testing.T, s *harness.Slapd, password string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "dirbridge.yaml")
	y := fmt.Sprintf(`store: {driver: sqlite, dsn: %q}
profiles:
  - {name: Agent, privileges: []}
directories:
  - name: corp
    kind: ldap
    urls: [%q]
    bind_dn: %q
    bind_password: %q
    base_dn: %q
    groups: [support]
    disabled_filter: "(employeeType=disabled)"
    default_profile: Agent
`, filepath.Join(dir, "db.sqlite"), s.URL, s.ReaderDN, password, s.BaseDN)
	if err := os.WriteFile(p, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type cliSync struct {
	RunID     string `json:"run_id"`
	Directory string `json:"directory"`
	Full      bool   `json:"full"`
	DryRun    bool   `json:"dry_run"`
	Status    string `json:"status"`
	Error     string `json:"error"`
	Counts    struct {
		Created, Updated, Deactivated, Reactivated, Unchanged *int
	} `json:"counts"`
	Plan []struct {
		Kind     string `json:"kind"`
		Username string `json:"username"`
	} `json:"plan"`
}

func syncJSON(t *testing.T, args ...string) (cliSync, string, error) {
	t.Helper()
	out, errOut, err := run(t, append([]string{"sync", "--json"}, args...)...)
	var res cliSync
	if jerr := json.Unmarshal([]byte(out), &res); jerr != nil {
		t.Fatalf("sync %v: output is not JSON (%v): %q %q", args, jerr, out, errOut)
	}
	return res, errOut, err
}

func TestSyncDirectoryAndExpiryCommandsOnSlapd(t *testing.T) {
	s := harness.StartSlapd(t, harness.SlapdOptions{LDIF: cliLDIF, Quiet: true})
	cfg := cliConfig(t, s, s.ReaderPassword)

	dry, _, err := syncJSON(t, "--config", cfg, "--full", "--dry-run")
	if err != nil || dry.Status != "succeeded" || !dry.DryRun || dry.Counts.Created == nil || *dry.Counts.Created != 2 {
		t.Fatalf("dry run: %+v %v", dry, err)
	}
	full, _, err := syncJSON(t, "--config", cfg, "--full")
	if err != nil || full.Status != "succeeded" || !full.Full || full.RunID == "" || full.Directory != "corp" || *full.Counts.Created != 2 {
		t.Fatalf("full sync: %+v %v", full, err)
	}
	var names []string
	for _, it := range full.Plan {
		names = append(names, it.Kind+" "+it.Username)
	}
	if got := strings.Join(names, ","); got != "create ann,create ben" {
		t.Fatalf("plan items: %s", got)
	}
	again, _, err := syncJSON(t, "--config", cfg)
	if err != nil || again.Status != "succeeded" || *again.Counts.Created != 0 || *again.Counts.Deactivated != 0 {
		t.Fatalf("second sync: %+v %v", again, err)
	}

	out, _, err := run(t, "sync", "--config", cfg, "--full")
	if err != nil || !strings.Contains(out, "succeeded") || !strings.Contains(out, "Plan for directory corp") {
		t.Fatalf("readable sync: %q %v", out, err)
	}

	out, _, err = run(t, "directory", "groups", "--config", cfg, "--search", "tier", "--json")
	if err != nil || !strings.Contains(out, `"name": "tier2"`) || strings.Contains(out, `"name": "support"`) {
		t.Fatalf("directory groups: %q %v", out, err)
	}
	out, _, err = run(t, "directory", "stats", "--config", cfg, "--json")
	if err != nil || !strings.Contains(out, `"users_active": 2`) {
		t.Fatalf("directory stats: %q %v", out, err)
	}
	out, _, err = run(t, "expiry", "report", "--config", cfg, "--json")
	if err != nil || strings.TrimSpace(out) != "[]" {
		t.Fatalf("expiry report: %q %v", out, err)
	}
	out, _, err = run(t, "expiry", "run", "--config", cfg, "--dry-run", "--json")
	if err != nil || !strings.Contains(out, `"dry_run": true`) {
		t.Fatalf("expiry run: %q %v", out, err)
	}
	if _, _, err := run(t, "expiry", "run", "--config", cfg); err == nil || !strings.Contains(err.Error(), "smtp.host") {
		t.Fatalf("expiry run without smtp: %v", err)
	}

	// A wrong bind password fails the run, says why and exits 1.
	bad := cliConfig(t, s, "wrong")
	res, errOut, err := syncJSON(t, "--config", bad)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 || res.Status != "failed" || res.Error == "" || !strings.Contains(errOut, "failed") {
		t.Fatalf("wrong password: %+v %q %v", res, errOut, err)
	}
}
