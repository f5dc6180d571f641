package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/internal/harness"
)

// TestConfigCheckOnline reaches a real slapd (one live URL, one dead) and
// a real SMTP relay, and reports each with its result.
func TestConfigCheckOnline(t *testing.T) {
	s := harness.StartSlapd(t, harness.SlapdOptions{LDIF: mapLDIF, Quiet: true})
	relay := harness.StartSMTP(t, harness.SMTPOptions{})
	dead := "ldap://" + harness.Addr(harness.FreePort(t))
	dir := t.TempDir()
	path := filepath.Join(dir, "cfg.yaml")
	y := fmt.Sprintf(`store: {driver: sqlite, dsn: %q}
smtp: {host: %q, port: %d, tls: none, from: dirbridge@example.test}
directories:
  - name: corp
    kind: ldap
    urls: [%q, %q]
    bind_dn: %q
    bind_password: %q
    base_dn: %q
    groups: [support]
`, filepath.Join(dir, "db.sqlite"), relay.Host, relay.Port, s.URL, dead, s.ReaderDN, s.ReaderPassword, s.BaseDN)
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := run(t, "config", "check", "--config", path, "--online", "--json")
	if err == nil || !strings.Contains(errOut, "1 of 3 online check(s) failed") {
		t.Fatalf("one dead server should fail the check: %v\n%s\n%s", err, out, errOut)
	}
	var res struct {
		Checks []onlineCheck `json:"checks"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("not JSON: %v %q", err, out)
	}
	got := map[string]bool{}
	for _, c := range res.Checks {
		got[c.Target] = c.OK
	}
	if !got[s.URL] || got[dead] || !got[fmt.Sprintf("%s:%d", relay.Host, relay.Port)] {
		t.Fatalf("checks: %+v", res.Checks)
	}
	// Without the dead server: all good, in a table.
	if err := os.WriteFile(path, []byte(strings.Replace(y, fmt.Sprintf(", %q", dead), "", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, err = run(t, "config", "check", "--config", path, "--online")
	if err != nil || !strings.Contains(out, "directory corp") || strings.Contains(out, "FAILED") {
		t.Fatalf("all reachable: %v\n%s\n%s", err, out, errOut)
	}
}
