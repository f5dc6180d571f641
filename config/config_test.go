package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite golden files")

// minimal is the smallest useful config: one directory, everything else
// defaulted.
const minimal = `
directories:
  - name: corp
    kind: ad
    urls: [ldaps://dc1.corp.example.com]
    bind_dn: "CN=svc,DC=corp,DC=example,DC=com"
    bind_password: pw
    base_dn: "DC=corp,DC=example,DC=com"
    groups: [CC-Agents]
`

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	c, err := Parse([]byte(src), "dirbridge.yaml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func parseErrs(t *testing.T, src string) Errors {
	t.Helper()
	_, err := Parse([]byte(src), "dirbridge.yaml")
	if err == nil {
		t.Fatalf("Parse succeeded, want errors")
	}
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error is %T (%v), want Errors", err, err)
	}
	return es
}

// TestGolden pins the complete output of `config check` for broken files.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(data, "dirbridge.yaml")
			got := "OK\n"
			if err != nil {
				got = err.Error() + "\n"
			}
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./config -run TestGolden -update)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}

func TestFiveMistakes(t *testing.T) {
	data, err := os.ReadFile("testdata/five_mistakes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	es := parseErrs(t, string(data))
	if len(es) != 5 {
		t.Fatalf("got %d errors, want 5:\n%v", len(es), es)
	}
	for _, e := range es {
		if e.Line == 0 || e.Path == "" || e.File != "dirbridge.yaml" {
			t.Errorf("error without line, path or file: %#v", e)
		}
	}
}

func TestUnknownKeyHasLine(t *testing.T) {
	es := parseErrs(t, minimal+"    bind_pw: oops\n")
	if len(es) != 1 {
		t.Fatalf("got %v, want one error", es)
	}
	want := "dirbridge.yaml:10: directories[0].bind_pw: unknown field"
	if es.Error() != want {
		t.Errorf("got %q, want %q", es.Error(), want)
	}
	es = parseErrs(t, "serevr:\n  listen: :8080\n")
	if es[0].Line != 1 || es[0].Path != "serevr" {
		t.Errorf("top-level unknown key: %#v", es[0])
	}
}

func TestDuplicateKey(t *testing.T) {
	es := parseErrs(t, "log:\n  level: info\n  level: debug\n")
	if !strings.Contains(es.Error(), "dirbridge.yaml:3: log.level: duplicate key (first set on line 2)") {
		t.Errorf("got %v", es)
	}
}

func TestSyntaxError(t *testing.T) {
	_, err := Parse([]byte("server: [\n"), "dirbridge.yaml")
	if err == nil || !strings.Contains(err.Error(), "dirbridge.yaml") {
		t.Fatalf("got %v", err)
	}
}

func TestEmptyFileIsValid(t *testing.T) {
	c := mustParse(t, "")
	if c.Server.Listen != DefaultListen || c.Store.DSN.Value() != DefaultSQLiteDSN {
		t.Errorf("defaults not applied: %+v", c.Server)
	}
}

func TestEnvExpansion(t *testing.T) {
	t.Setenv("DIRBRIDGE_TEST_PW", "s3cr$t")
	t.Setenv("DIRBRIDGE_TEST_PORT", "9090")
	t.Setenv("DIRBRIDGE_TEST_INJECT", "x\nlog: {level: debug}")
	c := mustParse(t, strings.Replace(minimal, "bind_password: pw", "bind_password: ${DIRBRIDGE_TEST_PW}", 1)+
		"server: {listen: \":${DIRBRIDGE_TEST_PORT}\"}\n"+
		"mapping: {templates: {email: '$${not_expanded} and $dollar', display_name: '${DIRBRIDGE_TEST_INJECT}'}}\n")
	if got := c.Directories[0].BindPassword.Value(); got != "s3cr$t" {
		t.Errorf("bind_password = %q", got)
	}
	if c.Server.Listen != ":9090" {
		t.Errorf("listen = %q", c.Server.Listen)
	}
	// Expansion happens per value after parsing: the variable's YAML stays text.
	if c.Log.Level != "info" || c.Mapping.Templates["display_name"] != "x\nlog: {level: debug}" {
		t.Errorf("env value was parsed as YAML: level=%q display_name=%q", c.Log.Level, c.Mapping.Templates["display_name"])
	}
	if got := c.Mapping.Templates["email"]; got != "${not_expanded} and $dollar" {
		t.Errorf("escape: got %q", got)
	}
}

func TestEnvUnsetNamesField(t *testing.T) {
	if err := os.Unsetenv("DIRBRIDGE_TEST_UNSET"); err != nil {
		t.Fatal(err)
	}
	es := parseErrs(t, strings.Replace(minimal, "bind_password: pw", "bind_password: ${DIRBRIDGE_TEST_UNSET}", 1))
	want := "dirbridge.yaml:7: directories[0].bind_password: environment variable DIRBRIDGE_TEST_UNSET is not set"
	if es.Error() != want {
		t.Errorf("got %q\nwant %q", es.Error(), want)
	}
}

func TestExpandEnv(t *testing.T) {
	env := map[string]string{"A": "1", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for _, tc := range []struct{ in, want, err string }{
		{"plain", "plain", ""},
		{"${A}", "1", ""},
		{"x${A}y${A}", "x1y1", ""},
		{"${EMPTY}", "", ""},
		{"$A", "$A", ""},
		{"$${A}", "${A}", ""},
		{"$$", "$$", ""},
		{"${B}", "", "environment variable B is not set"},
		{"${A", "", "unterminated"},
		{"${1A}", "", "invalid environment variable name"},
		{"${}", "", "invalid environment variable name"},
	} {
		got, err := expandEnv(tc.in, lookup)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestSecretFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bind.pw"), []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dsn"), []byte("postgres://u:p@db/x\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DIRBRIDGE_TEST_DIR", dir)
	src := strings.Replace(minimal, "bind_password: pw", "bind_password_file: ${DIRBRIDGE_TEST_DIR}/bind.pw", 1) +
		"store: {driver: postgres, dsn_file: dsn}\n" // relative to the config file
	cfgPath := filepath.Join(dir, "dirbridge.yaml")
	if err := os.WriteFile(cfgPath, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Directories[0].BindPassword.Value(); got != "from-file" {
		t.Errorf("bind password = %q", got)
	}
	if got := c.Store.DSN.Value(); got != "postgres://u:p@db/x" {
		t.Errorf("dsn = %q", got)
	}

	es := parseErrs(t, minimal+"    bind_password_file: /nonexistent\n")
	if want := "dirbridge.yaml:10: directories[0].bind_password_file: set either bind_password (line 7) or bind_password_file, not both"; es.Error() != want {
		t.Errorf("both set: got %q", es.Error())
	}
	es = parseErrs(t, strings.Replace(minimal, "bind_password: pw", "bind_password_file: /dev/null\n    bind_password: pw", 1))
	if want := "dirbridge.yaml:8: directories[0].bind_password: set either bind_password_file (line 7) or bind_password, not both"; es.Error() != want {
		t.Errorf("both set, file first: got %q", es.Error())
	}
	es = parseErrs(t, strings.Replace(minimal, "bind_password: pw", "bind_password_file: /nonexistent/pw", 1))
	if !strings.Contains(es.Error(), "dirbridge.yaml:7: directories[0].bind_password_file: reading secret: open /nonexistent/pw") {
		t.Errorf("missing file: got %q", es.Error())
	}
	if strings.Contains(es.Error(), "bind_password: required") {
		t.Errorf("a failed _file must not also report the field as missing: %q", es.Error())
	}
	// _file only exists for secrets.
	es = parseErrs(t, minimal+"    base_dn_file: /x\n")
	if !strings.Contains(es.Error(), "directories[0].base_dn_file: unknown field") {
		t.Errorf("non-secret _file: got %q", es.Error())
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	const value = "hunter2-very-secret"
	s := NewSecret(value)
	c := mustParse(t, strings.Replace(minimal, "bind_password: pw", "bind_password: "+value, 1)+
		"sso: {oidc: {issuer: https://idp.example.com, client_id: x, client_secret: "+value+"}}\n"+
		"server: {public_url: https://sso.example.com}\n"+
		"smtp: {host: mail.example.com, from: a@example.com, username: u, password: "+value+"}\n")
	holder := struct {
		S   Secret
		P   *Secret
		Cfg *Config
	}{s, &s, c}

	var outputs []string
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s"} {
		outputs = append(outputs, fmt.Sprintf(f, s), fmt.Sprintf(f, &s), fmt.Sprintf(f, holder), fmt.Sprintf(f, *c))
	}
	outputs = append(outputs, fmt.Sprint(s), fmt.Sprintln(holder), s.String(), s.GoString())
	for _, v := range []any{s, &s, holder, c} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		outputs = append(outputs, string(b))
	}
	if y, err := yaml.Marshal(c); err != nil {
		t.Fatal(err)
	} else {
		outputs = append(outputs, string(y))
	}
	outputs = append(outputs, fmt.Sprintf("%v %s %+v", []Secret{s}, map[string]Secret{"k": s}, &holder))
	txt, _ := s.MarshalText()
	y, _ := s.MarshalYAML()
	outputs = append(outputs, string(txt), fmt.Sprint(y))

	var buf bytes.Buffer
	core := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&buf), zap.DebugLevel)
	log := zap.New(core)
	log.Info("x", zap.Any("secret", s), zap.Any("ptr", &s), zap.Stringer("str", s), zap.Reflect("cfg", c), zap.Any("holder", holder))
	console := zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()), zapcore.AddSync(&buf), zap.DebugLevel))
	console.Info("y", zap.Any("secret", s), zap.Any("cfg", c))
	outputs = append(outputs, buf.String())

	for _, o := range outputs {
		if strings.Contains(o, value) {
			t.Errorf("secret leaked: %s", o)
		}
	}
	if !strings.Contains(buf.String(), redacted) {
		t.Errorf("zap output does not show %s: %s", redacted, buf.String())
	}
	if s.Value() != value {
		t.Errorf("Value() = %q", s.Value())
	}
	if !NewSecret(value).Equal(s) || NewSecret("other").Equal(s) {
		t.Errorf("Equal")
	}
	if fmt.Sprint(Secret{}) != "" {
		t.Errorf("empty secret should print empty")
	}
}

func TestDefaults(t *testing.T) {
	c := mustParse(t, minimal)
	d := c.Directories[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen", c.Server.Listen, ":8080"},
		{"driver", c.Store.Driver, DriverSQLite},
		{"page_size", d.PageSize, 1000},
		{"range_size", d.RangeSize, 0},
		{"user_base_dn", d.UserBaseDN, d.BaseDN},
		{"max_deactivations.count", d.MaxDeactivations.Count, 500},
		{"max_deactivations.percent", d.MaxDeactivations.Percent, 10.0},
		{"schedule", d.Schedule, "*/15 * * * *"},
		{"full_schedule", d.FullSchedule, "0 3 * * *"},
		{"link_by", d.LinkBy, LinkByUsername},
		{"password_warning_days", d.PasswordWarningDays, 7},
		{"min_length", c.Policy.Password.MinLength, 9},
		{"lockout.max_attempts", c.Policy.Lockout.MaxAttempts, 5},
		{"lockout.within", c.Policy.Lockout.Within, 15 * time.Minute},
		{"lockout.lock_for", c.Policy.Lockout.LockFor, 30 * time.Minute},
		{"warn_days", fmt.Sprint(c.Expiry.WarnDays), "[14 7 3 1]"},
		{"expiry.schedule", c.Expiry.Schedule, "0 8 * * *"},
		{"smtp.tls", c.SMTP.TLS, SMTPStartTLS},
		{"smtp.port", c.SMTP.Port, 587},
		{"token_ttl", c.API.TokenTTL, 2 * time.Hour},
		{"emergency.ttl", c.Emergency.TTL, 24 * time.Hour},
		{"match_by", fmt.Sprint(c.SSO.MatchBy), "[upn email]"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}

	// An explicit zero or empty value is not replaced by the default.
	c = mustParse(t, minimal+"    max_deactivations: {count: 0}\n    schedule: \"\"\n")
	if c.Directories[0].MaxDeactivations.Count != 0 || c.Directories[0].Schedule != "" {
		t.Errorf("explicit values overridden: %+v %q", c.Directories[0].MaxDeactivations, c.Directories[0].Schedule)
	}
	if c.Directories[0].MaxDeactivations.Percent != 10 {
		t.Errorf("sibling default lost")
	}

	// Derived defaults.
	c = mustParse(t, "server: {public_url: https://sso.example.com/}\n"+
		"sso: {oidc: {preset: azuread, tenant_id: t1, client_id: c, client_secret: s}, saml: {preset: okta, idp_metadata_file: /x.xml}}\n"+
		"smtp: {tls: tls}\n")
	if c.SSO.OIDC.Issuer != "https://login.microsoftonline.com/t1/v2.0" || c.SSO.OIDC.RedirectURL != "https://sso.example.com/oidc/callback" {
		t.Errorf("oidc defaults: %+v", c.SSO.OIDC)
	}
	if c.SSO.SAML.EntityID != "https://sso.example.com/saml/metadata" || c.SSO.SAML.Label != "Sign in with Okta" {
		t.Errorf("saml defaults: %+v", c.SSO.SAML)
	}
	if c.SMTP.Port != 465 {
		t.Errorf("implicit TLS port = %d", c.SMTP.Port)
	}

	// ApplyDefaults is idempotent and works on configs built in code.
	var code Config
	code.ApplyDefaults()
	code.ApplyDefaults()
	if err := code.Validate(); err != nil {
		t.Errorf("defaulted empty config does not validate: %v", err)
	}
}

func TestMergeKeysAndAnchors(t *testing.T) {
	c := mustParse(t, `
x-common: &ad
  kind: ad
  urls: [ldaps://dc1.corp.example.com]
directories:
  - &corp
    <<: *ad
    name: corp
    base_dn: "DC=corp,DC=example,DC=com"
    groups: [CC-Agents]
  - <<: *corp
    name: corp2
`)
	if len(c.Directories) != 2 || c.Directories[1].Name != "corp2" || c.Directories[1].BaseDN != "DC=corp,DC=example,DC=com" {
		t.Errorf("merge: %+v", c.Directories)
	}
	if c.Directories[0].Kind != KindAD || len(c.Directories[0].URLs) != 1 {
		t.Errorf("merge from x- key: %+v", c.Directories[0])
	}
}

func TestLine(t *testing.T) {
	c := mustParse(t, minimal)
	if got := c.Line("directories[0].groups[0]"); got != 9 {
		t.Errorf("Line(groups[0]) = %d, want 9", got)
	}
	if got := c.Line("directories[0].page_size"); got != 3 {
		t.Errorf("Line of defaulted field falls back to its parent: got %d, want 3", got)
	}
	if c.File() != "dirbridge.yaml" {
		t.Errorf("File() = %q", c.File())
	}
}
