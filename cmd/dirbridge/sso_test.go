package main

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSSOMetadataFromConfigAlone(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "cfg.yaml")
	// The IdP's metadata URL points nowhere: printing the SP metadata must
	// not need the IdP (it is what the IdP needs first).
	conf := "server:\n  public_url: https://sso.example.com\n" +
		"store:\n  driver: sqlite\n  dsn: " + filepath.Join(dir, "db.sqlite") + "\n" +
		"sso:\n  saml: {preset: okta, idp_metadata_url: \"http://127.0.0.1:9/metadata\"}\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := run(t, "sso", "metadata", "--config", cfg)
	if err != nil {
		t.Fatalf("sso metadata: %v\n%s", err, errOut)
	}
	var md struct {
		EntityID string `xml:"entityID,attr"`
		SP       struct {
			ACS []struct {
				Location string `xml:"Location,attr"`
			} `xml:"AssertionConsumerService"`
		} `xml:"SPSSODescriptor"`
	}
	if err := xml.Unmarshal([]byte(out), &md); err != nil {
		t.Fatalf("not XML: %v\n%s", err, out)
	}
	if !strings.HasPrefix(md.EntityID, "https://sso.example.com") || len(md.SP.ACS) == 0 ||
		md.SP.ACS[0].Location != "https://sso.example.com/saml/acs" {
		t.Fatalf("metadata: %+v\n%s", md, out)
	}

	// Without sso.saml it says so.
	if err := os.WriteFile(cfg, []byte("store:\n  driver: sqlite\n  dsn: "+filepath.Join(dir, "db.sqlite")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, "sso", "metadata", "--config", cfg); err == nil || !strings.Contains(err.Error(), "sso.saml is not configured") {
		t.Fatalf("without saml: %v", err)
	}
}
