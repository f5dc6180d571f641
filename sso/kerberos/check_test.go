package kerberos

import (
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/keytab"
)

func testKeytab(t *testing.T, principal, realm string, etypes ...int32) *keytab.Keytab {
	t.Helper()
	kt := keytab.New()
	for _, e := range etypes {
		if err := kt.AddEntry(principal, realm, "Svc-Passw0rd!", time.Now(), 3, e); err != nil {
			t.Fatal(err)
		}
	}
	return kt
}

func TestCheck(t *testing.T) {
	kt := testKeytab(t, "HTTP/sso.example.com", "CORP.EXAMPLE.COM", etypeID.AES256_CTS_HMAC_SHA1_96, etypeID.AES128_CTS_HMAC_SHA1_96, etypeID.RC4_HMAC)
	r := Check(kt, "HTTP/sso.example.com@CORP.EXAMPLE.COM", "https://SSO.example.com:8443")
	if !r.OK() || !r.InKeytab || !r.HostMatches || len(r.Entries) != 1 {
		t.Fatalf("report %+v, want OK", r)
	}
	e := r.Entries[0]
	if e.Principal != "HTTP/sso.example.com@CORP.EXAMPLE.COM" || strings.Join(e.EncTypes, ",") != "aes256-cts-hmac-sha1-96,aes128-cts-hmac-sha1-96,rc4-hmac" || e.KVNOs[0] != 3 {
		t.Fatalf("entry %+v", e)
	}
	if len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "rc4-hmac") {
		t.Fatalf("notes %q, want the weak RC4 key named", r.Notes)
	}

	r = Check(kt, "HTTP/sso.example.com@CORP.EXAMPLE.COM", "https://login.example.com")
	if r.OK() || r.HostMatches || !strings.Contains(strings.Join(r.Problems, "\n"), "server.public_url is on login.example.com") {
		t.Fatalf("host mismatch not reported: %+v", r)
	}
	r = Check(kt, "HTTP/other.example.com@CORP.EXAMPLE.COM", "https://other.example.com")
	if r.OK() || r.InKeytab || !strings.Contains(strings.Join(r.Problems, "\n"), "no key for HTTP/other.example.com@CORP.EXAMPLE.COM") {
		t.Fatalf("missing principal not reported: %+v", r)
	}
}
