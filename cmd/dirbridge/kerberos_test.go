package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/keytab"

	"github.com/dirbridge/dirbridge/sso/kerberos"
)

// kerberosConfig writes a config whose sso.kerberos names a keytab for
// HTTP/sso.example.com@CORP.EXAMPLE.COM; keytabLine is how it names it.
func kerberosConfig(t *testing.T, publicURL, keytabLine string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "cfg.yaml")
	y := fmt.Sprintf(`server: {public_url: %q}
store: {driver: sqlite, dsn: %q}
directories:
  - {name: corp, kind: ad, urls: ["ldaps://dc1.corp.example.com"], base_dn: "DC=corp,DC=example,DC=com", groups: [Agents]}
sso:
  kerberos:
    %s
    service_principal: HTTP/sso.example.com@CORP.EXAMPLE.COM
    realms: [{realm: CORP.EXAMPLE.COM}]
`, publicURL, filepath.Join(dir, "db.sqlite"), keytabLine)
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeKeytab(t *testing.T) (file string, raw []byte) {
	t.Helper()
	kt := keytab.New()
	for _, e := range []int32{etypeID.AES256_CTS_HMAC_SHA1_96, etypeID.AES128_CTS_HMAC_SHA1_96} {
		if err := kt.AddEntry("HTTP/sso.example.com", "CORP.EXAMPLE.COM", "Svc-Passw0rd!", time.Now(), 2, e); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := kt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(t.TempDir(), "http.keytab")
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return file, raw
}

func TestKerberosCheck(t *testing.T) {
	file, raw := writeKeytab(t)
	cfg := kerberosConfig(t, "https://sso.example.com", "keytab_file: "+file)
	out, errOut, err := run(t, "kerberos", "check", "--config", cfg)
	if err != nil {
		t.Fatalf("check: %v\n%s%s", err, out, errOut)
	}
	for _, want := range []string{
		"HTTP/sso.example.com@CORP.EXAMPLE.COM  kvno 2  aes256-cts-hmac-sha1-96, aes128-cts-hmac-sha1-96",
		"in keytab: yes", "matches server.public_url (sso.example.com): yes", "OK",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// The keytab inline as base64, and a public URL on another host.
	cfg = kerberosConfig(t, "https://login.example.com", "keytab: "+base64.StdEncoding.EncodeToString(raw))
	out, errOut, err = run(t, "kerberos", "check", "--config", cfg, "--json")
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(string(out), `"host_matches": false`) {
		t.Fatalf("mismatch: err %v\n%s%s", err, out, errOut)
	}
	var r kerberos.CheckReport
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.InKeytab != true || len(r.Problems) != 1 {
		t.Fatalf("json report %+v (%v)", r, err)
	}

	// Not a keytab: named with its field.
	bad := filepath.Join(t.TempDir(), "bad.keytab")
	if err := os.WriteFile(bad, []byte("not a keytab"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = run(t, "kerberos", "check", "--config", kerberosConfig(t, "https://sso.example.com", "keytab_file: "+bad))
	if err == nil || !strings.Contains(err.Error(), "sso.kerberos.keytab_file: not a keytab") {
		t.Fatalf("bad keytab: %v", err)
	}
}
