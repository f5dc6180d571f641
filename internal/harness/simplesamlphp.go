package harness

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"html"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// SimpleSAMLphpWWW is where Debian's simplesamlphp package keeps its web root.
const SimpleSAMLphpWWW = "/usr/share/simplesamlphp/www"

// SAMLUser is a test user of the IdP's exampleauth:UserPass source.
// Attribute names are sent as they are (Entra claim URIs for Azure-shaped
// users, plain names for Okta-shaped ones).
type SAMLUser struct {
	Username   string
	Password   string
	Attributes map[string][]string
}

// SAMLNameIDRule makes the IdP send NameIDs of Format from the value of
// Attribute (saml:AttributeNameID). A user without the attribute gets no
// NameID of that format.
type SAMLNameIDRule struct {
	Format    string
	Attribute string
}

// SAMLSP is a service provider the IdP trusts, given by its metadata XML.
type SAMLSP struct {
	Metadata []byte
	// EncryptAssertions makes the IdP encrypt assertions to the SP's
	// certificate in its metadata.
	EncryptAssertions bool
	// ValidateRequests makes the IdP require signed AuthnRequests.
	ValidateRequests bool
}

// SimpleSAMLphpOptions configures an IdP.
type SimpleSAMLphpOptions struct {
	Users   []SAMLUser
	SPs     []SAMLSP
	NameIDs []SAMLNameIDRule
}

// SimpleSAMLphp is a running SimpleSAMLphp 1.19 SAML IdP under `php -S`.
type SimpleSAMLphp struct {
	BaseURL     string
	EntityID    string
	MetadataURL string
	// CertPEM is the IdP signing certificate.
	CertPEM []byte
	Dir     string
	proc    *Process
}

// StartSimpleSAMLphp writes a config directory (IdP key pair made now,
// users, the SPs' metadata as generated files) and serves the IdP on a free
// loopback port until cleanup. SP metadata is taken as generated at start:
// crewjam's metadata expires after 48 h, so a fixed file would rot.
func StartSimpleSAMLphp(t TB, opts SimpleSAMLphpOptions) *SimpleSAMLphp {
	t.Helper()
	php := LookPath(t, "php", "php-cli")
	requireFiles(t, "SimpleSAMLphp", "simplesamlphp",
		filepath.Join(SimpleSAMLphpWWW, "saml2", "idp", "SSOService.php"), simpleSAMLphpBaseConfig)
	requirePHPExtensions(t, php)
	dir := TempDir(t, "simplesamlphp-")
	port := FreePort(t)
	s := &SimpleSAMLphp{
		BaseURL: fmt.Sprintf("http://127.0.0.1:%d", port),
		Dir:     dir,
	}
	s.EntityID = s.BaseURL + "/saml2/idp/metadata.php"
	s.MetadataURL = s.EntityID
	if err := s.writeConfig(opts); err != nil {
		t.Fatalf("harness: simplesamlphp config: %v", err)
	}
	cmd := exec.Command(php,
		"-d", "display_errors=stderr",
		"-d", "error_reporting=E_ALL & ~E_DEPRECATED & ~E_USER_DEPRECATED",
		"-d", "session.save_path="+filepath.Join(dir, "sessions"),
		"-S", Addr(port), "-t", SimpleSAMLphpWWW)
	cmd.Env = append(os.Environ(), "SIMPLESAMLPHP_CONFIG_DIR="+filepath.Join(dir, "config"))
	p, err := Start("simplesamlphp", cmd, filepath.Join(dir, "php.log"))
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	s.proc = p
	t.Cleanup(func() { p.Stop(5 * time.Second) })
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := WaitPort(ctx, Addr(port), 10*time.Second); err != nil {
		t.Fatalf("harness: simplesamlphp: %v; log: %s", err, s.Log())
	}
	// The first metadata request proves PHP, the config and the key pair.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.MetadataURL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("harness: simplesamlphp metadata: %v; log: %s", err, s.Log())
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "IDPSSODescriptor") {
		t.Fatalf("harness: simplesamlphp metadata: %s: %.500s; log: %s", resp.Status, body, s.Log())
	}
	return s
}

// simpleSAMLphpBaseConfig is the package's config, which the generated one
// loads first.
const simpleSAMLphpBaseConfig = "/etc/simplesamlphp/config.php"

// phpExtensions are the PHP extensions SimpleSAMLphp needs that do not come
// with php-cli itself, and the Debian package of each.
var phpExtensions = []struct{ ext, pkg string }{
	{"dom", "php-xml"}, {"xml", "php-xml"}, {"SimpleXML", "php-xml"}, {"mbstring", "php-mbstring"},
}

// requirePHPExtensions fails the test when php lacks an extension
// SimpleSAMLphp needs: the IdP would answer with a PHP error page instead.
func requirePHPExtensions(t TB, php string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, php, "-m").Output()
	if err != nil {
		t.Fatalf("harness: %s -m: %v", php, err)
	}
	loaded := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		loaded[strings.ToLower(strings.TrimSpace(line))] = true
	}
	for _, e := range phpExtensions {
		if !loaded[strings.ToLower(e.ext)] {
			t.Fatalf("harness: SimpleSAMLphp: PHP extension %s not loaded by %s: %s", e.ext, php, installPkg(e.pkg))
		}
	}
}

// Log returns the PHP server's output and SimpleSAMLphp's log, for
// failure messages.
func (s *SimpleSAMLphp) Log() string {
	a, _ := os.ReadFile(filepath.Join(s.Dir, "php.log"))
	b, _ := os.ReadFile(filepath.Join(s.Dir, "log", "simplesamlphp.log"))
	out := string(a) + "\n" + string(b)
	if len(out) > 8000 {
		out = out[len(out)-8000:]
	}
	return out
}

func (s *SimpleSAMLphp) writeConfig(opts SimpleSAMLphpOptions) error {
	for _, d := range []string{"config", "metadata", "cert", "log", "data", "tmp", "sessions", "sp"} {
		if err := os.MkdirAll(filepath.Join(s.Dir, d), 0o700); err != nil {
			return err
		}
	}
	keyPEM, certPEM, err := selfSignedRSA("dirbridge test IdP")
	if err != nil {
		return err
	}
	s.CertPEM = certPEM
	if err := os.WriteFile(filepath.Join(s.Dir, "cert", "idp.key"), keyPEM, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "cert", "idp.crt"), certPEM, 0o644); err != nil {
		return err
	}
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	var cfg strings.Builder
	cfg.WriteString("<?php\n// Generated by dirbridge's test harness.\nrequire '/etc/simplesamlphp/config.php';\n")
	set := func(k, v string) { fmt.Fprintf(&cfg, "$config[%s] = %s;\n", phpString(k), v) }
	set("baseurlpath", phpString(s.BaseURL+"/"))
	set("certdir", phpString(filepath.Join(s.Dir, "cert")+"/"))
	set("loggingdir", phpString(filepath.Join(s.Dir, "log")+"/"))
	set("datadir", phpString(filepath.Join(s.Dir, "data")+"/"))
	set("tempdir", phpString(filepath.Join(s.Dir, "tmp")))
	set("metadatadir", phpString(filepath.Join(s.Dir, "metadata")+"/"))
	set("secretsalt", phpString(hex.EncodeToString(salt)))
	set("auth.adminpassword", phpString(hex.EncodeToString(salt[:8])))
	set("timezone", phpString("UTC"))
	set("enable.saml20-idp", "true")
	set("module.enable", "['exampleauth' => true, 'core' => true, 'saml' => true, 'admin' => true]")
	set("logging.level", "SimpleSAML\\Logger::DEBUG")
	set("logging.handler", phpString("file"))
	set("logging.logfile", phpString("simplesamlphp.log"))
	set("store.type", phpString("phpsession"))
	set("session.phpsession.savepath", phpString(filepath.Join(s.Dir, "sessions")))
	set("session.cookie.secure", "false")
	// Over plain http a browser drops SameSite=None cookies (they need
	// Secure), and the package's default is None: the IdP's session would
	// never stick in Chromium. Lax still rides the daemon's redirect here.
	set("session.cookie.samesite", phpString("Lax"))
	set("language.cookie.samesite", phpString("Lax"))
	set("metadata.sources", "[['type' => 'flatfile']]")
	if err := os.WriteFile(filepath.Join(s.Dir, "config", "config.php"), []byte(cfg.String()), 0o600); err != nil {
		return err
	}

	var auth strings.Builder
	auth.WriteString("<?php\n$config = [\n  'admin' => ['core:AdminPassword'],\n  'users' => [\n    'exampleauth:UserPass',\n")
	for _, u := range opts.Users {
		fmt.Fprintf(&auth, "    %s => [\n", phpString(u.Username+":"+u.Password))
		keys := make([]string, 0, len(u.Attributes))
		for k := range u.Attributes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&auth, "      %s => %s,\n", phpString(k), phpList(u.Attributes[k]))
		}
		auth.WriteString("    ],\n")
	}
	auth.WriteString("  ],\n];\n")
	if err := os.WriteFile(filepath.Join(s.Dir, "config", "authsources.php"), []byte(auth.String()), 0o600); err != nil {
		return err
	}

	var idp strings.Builder
	fmt.Fprintf(&idp, "<?php\n$metadata[%s] = [\n", phpString(s.EntityID))
	idp.WriteString("  'host' => '__DEFAULT__',\n  'privatekey' => 'idp.key',\n  'certificate' => 'idp.crt',\n  'auth' => 'users',\n")
	idp.WriteString("  'signature.algorithm' => 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',\n")
	idp.WriteString("  'attributes.NameFormat' => 'urn:oasis:names:tc:SAML:2.0:attrname-format:uri',\n")
	idp.WriteString("  'authproc' => [\n")
	for i, r := range opts.NameIDs {
		fmt.Fprintf(&idp, "    %d => ['class' => 'saml:AttributeNameID', 'Format' => %s, 'attribute' => %s],\n", 10+i, phpString(r.Format), phpString(r.Attribute))
	}
	idp.WriteString("  ],\n];\n")
	if err := os.WriteFile(filepath.Join(s.Dir, "metadata", "saml20-idp-hosted.php"), []byte(idp.String()), 0o600); err != nil {
		return err
	}

	// The SPs' metadata stays XML as generated; SimpleSAMLphp's own parser
	// reads it when the metadata file loads, and per-SP options go on top.
	var sps strings.Builder
	sps.WriteString("<?php\n")
	for i, sp := range opts.SPs {
		file := filepath.Join(s.Dir, "sp", fmt.Sprintf("sp%d.xml", i))
		if err := os.WriteFile(file, sp.Metadata, 0o600); err != nil {
			return err
		}
		fmt.Fprintf(&sps, "foreach (\\SimpleSAML\\Metadata\\SAMLParser::parseDescriptorsFile(%s) as $e) {\n", phpString(file))
		sps.WriteString("  $m = $e->getMetadata20SP();\n  if ($m === null) { continue; }\n")
		fmt.Fprintf(&sps, "  $m['assertion.encryption'] = %t;\n", sp.EncryptAssertions)
		fmt.Fprintf(&sps, "  $m['validate.authnrequest'] = %t;\n", sp.ValidateRequests)
		sps.WriteString("  $m['saml20.sign.assertion'] = true;\n  $m['saml20.sign.response'] = true;\n")
		sps.WriteString("  $metadata[$m['entityid']] = $m;\n}\n")
	}
	return os.WriteFile(filepath.Join(s.Dir, "metadata", "saml20-sp-remote.php"), []byte(sps.String()), 0o600)
}

func phpString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(s) + "'"
}

func phpList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = phpString(v)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// selfSignedRSA makes an RSA key and a self-signed certificate valid from
// an hour ago for two days (SAML IdPs sign with RSA; metadata carries the
// certificate itself, so no CA is involved).
func selfSignedRSA(cn string) (keyPEM, certPEM []byte, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, fmt.Errorf("rsa key: %w", err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(48 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("certificate: %w", err)
	}
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return keyPEM, certPEM, nil
}

// SAMLPost is the auto-submit form an IdP answers with: where to post and
// what.
type SAMLPost struct {
	Action string
	Form   url.Values
}

var (
	formActionRE = regexp.MustCompile(`(?is)<form[^>]*action="([^"]*)"`)
	hiddenRE     = regexp.MustCompile(`(?is)<input[^>]*type="hidden"[^>]*>`)
	attrRE       = regexp.MustCompile(`(?is)\b(name|value)="([^"]*)"`)
)

// SAMLResponse signs a user in at the IdP without a browser and returns
// the form the IdP would have the browser post to the SP's ACS:
// GET loginURL (the SP redirects to the IdP, which redirects to its login
// form) -> POST username, password and AuthState -> the auto-submit page.
// client must have a cookie jar and follow redirects. SimpleSAMLphp
// answers errors with HTTP 200, so the page itself is checked.
func (s *SimpleSAMLphp) SAMLResponse(ctx context.Context, client *http.Client, loginURL, username, password string) (SAMLPost, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loginURL, nil)
	if err != nil {
		return SAMLPost{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return SAMLPost{}, fmt.Errorf("start sign-in: %w", err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	authState := resp.Request.URL.Query().Get("AuthState")
	if authState == "" {
		return SAMLPost{}, fmt.Errorf("start sign-in: landed on %s (%s) without an AuthState: %.800s", resp.Request.URL, resp.Status, body)
	}
	form := url.Values{"username": {username}, "password": {password}, "AuthState": {authState}}
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, resp.Request.URL.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return SAMLPost{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = client.Do(req)
	if err != nil {
		return SAMLPost{}, fmt.Errorf("post credentials: %w", err)
	}
	body, _ = io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	post, err := parseAutoSubmit(string(body))
	if err != nil {
		return SAMLPost{}, fmt.Errorf("post credentials: %s: %w: %.1500s", resp.Status, err, body)
	}
	return post, nil
}

// Post sends the IdP's form to the ACS with client and returns the
// response (the caller closes its body).
func (p SAMLPost) Post(ctx context.Context, client *http.Client) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.Action, strings.NewReader(p.Form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return client.Do(req)
}

func parseAutoSubmit(page string) (SAMLPost, error) {
	m := formActionRE.FindStringSubmatch(page)
	if m == nil {
		return SAMLPost{}, errors.New("no form on the page (an IdP error page?)")
	}
	post := SAMLPost{Action: html.UnescapeString(m[1]), Form: url.Values{}}
	for _, in := range hiddenRE.FindAllString(page, -1) {
		var name, value string
		for _, a := range attrRE.FindAllStringSubmatch(in, -1) {
			if strings.EqualFold(a[1], "name") {
				name = html.UnescapeString(a[2])
			} else {
				value = html.UnescapeString(a[2])
			}
		}
		if name != "" {
			post.Form.Set(name, value)
		}
	}
	if post.Form.Get("SAMLResponse") == "" {
		return SAMLPost{}, errors.New("the form carries no SAMLResponse (wrong password or an IdP error page?)")
	}
	return post, nil
}
