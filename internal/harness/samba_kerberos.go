package harness

import (
	"context"
	"strings"
	"time"
)

// ExportKeytab writes the keys of principal (an account or one of its
// SPNs, e.g. HTTP/sso.example.test) to a keytab file, as an administrator
// would for a Kerberos service. `samba-tool domain exportkeytab` opens the
// database itself and refuses -H, so Tool cannot run it.
func (s *Samba) ExportKeytab(t TB, file, principal string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := Run(ctx, s.tool, "domain", "exportkeytab", file, "--principal="+principal, "-s", s.conf); err != nil {
		t.Fatalf("harness: samba export keytab for %s: %v", principal, err)
	}
}

// KRB5Conf is a krb5.conf for clients of the DC's KDC (127.0.0.1:88). The
// one provisioning writes looks the KDC up in DNS, which the test DC does
// not serve. Give it to gokrb5's config.NewFromString, or write it to a
// file for KRB5_CONFIG.
func (s *Samba) KRB5Conf() string {
	return `[libdefaults]
 default_realm = ` + s.Realm + `
 dns_lookup_kdc = false
 dns_lookup_realm = false
 rdns = false
 udp_preference_limit = 1
 default_tkt_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96
 default_tgs_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96
 permitted_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96
[realms]
 ` + s.Realm + ` = {
  kdc = 127.0.0.1:88
 }
[domain_realm]
 .` + strings.ToLower(s.Realm) + ` = ` + s.Realm + `
`
}
