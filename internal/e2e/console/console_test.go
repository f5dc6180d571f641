package consolee2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.uber.org/zap/zaptest"

	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/internal/daemon"
	"github.com/dirbridge/dirbridge/internal/e2e/daemontest"
	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/internal/password"
	"github.com/dirbridge/dirbridge/internal/wire"
	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/sso/saml"
	"github.com/dirbridge/dirbridge/store"
)

const (
	base = "dc=example,dc=org"
	pw   = "correct horse battery"
)

// people of the directory: uid, display name, groups.
var people = []struct{ uid, name, group string }{
	{"sue", "Sue Okafor", "CC-Supervisors"},
	{"amir", "Amir Haddad", "CC-Agents"},
	{"beth", "Beth Lindqvist", "CC-Agents"},
	{"chen", "Chen Wei", "CC-Agents"},
	{"dara", "Dara Byrne", "CC-Agents"},
	{"eli", "Eli Navarro", "CC-Agents"},
	{"fay", "Fay Adeyemi", "Night-Shift"},
	{"gus", "Gus Petrov", "Night-Shift"},
	{"hana", "Hana Sato", "Night-Shift"},
	// QA-Coaches is not in the config: an administrator chooses it from
	// the console.
	{"quinn", "Quinn Harper", "QA-Coaches"},
	{"rae", "Rae Lindgren", "QA-Coaches"},
}

func directoryLDIF() string {
	var b strings.Builder
	b.WriteString("dn: ou=people," + base + "\nobjectClass: organizationalUnit\nou: people\n\n")
	b.WriteString("dn: ou=groups," + base + "\nobjectClass: organizationalUnit\nou: groups\n\n")
	members := map[string][]string{}
	for _, p := range people {
		first, last, _ := strings.Cut(p.name, " ")
		dn := fmt.Sprintf("uid=%s,ou=people,%s", p.uid, base)
		fmt.Fprintf(&b, "dn: %s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\ngivenName: %s\nsn: %s\ndisplayName: %s\nmail: %s@example.org\nmemberOf: cn=%s,ou=groups,%s\n\n",
			dn, p.uid, p.name, first, last, p.name, p.uid, p.group, base)
		members[p.group] = append(members[p.group], dn)
	}
	for _, g := range []string{"CC-Supervisors", "CC-Agents", "Night-Shift", "QA-Coaches"} {
		fmt.Fprintf(&b, "dn: cn=%s,ou=groups,%s\nobjectClass: groupOfNames\ncn: %s\n", g, base, g)
		for _, m := range members[g] {
			fmt.Fprintf(&b, "member: %s\n", m)
		}
		b.WriteString("\n")
	}
	return b.String()
}

const configYAML = `server: {public_url: %q}
store: {driver: sqlite, dsn: %q}
sso:
  enforce: %t
  saml: {preset: azuread, idp_metadata_url: %q}
policy:
  argon2: {time: 1, memory_kib: 64, threads: 1}
  lockout: {max_attempts: 5, within: 15m, lock_for: 30m}
  ip_rules:
    - {name: agents on site, effect: allow, addresses: [127.0.0.0/8, "::1"], profiles: [Agent]}
profiles:
  - {name: Agent, description: Takes calls, privileges: [edit_own_details]}
  - {name: Floor Manager, description: Manages a floor (from the directory), privileges: [view_users]}
mapping:
  templates:
    username: '{{lower .username}}'
  rules:
    - {group: CC-Supervisors, profile: Floor Manager, units: [Floor 1]}
    - {group: Night-Shift, profile: Agent, units: [Night]}
    - {group: CC-Agents, profile: Agent, units: [Floor 1]}
    - {group: QA-Coaches, profile: Agent, units: [Floor 2]}
directories:
  - name: corp
    kind: ldap
    urls: [%q]
    bind_dn: %q
    bind_password: %q
    base_dn: %q
    groups: [CC-Agents, CC-Supervisors, Night-Shift]
    max_deactivations: {count: 1, percent: 100}
%s`

// The administrator at the SAML IdP: Entra-shaped, matched to the local
// "admin" by UPN (a protected account is matched by nothing weaker) and
// linked by tenant and object ID at the first sign-in.
const (
	idpUser     = "alex"
	idpPassword = "alex-idp-pw"
	tenantID    = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	adminOID    = "3c9e2b7a-5d4f-4e1a-8b6c-0a1b2c3d4e5f"
	adminUPN    = "admin@example.org"
)

// stack is the running daemon with its directory and SAML IdP, and a
// second daemon on the same store with SSO enforced, for the bypass form.
type stack struct {
	t     *testing.T
	slapd *harness.Slapd
	idp   *harness.SimpleSAMLphp
	base  string
	// enforced is the base URL of the daemon that enforces SSO.
	enforced string
	dir      string
	cfg      *config.Config
	ids      map[string]string // seeded local users' ids by name
}

// writeConfig writes the config of the daemon at base to name in the
// stack's dir; enforced daemons run no scheduled syncs (one daemon
// syncing is enough).
func (s *stack) writeConfig(name, base string, enforce bool, idpMetadata string) string {
	s.t.Helper()
	schedules := ""
	if enforce {
		schedules = "    schedule: \"\"\n    full_schedule: \"\"\n"
	}
	path := filepath.Join(s.dir, name)
	y := fmt.Sprintf(configYAML, base, filepath.Join(s.dir, "db.sqlite"), enforce, idpMetadata,
		s.slapd.URL, s.slapd.ReaderDN, s.slapd.ReaderPassword, s.slapd.BaseDN, schedules)
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		s.t.Fatal(err)
	}
	return path
}

// startStack starts slapd and SimpleSAMLphp, writes the configs, seeds
// profiles, teams and local users into the store, and starts the daemons
// on loopback.
func startStack(t *testing.T) *stack {
	t.Helper()
	ctx := context.Background()
	s := &stack{t: t, dir: t.TempDir(), ids: map[string]string{}}
	s.slapd = harness.StartSlapd(t, harness.SlapdOptions{LDIF: directoryLDIF()})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.base = "http://" + ln.Addr().String()
	lnEnforced, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.enforced = "http://" + lnEnforced.Addr().String()

	// The SP metadata comes from the config alone; the IdP needs it to
	// start, and the config its metadata URL: a placeholder first.
	path := s.writeConfig("dirbridge.yaml", s.base, false, "http://127.0.0.1:9/placeholder")
	if s.cfg, err = config.Load(path); err != nil {
		t.Fatal(err)
	}
	spMeta, err := wire.SAMLMetadata(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.idp = harness.StartSimpleSAMLphp(t, harness.SimpleSAMLphpOptions{
		Users: []harness.SAMLUser{{Username: idpUser, Password: idpPassword, Attributes: map[string][]string{
			saml.AzureObjectID: {adminOID}, saml.AzureTenantID: {tenantID}, saml.AzureName: {adminUPN},
			saml.AzureEmail: {adminUPN}, saml.AzureDisplayName: {"Alex Admin"},
		}}},
		SPs:     []harness.SAMLSP{{Metadata: spMeta}},
		NameIDs: []harness.SAMLNameIDRule{{Format: saml.NameIDPersistent, Attribute: saml.AzureObjectID}},
	})
	path = s.writeConfig("dirbridge.yaml", s.base, false, s.idp.MetadataURL)
	pathEnforced := s.writeConfig("enforced.yaml", s.enforced, true, s.idp.MetadataURL)
	if s.cfg, err = config.Load(path); err != nil {
		t.Fatal(err)
	}
	s.seed(ctx)
	s.startDaemon(path, ln)
	s.startDaemon(pathEnforced, lnEnforced)
	return s
}

// startDaemon runs the daemon of the config at path on ln until cleanup,
// and waits until it is ready.
func (s *stack) startDaemon(path string, ln net.Listener) {
	t := s.t
	t.Helper()
	base := "http://" + ln.Addr().String()
	daemontest.Start(t, daemon.Options{ConfigPath: path, Listener: ln, Logger: zaptest.NewLogger(t)}, base, nil)
}

// seed creates the config's profiles (the mapping names them), editable
// ones (a scoped supervisor, the administrators, a coach), the teams
// and the local users: an administrator, a supervisor of Floor 1, a user
// without privileges and two local agents.
func (s *stack) seed(ctx context.Context) {
	s.t.Helper()
	st, err := wire.Store(ctx, s.cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	defer st.Close()
	h, err := password.NewHasher(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, 1)
	if err != nil {
		s.t.Fatal(err)
	}
	hash, err := h.Hash(ctx, pw)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := wire.SeedProfiles(ctx, st, s.cfg, time.Now()); err != nil {
		s.t.Fatal(err)
	}
	own := store.Scope{Kind: store.ScopeOwnTeams}
	err = st.Tx(ctx, func(tx store.Tx) error {
		for _, p := range []store.Profile{
			{Name: "Quality Coach", Description: "Listens in and coaches agents", Privileges: []string{privilege.EditOwnDetails}},
			{Name: "Team Supervisor", Description: "Runs a team on the floor",
				Privileges: []string{privilege.ManageUsers, privilege.ViewUsers, privilege.ManageSessions},
				Scopes:     map[string]store.Scope{privilege.ManageUsers: own, privilege.ViewUsers: own, privilege.ManageSessions: own}},
			{Name: "System Administrator", Description: "Runs dirbridge",
				Privileges: []string{privilege.ManageUsers, privilege.ViewUsers, privilege.ManageProfiles, privilege.ManageTeams, privilege.TriggerSync,
					privilege.ViewAuditLog, privilege.ManageSessions, privilege.GrantAll, privilege.BypassSSO}},
		} {
			if err := tx.PutProfile(ctx, p); err != nil {
				return err
			}
		}
		for _, t := range []store.Team{
			{Name: "Floor 1", Description: "Inbound sales"}, {Name: "Floor 2", Description: "Customer care"},
			{Name: "Night", Parent: "Floor 1", Description: "Night shift of Floor 1"},
		} {
			if err := tx.PutTeam(ctx, t); err != nil {
				return err
			}
		}
		for _, u := range []store.User{
			{Username: "admin", DisplayName: "Alex Admin", Email: "admin@example.org", UPN: adminUPN, Profile: "System Administrator", PasswordHash: hash},
			{Username: "sam", DisplayName: "Sam Supervisor", Email: "sam@example.org", Profile: "Team Supervisor", Units: []string{"Floor 1"}, PasswordHash: hash},
			{Username: "ann", DisplayName: "Ann Agent", Email: "ann@example.org", Profile: "Agent", Units: []string{"Floor 2"}, PasswordHash: hash,
				PasswordExpiresAt: time.Now().Add(5 * 24 * time.Hour)},
			{Username: "lee", DisplayName: "Lee Local", Email: "lee@example.org", Profile: "Agent", Units: []string{"Floor 2"}},
			{Username: "max", DisplayName: "Max Local", Email: "max@example.org", Profile: "Agent", Units: []string{"Floor 1"}},
		} {
			u.State, u.Source = store.StateActive, store.SourceLocal
			if err := tx.CreateUser(ctx, &u); err != nil {
				return err
			}
			s.ids[u.Username] = u.ID
		}
		return nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
}

// ui drives one browser against the stack.
type ui struct {
	t    *testing.T
	s    *stack
	ctx  context.Context
	shot string // screenshot dir, "" for none
}

func (u *ui) do(actions ...chromedp.Action[chromedp.Void]) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		u.t.Fatalf("browser: %v (at %s)", err, u.location())
	}
}

func (u *ui) location() string {
	ctx, cancel := context.WithTimeout(u.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	return loc
}

// open navigates to path and waits for the page's heading.
func (u *ui) open(path string) {
	u.t.Helper()
	u.do(chromedp.Navigate(u.s.base+path), chromedp.WaitReady(chromedp.CSS("h1")))
}

// text is the text of the first element matching css.
func (u *ui) text(css string) string {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		u.t.Fatalf("text of %s: %v (at %s)", css, err, u.location())
	}
	return s
}

func (u *ui) html() string {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		u.t.Fatal(err)
	}
	return s
}

// tryText is the text of css, or "" while the page is changing.
func (u *ui) tryText(css string) string {
	ctx, cancel := context.WithTimeout(u.ctx, 2*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
	return s
}

// waitFor polls until cond holds, failing with what after 15 s.
func (u *ui) waitFor(what string, cond func() bool) {
	u.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			u.t.Fatalf("%s: not after 15 s (at %s):\n%s", what, u.location(), u.tryText("body"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// submit clicks css and waits for the next page to show want in main.
func (u *ui) submit(css, want string) {
	u.t.Helper()
	before := u.location()
	u.do(chromedp.Click(chromedp.CSS(css)))
	u.waitFor("after clicking "+css+", "+strconv.Quote(want), func() bool {
		return strings.Contains(u.tryText("main"), want) && (want != "" || u.location() != before)
	})
}

// signIn signs in through the password form, starting from path (which
// sends a signed-out browser to the form and back), and goes past the
// password-expiry warning when there is one.
func (u *ui) signIn(user, path string) {
	u.t.Helper()
	u.do(chromedp.Navigate(u.s.base+path), chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), user), chromedp.SendKeys(chromedp.CSS("#password"), pw),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)))
	u.waitFor("signed in as "+user, func() bool {
		if strings.Contains(u.tryText("body"), "Continue") && !strings.Contains(u.location(), "/admin") {
			ctx, cancel := context.WithTimeout(u.ctx, 2*time.Second)
			_ = chromedp.Do(ctx, chromedp.Click(chromedp.CSS("a.button")))
			cancel()
		}
		return u.tryText(".signout .who") == user
	})
}

// setChecked sets the checkbox of id to want from the keyboard (focus,
// space), as a user would, and fails unless the box then says so.
func (u *ui) setChecked(id string, want bool) {
	u.t.Helper()
	state := func() bool {
		ctx, cancel := context.WithTimeout(u.ctx, 5*time.Second)
		defer cancel()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf("document.getElementById(%q).checked", id)))
		if err != nil {
			u.t.Fatalf("checkbox %s: %v", id, err)
		}
		return v
	}
	if state() != want {
		u.do(chromedp.Focus(chromedp.CSS("#"+id)), chromedp.KeyEvent(" "))
	}
	if state() != want {
		u.t.Fatalf("checkbox %s: not %v after pressing space", id, want)
	}
}

// signInSAML signs in at the IdP from the login page's SAML button,
// starting from path; the IdP's answer posts itself back to the daemon.
func (u *ui) signInSAML(user, password, path string) {
	u.t.Helper()
	u.do(chromedp.Navigate(u.s.base+path), chromedp.WaitVisible(chromedp.CSS(`a.button[href^="/saml/login"]`)),
		chromedp.Click(chromedp.CSS(`a.button[href^="/saml/login"]`)))
	u.waitFor("the IdP's login form", func() bool { return strings.HasPrefix(u.location(), u.s.idp.BaseURL) })
	u.do(chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), user), chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#submit_button")))
	u.waitFor("signed in through SAML as "+user, func() bool { return u.tryText(".signout .who") == "admin" })
}

// screenshot saves the page as name.png when screenshots are asked for.
func (u *ui) screenshot(name string) {
	u.t.Helper()
	if u.shot == "" {
		return
	}
	ctx, cancel := context.WithTimeout(u.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		u.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(u.shot, name+".png"), png, 0o644); err != nil {
		u.t.Fatal(err)
	}
}

func newUI(t *testing.T, s *stack, width, height int) *ui {
	b := harness.StartChromium(t, width, height)
	return &ui{t: t, s: s, ctx: b.Ctx, shot: os.Getenv("DIRBRIDGE_SCREENSHOTS")}
}

func TestConsoleInBrowser(t *testing.T) {
	s := startStack(t)
	if dir := os.Getenv("DIRBRIDGE_SCREENSHOTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Each role gets a browser of its own, so one failing leaves the
	// next signed out.

	t.Run("administrator", func(t *testing.T) {
		u := newUI(t, s, 1280, 800)
		u.signInSAML(idpUser, idpPassword, "/admin/directories")
		if loc := u.location(); loc != s.base+"/admin/directories" {
			t.Fatalf("after sign-in: %s", loc)
		}
		// Import the directory: a real full sync from the Directories page.
		u.setChecked("full-corp", true)
		u.setChecked("dry-corp", false)
		u.submit(`form[action="/admin/directories/corp/sync"] button`, "Sync started")
		// The run's page refreshes itself while it runs.
		u.waitFor("the import to finish", func() bool { return strings.Contains(u.tryText("main"), "succeeded") })
		if main := u.text("main"); !strings.Contains(main, "9 created") || !strings.Contains(main, "group CC-Agents") || !strings.Contains(main, "hana") {
			t.Fatalf("run page:\n%s", main)
		}
		u.screenshot("run")
		// A dry run (the form's default) changes nothing and says so.
		u.open("/admin/directories")
		u.submit(`form[action="/admin/directories/corp/sync"] button`, "Sync started")
		u.waitFor("the dry run to finish", func() bool { return strings.Contains(u.tryText("main"), "succeeded") })
		if main := u.text("main"); !strings.Contains(main, "a dry run: nothing was changed") || !strings.Contains(main, "Nothing to change") {
			t.Fatalf("dry run page:\n%s", main)
		}
		u.open("/admin/directories")
		if main := u.text("#dir-corp"); !strings.Contains(main, "succeeded") || !strings.Contains(main, "9 (9 mapped, 9 active)") || !strings.Contains(main, "dry run") {
			t.Fatalf("directories:\n%s", main)
		}
		u.screenshot("directories")

		// The imported users tab: unmap an entry, then map it back.
		u.open("/admin/directories/corp/entries")
		u.screenshot("entries")
		u.open("/admin/directories/corp/entries?q=hana")
		u.submit(`form[action$="/entries/unmap"] button`, "unmapped by hand")
		u.do(chromedp.SendKeys(chromedp.CSS(`form[action$="/entries/map"] input[name=user]`), "nobody-such"))
		u.submit(`form[action$="/entries/map"] button`, "nobody-such")
		if got := u.tryText("main .field-error"); got == "" {
			t.Fatalf("mapping to a missing user: no error beside the field:\n%s", u.text("main"))
		}
		u.do(chromedp.Clear(chromedp.CSS(`form[action$="/entries/map"] input[name=user]`)),
			chromedp.SendKeys(chromedp.CSS(`form[action$="/entries/map"] input[name=user]`), "hana"))
		u.submit(`form[action$="/entries/map"] button`, "Remap")
		if main := u.text("tbody"); !strings.Contains(main, "mapped") || strings.Contains(main, "unmapped") {
			t.Fatalf("entry after mapping back:\n%s", main)
		}

		// Two agents leave the group: the safety check (at most one
		// deactivation) refuses the run; the administrator approves it.
		s.slapd.Modify(t, fmt.Sprintf("dn: cn=CC-Agents,ou=groups,%s\nchangetype: modify\ndelete: member\nmember: uid=dara,ou=people,%s\nmember: uid=eli,ou=people,%s\n", base, base, base))
		u.open("/admin/directories")
		u.setChecked("full-corp", true)
		u.setChecked("dry-corp", false)
		u.submit(`form[action="/admin/directories/corp/sync"] button`, "Sync started")
		u.waitFor("the run to be refused", func() bool { return strings.Contains(u.tryText("main"), "Approve and apply") })
		if main := u.text("main"); !strings.Contains(main, "refused") {
			t.Fatalf("refused run:\n%s", main)
		}
		u.screenshot("run-refused")
		u.submit(`form[action="/admin/directories/corp/sync"] button.danger`, "Sync started")
		u.waitFor("the approved run to finish", func() bool { return strings.Contains(u.tryText("main"), "succeeded") })
		if main := u.text("main"); !strings.Contains(main, "2 deactivated") {
			t.Fatalf("approved run:\n%s", main)
		}

		u.open("/admin/")
		if main := u.text("main"); !strings.Contains(main, "corp") || !strings.Contains(main, "Licences in use") || !strings.Contains(main, "ann") {
			t.Fatalf("overview:\n%s", main)
		}
		// The default schedules (incremental and full) from the
		// daemon's own scheduler.
		if next := u.text("main table"); !strings.Contains(next, "incremental") || !strings.Contains(next, "full") {
			t.Fatalf("overview's next syncs:\n%s", next)
		}
		u.screenshot("overview")

		u.open("/admin/users")
		if main := u.text("main"); !strings.Contains(main, "hana") || !strings.Contains(main, "Users 1–14 of 14") {
			t.Fatalf("users:\n%s", main)
		}
		u.screenshot("users")

		// A synced user's page says which rule gave the profile and teams.
		u.open("/admin/users/hana")
		if main := u.text("main"); !strings.Contains(main, "From the directory") || !strings.Contains(main, "Night — rule 2 (group Night-Shift)") {
			t.Fatalf("hana's page does not explain the mapping:\n%s", main)
		}
		u.screenshot("user-directory")
		u.open("/admin/users?team=Night")
		if main := u.text("tbody"); !strings.Contains(main, "fay") || strings.Contains(main, "amir") {
			t.Fatalf("team filter:\n%s", main)
		}

		// Create a local user; a taken name first: refused beside the
		// field, nothing typed lost.
		u.open("/admin/users/new")
		u.do(chromedp.SendKeys(chromedp.CSS("#username"), "ann"), chromedp.SendKeys(chromedp.CSS("#display_name"), "Nora Newcomer"),
			chromedp.SendKeys(chromedp.CSS("#email"), "nora@example.org"), chromedp.SendKeys(chromedp.CSS("#profile"), "Agent"),
			chromedp.SendKeys(chromedp.CSS("#units"), "Floor 2"))
		u.submit(`form[action="/admin/users/new"] button[type=submit]`, "already exists")
		if got := u.text("#username-error"); !strings.Contains(got, `"ann" already exists`) {
			t.Fatalf("field error: %q", got)
		}
		if h := u.html(); !strings.Contains(h, `value="Nora Newcomer"`) || !strings.Contains(h, `value="Floor 2"`) {
			t.Fatal("the refused form lost what was typed")
		}
		u.screenshot("user-new-refused")
		u.do(chromedp.Clear(chromedp.CSS("#username")), chromedp.SendKeys(chromedp.CSS("#username"), "nora"))
		u.submit(`form[action="/admin/users/new"] button[type=submit]`, "User created.")
		if main := u.text("main"); !strings.Contains(main, "Nora Newcomer") || !strings.Contains(main, "Floor 2") || u.text("h1") != "nora" {
			t.Fatalf("created user's page:\n%s", main)
		}

		// Deactivate lee, with a reason.
		u.open("/admin/users/" + s.ids["lee"])
		u.do(chromedp.SendKeys(chromedp.CSS("#reason"), "Left the company"))
		u.submit(`form[action$="/deactivate"] button`, "User deactivated")
		if main := u.text("main"); !strings.Contains(main, "inactive") || !strings.Contains(main, "user.deactivate") {
			t.Fatalf("deactivated user's page:\n%s", main)
		}
		u.screenshot("user")

		// Edit a profile: give coaches view_users.
		u.open("/admin/profiles/Quality%20Coach")
		u.do(chromedp.Click(chromedp.CSS("#p-view_users")))
		u.submit(`form.form button[type=submit]`, "Profile saved.")
		if h := u.html(); !strings.Contains(h, `value="view_users" checked`) {
			t.Fatal("view_users not ticked after saving")
		}
		u.screenshot("profile")

		for _, p := range []struct{ path, name, want string }{
			{"/admin/profiles", "profiles", "Team Supervisor"},
			{"/admin/teams", "teams", "Night"},
			{"/admin/teams/Floor%201", "team", "amir"},
			{"/admin/sessions", "sessions", "licences in use"},
			{"/admin/policy", "policy", "5 failed sign-ins within 15m0s"},
			{"/admin/audit", "audit", "user.deactivate"},
			{"/", "account", "My sessions"},
		} {
			u.open(p.path)
			if main := u.text("main"); !strings.Contains(main, p.want) {
				t.Fatalf("%s does not show %q:\n%s", p.path, p.want, main)
			}
			u.screenshot(p.name)
		}
	})

	t.Run("bypass form while SSO is enforced", func(t *testing.T) {
		u := newUI(t, s, 1280, 800)
		// The enforced login page goes straight to the IdP; the bypass
		// path shows the password form, which only bypass_sso opens.
		u.do(chromedp.Navigate(s.enforced + "/login"))
		u.waitFor("the enforced login page to send the browser to the IdP", func() bool {
			return strings.HasPrefix(u.location(), s.idp.BaseURL)
		})
		bypass := func(user string) {
			u.do(chromedp.Navigate(s.enforced+"/login?bypass-sso=1&return_to=%2Fadmin%2Fusers"), chromedp.WaitVisible(chromedp.CSS("#username")),
				chromedp.SendKeys(chromedp.CSS("#username"), user), chromedp.SendKeys(chromedp.CSS("#password"), pw),
				chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)))
		}
		bypass("ann")
		u.waitFor("ann refused on the bypass path", func() bool {
			return strings.Contains(u.tryText("body"), "incorrect")
		})
		if u.tryText(".signout .who") != "" {
			t.Fatal("a user without bypass_sso signed in through the bypass form")
		}
		bypass("admin")
		u.waitFor("admin signed in through the bypass form", func() bool { return u.tryText(".signout .who") == "admin" })
		if loc := u.location(); loc != s.enforced+"/admin/users" {
			t.Fatalf("after the bypass sign-in: %s", loc)
		}
		// My account lists the SAML session of the administrator's
		// other browser; end it from here.
		u.do(chromedp.Navigate(s.enforced+"/"), chromedp.WaitVisible(chromedp.CSS(`form[action^="/admin/account/sessions/"] button`)))
		before := strings.Count(u.text("main"), "saml")
		u.submit(`form[action^="/admin/account/sessions/"] button`, "that browser is signed out")
		if after := strings.Count(u.text("main"), "saml"); after != before-1 {
			t.Fatalf("SAML sessions listed: %d before ending one, %d after:\n%s", before, after, u.text("main"))
		}
	})

	t.Run("supervisor sees only their team", func(t *testing.T) {
		u := newUI(t, s, 1280, 800)
		u.signIn("sam", "/admin/users")
		body := u.text("tbody")
		for _, name := range []string{"amir", "max", "sue", "fay"} { // Floor 1 and its subteam Night
			if !strings.Contains(body, name) {
				t.Errorf("supervisor does not see %s", name)
			}
		}
		for _, name := range []string{"ann", "lee", "nora", "admin"} { // Floor 2, no team
			if strings.Contains(body, name) {
				t.Errorf("supervisor sees %s", name)
			}
		}
		if nav := u.text("header nav"); strings.Contains(nav, "Audit log") || strings.Contains(nav, "Profiles") && !strings.Contains(nav, "Users") {
			t.Errorf("supervisor's navigation: %q", nav)
		}
		u.screenshot("supervisor-users")
		u.open("/admin/users/" + s.ids["lee"])
		if main := u.text("main"); !strings.Contains(main, "no user") && !strings.Contains(main, "not found") {
			t.Errorf("another team's user:\n%s", main)
		}
	})

	t.Run("user without privileges sees only My account", func(t *testing.T) {
		u := newUI(t, s, 1280, 800)
		u.signIn("ann", "/")
		if loc := u.location(); loc != s.base+"/" {
			t.Fatalf("landing: %s", loc)
		}
		if nav := u.text("header nav"); strings.TrimSpace(nav) != "My account" {
			t.Fatalf("navigation of a user without privileges: %q", nav)
		}
		if main := u.text("main"); !strings.Contains(main, "Your password expires in") || !strings.Contains(main, "Floor 2") {
			t.Fatalf("my account:\n%s", main)
		}
		u.screenshot("my-account")
		// Keyboard: the first Tab reaches "Skip to content", the next ones
		// the navigation.
		u.open("/")
		u.do(chromedp.KeyEvent("\t"))
		ctx, cancel := context.WithTimeout(u.ctx, 5*time.Second)
		focused, err := chromedp.Run(ctx, chromedp.Evaluate[string]("document.activeElement.textContent"))
		cancel()
		if err != nil || focused != "Skip to content" {
			t.Errorf("first Tab focuses %q (%v)", focused, err)
		}
		u.open("/admin/users")
		if main := u.text("main"); !strings.Contains(main, "You may not see this page") {
			t.Fatalf("users page for ann:\n%s", main)
		}
	})

	t.Run("cross-site POST refused", func(t *testing.T) {
		u := newUI(t, s, 1280, 800)
		u.signIn("admin", "/")
		// A page on another site (localhost is not 127.0.0.1) whose form
		// posts to the console, as a forged link would.
		target := s.base + "/admin/users/" + s.ids["max"] + "/deactivate"
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `<!doctype html><title>win a prize</title><form method="post" action="`+target+`"><input type="hidden" name="csrf" value="guess"><button id="go">Claim</button></form>`)
		}))
		defer evil.Close()
		u.do(chromedp.Navigate(strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)), chromedp.WaitVisible(chromedp.CSS("#go")),
			chromedp.Click(chromedp.CSS("#go")))
		deadline := time.Now().Add(10 * time.Second)
		for !strings.HasPrefix(u.location(), s.base) && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond)
		ctx, cancel := context.WithTimeout(u.ctx, 5*time.Second)
		body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		cancel()
		if !strings.Contains(strings.ToLower(body), "cross-origin") {
			t.Errorf("the cross-site post got: %q", body)
		}
		u.open("/admin/users/" + s.ids["max"])
		if main := u.text("main"); !strings.Contains(main, "active") || strings.Contains(main, "inactive") {
			t.Fatalf("max after the forged post:\n%s", main)
		}
	})

	t.Run("phone", func(t *testing.T) {
		// Readable on a phone: nothing wider than the screen but the
		// tables, which scroll inside their own box.
		u := newUI(t, s, 1280, 800)
		u.signIn("admin", "/")
		u.do(chromedp.EmulateViewport(390, 844))
		for _, p := range []struct{ path, name string }{{"/admin/users", "phone-users"}, {"/admin/users/" + s.ids["lee"], "phone-user"}, {"/admin/profiles/Quality%20Coach", ""}} {
			u.open(p.path)
			ctx, cancel := context.WithTimeout(u.ctx, 5*time.Second)
			w, err := chromedp.Run(ctx, chromedp.Evaluate[int]("document.documentElement.scrollWidth"))
			cancel()
			if err != nil || w > 390 {
				t.Errorf("%s on a phone is %d px wide (%v)", p.path, w, err)
			}
			if p.name != "" {
				u.screenshot(p.name)
			}
		}
	})

	// Last, as it imports more users than the steps above count.
	t.Run("administrator chooses a directory group to import", func(t *testing.T) {
		u := newUI(t, s, 1280, 800)
		u.signIn("admin", "/admin/directories")
		if groups := u.text("#dir-corp table"); !strings.Contains(groups, "CC-Agents") || !strings.Contains(groups, "config file") {
			t.Fatalf("imported groups:\n%s", groups)
		}
		u.do(chromedp.SendKeys(chromedp.CSS("#search-corp"), "QA"))
		u.submit(`#dir-corp form[role=search] button`, "QA-Coaches")
		if found := u.text(`#dir-corp table caption`); !strings.Contains(found, "1 group(s)") {
			t.Fatalf("search results: %q", found)
		}
		u.screenshot("directory-groups")
		u.submit(`form[action="/admin/directories/corp/groups/import"] button`, "Group chosen for import")
		if groups := u.text("#dir-corp table"); !strings.Contains(groups, "QA-Coaches") || !strings.Contains(groups, "chosen here") {
			t.Fatalf("imported groups after the import:\n%s", groups)
		}
		// An incremental run (the form's default) reads in full: the
		// cursor does not cover the new group.
		u.setChecked("dry-corp", false)
		u.submit(`form[action="/admin/directories/corp/sync"] button`, "Sync started")
		u.waitFor("the run to finish", func() bool { return strings.Contains(u.tryText("main"), "succeeded") })
		if main := u.text("main"); !strings.Contains(main, "2 created") || !strings.Contains(main, "quinn") || !strings.Contains(main, "rae") {
			t.Fatalf("run after the import:\n%s", main)
		}
		u.open("/admin/users?team=Floor+2")
		if main := u.text("tbody"); !strings.Contains(main, "quinn") || !strings.Contains(main, "rae") {
			t.Fatalf("Floor 2 after the import:\n%s", main)
		}
	})
}
