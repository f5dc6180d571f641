package kerberos

import (
	"encoding/base64"
	"testing"

	"github.com/jcmturner/gokrb5/v8/keytab"
)

func TestParseServicePrincipal(t *testing.T) {
	for _, bad := range []string{"", "HTTP/sso.example.com", "sso.example.com@R", "HTTP/@R", "HTTP/a/b@R", "/h@R"} {
		if _, _, err := ParseServicePrincipal(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	pn, realm, err := ParseServicePrincipal("HTTP/sso.example.com@corp.example.com")
	if err != nil || pn.PrincipalNameString() != "HTTP/sso.example.com" || realm != "CORP.EXAMPLE.COM" {
		t.Fatalf("got %s @ %s (%v)", pn.PrincipalNameString(), realm, err)
	}
}

// TestAcceptMalformed: tokens that carry no Kerberos AP-REQ are refused
// as malformed, never crash the handler.
func TestAcceptMalformed(t *testing.T) {
	m, err := New(Options{Keytab: keytab.New(), ServicePrincipal: "HTTP/sso.example.com@CORP.EXAMPLE.COM",
		Realms: map[string]string{"CORP.EXAMPLE.COM": "corp"}, Users: &users{}})
	if err != nil {
		t.Fatal(err)
	}
	for name, raw := range map[string][]byte{
		"garbage":          []byte("hello"),
		"empty SPNEGO":     {0x60, 0x00},
		"truncated SPNEGO": mustB64(t, "YIIBsgYGKwYBBQUCoIIBpjCCAaKgDTALBgkqhkiG9xIBAgI="),
		"NegTokenResp":     {0xa1, 0x03, 0x30, 0x01, 0x00},
	} {
		if _, ref := m.Accept(t.Context(), raw); ref == nil || ref.Code != CodeMalformed {
			t.Errorf("%s: refusal %v, want %s", name, ref, CodeMalformed)
		}
	}
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
