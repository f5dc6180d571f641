package expirye2e

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/sqlite"
	"github.com/dirbridge/dirbridge/sync/engine"
	"github.com/dirbridge/dirbridge/sync/ldap"
)

// maxPwdAge is set on the domain deliberately away from AD's default of
// 42 days, so a reader that assumed the default would be caught.
const (
	maxPwdAgeDays = 40
	maxPwdAge     = maxPwdAgeDays * 24 * time.Hour
	adPassword    = "Expiry-Passw0rd1!"
	dirName       = "corp"
)

// Ages of the aged passwords, from maxPwdAge: "soon" expires in 2 days,
// "expired" expired 3 days ago, "nomail" expires in 6 days.
const (
	ageSoon    = maxPwdAge - 2*24*time.Hour
	ageExpired = maxPwdAge + 3*24*time.Hour
	ageNoMail  = maxPwdAge - 6*24*time.Hour
)

// One Samba DC per machine (the harness serialises test binaries), shared
// by this package's tests; each test works in its own OU and group and
// syncs into its own SQLite store.
var (
	mainTB    = &harness.MainTB{}
	sambaOnce sync.Once
	samba     *harness.Samba
)

func TestMain(m *testing.M) {
	code := m.Run()
	mainTB.Close()
	os.Exit(code)
}

func sharedSamba(t *testing.T) *harness.Samba {
	t.Helper()
	sambaOnce.Do(func() {
		s := harness.StartSamba(mainTB)
		// The maximum age every expiry here is counted from; a minimum age
		// of 0 lets a password set "today" be changed again at once.
		s.Tool(mainTB, "domain", "passwordsettings", "set",
			fmt.Sprintf("--max-pwd-age=%d", maxPwdAgeDays), "--min-pwd-age=0")
		samba = s
	})
	if samba == nil {
		t.Fatal("samba did not start")
	}
	return samba
}

// adUser describes one fixture user.
type adUser struct {
	name        string
	noMail      bool
	age         time.Duration // >0: password set this long ago (faketime)
	neverExpire bool          // DONT_EXPIRE_PASSWORD
	mustChange  bool          // pwdLastSet = 0
	// accountExpires, when set, is when the account itself expires.
	accountExpires time.Time
}

// makeUsers creates users in a fresh OU plus one group holding them all,
// and returns the group's DN.
func makeUsers(t *testing.T, s *harness.Samba, ou string, users []adUser) string {
	t.Helper()
	ouDN := s.AddOU(t, ou)
	var dns []string
	for _, u := range users {
		su := harness.SambaUser{Name: u.name, Password: adPassword, MustChange: u.mustChange}
		if !u.noMail {
			su.Mail = u.name + "@example.test"
		}
		dn := s.AddUser(t, ouDN, su)
		if u.neverExpire {
			// NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD
			s.Replace(t, dn, "userAccountControl", "66048")
		}
		if !u.accountExpires.IsZero() {
			s.Replace(t, dn, "accountExpires", fileTime(u.accountExpires))
		}
		if u.age > 0 {
			s.SetPasswordAged(t, u.name, adPassword, u.age)
		}
		dns = append(dns, dn)
	}
	return s.AddGroup(t, ouDN, ou+"-group", dns...)
}

// fileTime is t as AD's FILETIME: 100 ns intervals since 1601-01-01 UTC.
func fileTime(t time.Time) string {
	const epochDiff = 11644473600 // seconds from 1601 to 1970
	return strconv.FormatInt((t.Unix()+epochDiff)*10_000_000, 10)
}

func testLogger(t *testing.T) *zap.Logger {
	return zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
}

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "dirbridge.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// newSource is the AD reader as the daemon builds it: LDAPS with the
// test CA, bound as the service account (Administrator here).
func newSource(t *testing.T, s *harness.Samba, computed bool) *ldap.Source {
	t.Helper()
	src, err := ldap.New(ldap.Config{
		Name: dirName, Kind: ldap.KindAD, URLs: []string{s.LDAPSURL}, CAFile: s.CAFile,
		BindDN: s.AdminDN, BindPassword: s.AdminPassword, BaseDN: s.BaseDN,
		ReadPasswordExpiry: computed,
		ConnectTimeout:     5 * time.Second, ReadTimeout: 30 * time.Second, Logger: testLogger(t),
	})
	if err != nil {
		t.Fatalf("ldap source: %v", err)
	}
	return src
}

// newRunner is the sync engine over st for one group, mapped by a rule.
func newRunner(t *testing.T, st store.Store, src *ldap.Source, groupDN string) *engine.Runner {
	t.Helper()
	m, err := mapping.NewMapper(mapping.Config{
		Directory: dirName,
		Rules:     []mapping.Rule{{Group: groupDN, Profile: "Agent"}},
	})
	if err != nil {
		t.Fatalf("mapper: %v", err)
	}
	r, err := engine.NewRunner(st, []engine.Directory{{
		Name: dirName, Source: src, Groups: []string{groupDN}, Mapper: m, LinkBy: mapping.LinkByUsername,
		Limits: engine.Limits{MaxCount: 100, MaxPercent: 100},
	}}, engine.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("runner: %v", err)
	}
	t.Cleanup(r.Close)
	return r
}

func syncNow(t *testing.T, r *engine.Runner) store.SyncRun {
	t.Helper()
	run, err := r.Run(context.Background(), engine.Request{Directory: dirName, Full: true, Trigger: "manual"})
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	if run.Status != store.SyncSucceeded {
		t.Fatalf("sync run %s: %+v", run.Status, run)
	}
	return run
}

func storedUser(t *testing.T, st store.Reader, name string) store.User {
	t.Helper()
	u, err := st.GetUserByUsername(context.Background(), name)
	if err != nil {
		t.Fatalf("stored user %s: %v", name, err)
	}
	return u
}

// near reports whether got is within tol of want.
func near(got, want time.Time, tol time.Duration) bool {
	d := got.Sub(want)
	return d <= tol && d >= -tol
}

// smtpTLS starts the recording SMTP server (STARTTLS with a test CA, AUTH
// PLAIN required) and returns it with the client TLS settings.
func smtpTLS(t *testing.T) (*harness.SMTP, *tls.Config) {
	t.Helper()
	dir := t.TempDir()
	ca := harness.NewCA(t, dir)
	srv := harness.StartSMTP(t, harness.SMTPOptions{Leaf: ca.Issue(t, dir, "smtp"), User: "mailer", Password: "mail-s3cret"})
	return srv, &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS12}
}

// textBody is the decoded text/plain part of a raw message: go-mail
// writes quoted-printable, which folds long lines (URLs) with soft breaks.
func textBody(t *testing.T, raw string) string {
	t.Helper()
	m, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatalf("parse message: %v", err)
	}
	return textPart(t, m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Body)
}

func textPart(t *testing.T, ctype, cte string, body io.Reader) string {
	t.Helper()
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		t.Fatalf("content type %q: %v", ctype, err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err != nil {
				t.Fatalf("no text/plain part: %v", err)
			}
			if s := textPart(t, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); s != "" {
				return s
			}
		}
	}
	if mt != "text/plain" {
		return ""
	}
	var r io.Reader = body
	switch strings.ToLower(cte) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read text part: %v", err)
	}
	return string(b)
}
