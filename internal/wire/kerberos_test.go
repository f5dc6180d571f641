package wire

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/keytab"

	"github.com/dirbridge/dirbridge/internal/password"
	"github.com/dirbridge/dirbridge/store/sqlite"
)

// TestKerberosWired: sso.kerberos builds the method into the sign-in
// service, its button on the page and /kerberos/login served; on_login
// decides whether /login itself negotiates.
func TestKerberosWired(t *testing.T) {
	kt := keytab.New()
	if err := kt.AddEntry("HTTP/sso.example.test", "EXAMPLE.TEST", "Svc-Passw0rd!", time.Now(), 2, etypeID.AES256_CTS_HMAC_SHA1_96); err != nil {
		t.Fatal(err)
	}
	raw, err := kt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	ktFile := filepath.Join(t.TempDir(), "http.keytab")
	if err := os.WriteFile(ktFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	h, err := password.NewHasher(password.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		keytab  string
		onLogin bool
		login   int
	}{
		{"keytab_file: " + ktFile, true, http.StatusUnauthorized},
		{"keytab: " + base64.StdEncoding.EncodeToString(raw), false, http.StatusOK},
	} {
		cfg := loadYAML(t, `server: {public_url: "http://sso.example.test"}
directories:
  - {name: corp, kind: ad, urls: [ldaps://dc1.example.test], base_dn: "DC=example,DC=test", groups: [A]}
sso:
  kerberos:
    `+tc.keytab+`
    service_principal: HTTP/sso.example.test@EXAMPLE.TEST
    realms: [{realm: EXAMPLE.TEST}]
    on_login: `+map[bool]string{true: "true", false: "false"}[tc.onLogin]+`
`)
		if d := cfg.SSO.Kerberos.Realms[0].Directory; d != "corp" {
			t.Fatalf("realm directory %q, want the only directory", d)
		}
		svc, err := SSO(cfg, SSODeps{Store: st, Hasher: h})
		if err != nil {
			t.Fatal(err)
		}
		for path, want := range map[string]int{"/login": tc.login, "/kerberos/login": http.StatusUnauthorized} {
			rec := httptest.NewRecorder()
			svc.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			if rec.Code != want || (want == http.StatusUnauthorized) != (rec.Header().Get("WWW-Authenticate") == "Negotiate") {
				t.Fatalf("on_login %v: %s answered %d %q, want %d", tc.onLogin, path, rec.Code, rec.Header().Get("WWW-Authenticate"), want)
			}
			if !strings.Contains(rec.Body.String(), `href="/kerberos/login`) {
				t.Fatalf("%s: no Kerberos button:\n%s", path, rec.Body)
			}
		}
	}
}
