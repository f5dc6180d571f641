package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

const (
	exampleConfig   = "../deploy/dirbridge.example.yaml"
	exampleProfiles = "../deploy/profiles.example.yaml"
	referenceDoc    = "../docs/configuration.md"
)

// exampleEnv provides what the example config reads from the environment:
// secret files in a systemd-style credentials directory.
func exampleEnv(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for name, val := range map[string]string{
		"bind-password":          "ad-bind-pw\n",
		"oidc-client-secret":     "okta-secret\n",
		"smtp-password":          "smtp-pw\n",
		"partners-bind-password": "partners-pw\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(val), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("CREDENTIALS_DIRECTORY", dir)
}

func TestExampleConfigValidates(t *testing.T) {
	exampleEnv(t)
	c, err := Load(exampleConfig)
	if err != nil {
		t.Fatalf("%s does not validate:\n%v", exampleConfig, err)
	}
	if got := c.Directories[0].BindPassword.Value(); got != "ad-bind-pw" {
		t.Errorf("bind password from file = %q", got)
	}
	if c.SSO.SAML == nil || c.SSO.SAML.Preset != PresetAzureAD || c.SSO.OIDC == nil || c.SSO.OIDC.Preset != PresetOkta {
		t.Errorf("example should show Azure AD (SAML) and Okta (OIDC)")
	}
	if len(c.Profiles) < 5 {
		t.Errorf("example has %d profiles", len(c.Profiles))
	}
}

// TestExampleProfilesInStep keeps deploy/profiles.example.yaml identical to
// the profiles in the full example, and valid on its own.
func TestExampleProfilesInStep(t *testing.T) {
	exampleEnv(t)
	full, err := Load(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	alone, err := Load(exampleProfiles)
	if err != nil {
		t.Fatalf("%s does not validate on its own:\n%v", exampleProfiles, err)
	}
	if !reflect.DeepEqual(full.Profiles, alone.Profiles) || !reflect.DeepEqual(full.Privileges, alone.Privileges) {
		t.Errorf("profiles or privileges differ between %s and %s", exampleConfig, exampleProfiles)
	}
	byName := map[string]Profile{}
	for _, p := range alone.Profiles {
		byName[p.Name] = p
	}
	has := func(p, priv string) bool {
		for _, x := range byName[p].Privileges {
			if x == priv {
				return true
			}
		}
		return false
	}
	for _, role := range []string{"Administrator", "Member", "Support Member", "Associate", "IT Admin"} {
		if _, ok := byName[role]; !ok {
			t.Errorf("missing role %q", role)
		}
	}
	for _, tc := range []struct {
		profile, priv string
		want          bool
	}{
		{"Administrator", "grant_all", true},
		{"Member", "manage_users", false},
		{"Member", "manage_billing", true},
		{"Support Member", "manage_support_tickets", false},
		{"Support Member", "view_support_tickets", true},
		{"Associate", "manage_users", false},
		{"Associate", "manage_billing", false},
		{"Associate", "view_billing", false},
		{"IT Admin", "manage_users", true},
		{"IT Admin", "view_reports", false},
	} {
		if has(tc.profile, tc.priv) != tc.want {
			t.Errorf("%s holds %s: %v, want %v", tc.profile, tc.priv, !tc.want, tc.want)
		}
	}
}

// yamlPaths lists every key path of Config ("directories[].urls").
func yamlPaths(t reflect.Type, prefix string, out *[]string) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		if t.Kind() == reflect.Slice {
			prefix += "[]"
		}
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == secretType {
		return
	}
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || tag == "" || tag == "-" {
			continue
		}
		p := tag
		if prefix != "" {
			p = prefix + "." + tag
		}
		*out = append(*out, p)
		yamlPaths(f.Type, p, out)
	}
}

// TestEveryKeyDocumented requires every key in the example config and every
// full path in the reference, so neither falls behind the types.
func TestEveryKeyDocumented(t *testing.T) {
	example, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(referenceDoc)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	yamlPaths(reflect.TypeFor[Config](), "", &paths)
	for _, p := range paths {
		key := p[strings.LastIndexAny(p, ".]")+1:]
		if !regexp.MustCompile(`(?m)[\s{,]` + regexp.QuoteMeta(key) + `(_file)?:`).Match(example) {
			t.Errorf("%s: key %q not in %s", p, key, exampleConfig)
		}
		if !strings.Contains(string(doc), "`"+p+"`") {
			t.Errorf("%s not documented in %s", p, referenceDoc)
		}
	}
}
