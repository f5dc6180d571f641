package ldap

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/sync/directory"
)

const base = "dc=example,dc=org"

func slapdConfig(t *testing.T, s *harness.Slapd) Config {
	return Config{
		Name:           "corp",
		Kind:           KindLDAP,
		URLs:           []string{s.URL},
		StartTLS:       true,
		CAFile:         s.CAFile,
		BindDN:         s.ReaderDN,
		BindPassword:   s.ReaderPassword,
		BaseDN:         s.BaseDN,
		DisabledFilter: "(employeeType=disabled)",
		ConnectTimeout: 3 * time.Second,
		ReadTimeout:    10 * time.Second,
		Logger:         testLogger(t),
	}
}

func newSource(t *testing.T, cfg Config) *Source {
	t.Helper()
	src, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return src
}

func read(t *testing.T, src *Source, groups ...string) directory.Snapshot {
	t.Helper()
	snap, err := src.Read(context.Background(), directory.ReadRequest{Groups: groups})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return snap
}

func usernames(users []directory.User) []string {
	var out []string
	for _, u := range users {
		out = append(out, u.Username)
	}
	slices.Sort(out)
	return out
}

func userByName(t *testing.T, snap directory.Snapshot, name string) directory.User {
	t.Helper()
	for _, u := range snap.Users {
		if strings.EqualFold(u.Username, name) {
			return u
		}
	}
	t.Fatalf("user %s not in snapshot (have %v)", name, usernames(snap.Users))
	return directory.User{}
}

func groupByName(t *testing.T, snap directory.Snapshot, name string) directory.Group {
	t.Helper()
	for _, g := range snap.Groups {
		if strings.EqualFold(g.Name, name) {
			return g
		}
	}
	t.Fatalf("group %s not in snapshot", name)
	return directory.Group{}
}

// TestSlapdConnections runs one read over every way of connecting.
func TestSlapdConnections(t *testing.T) {
	s := sharedSlapd(t)
	cases := []struct {
		name     string
		url      string
		startTLS bool
		ca       string
		insecure bool
		wantErr  bool
	}{
		{name: "plain", url: s.URL},
		{name: "starttls", url: s.URL, startTLS: true, ca: s.CAFile},
		{name: "ldaps", url: s.LDAPSURL, ca: s.CAFile},
		{name: "ldaps unknown CA", url: s.LDAPSURL, wantErr: true},
		{name: "ldaps insecure skip verify", url: s.LDAPSURL, insecure: true},
		{name: "starttls unknown CA", url: s.URL, startTLS: true, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := slapdConfig(t, s)
			cfg.URLs, cfg.StartTLS, cfg.CAFile, cfg.InsecureSkipVerify = []string{tc.url}, tc.startTLS, tc.ca, tc.insecure
			snap, err := newSource(t, cfg).Read(context.Background(), directory.ReadRequest{Groups: []string{"staff"}})
			if tc.wantErr {
				if err == nil {
					t.Fatal("read succeeded with an untrusted certificate")
				}
				return
			}
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if got := usernames(snap.Users); !slices.Equal(got, []string{"alice", "bob", "carol"}) {
				t.Fatalf("users = %v", got)
			}
			if !snap.Complete {
				t.Fatal("full read not Complete")
			}
		})
	}
}

func TestSlapdFullRead(t *testing.T) {
	// Few groups are expanded from themselves; many from one pass over
	// every group, and every user is then streamed: both must agree.
	t.Run("few groups, lookups", func(t *testing.T) { testSlapdFullRead(t, 50, 1000) })
	t.Run("all groups, streamed users", func(t *testing.T) { testSlapdFullRead(t, 0, 0) })
}

func testSlapdFullRead(t *testing.T, fewGroups, lookupMax int) {
	s := sharedSlapd(t)
	src := newSource(t, slapdConfig(t, s))
	src.fewGroups, src.lookupMax = fewGroups, lookupMax
	groupsDN := "ou=groups,ou=basic," + base
	snap := read(t, src, "staff", "cn=parent,"+groupsDN, "Sales, EMEA", "cycle-a")

	if got, want := usernames(snap.Users), []string{"alice", "bob", "carol", "dave", "erin"}; !slices.Equal(got, want) {
		t.Fatalf("users = %v, want %v", got, want)
	}
	carol := userByName(t, snap, "carol")
	if !carol.Disabled {
		t.Error("carol (employeeType=disabled) not flagged disabled")
	}
	alice := userByName(t, snap, "alice")
	if alice.Disabled || alice.Email != "alice@example.org" || alice.FirstName != "Alice" || alice.LastName != "Test" || alice.DisplayName != "Alice Test" {
		t.Errorf("alice = %+v", alice)
	}
	if !looksLikeUUID(alice.Anchor) {
		t.Errorf("alice's anchor %q is not an entryUUID", alice.Anchor)
	}
	if alice.ChangedAt.IsZero() {
		t.Error("alice's modifyTimestamp not read")
	}
	staff, parent := groupByName(t, snap, "staff"), groupByName(t, snap, "parent")
	if len(alice.Groups) != 2 || !slices.Contains(alice.Groups, staff.Anchor) || !slices.Contains(alice.Groups, parent.Anchor) {
		t.Errorf("alice's groups = %v, want staff and parent", alice.Groups)
	}
	// Nested: dave is in child, child is in parent.
	dave := userByName(t, snap, "dave")
	if !slices.Equal(dave.Groups, []string{parent.Anchor}) {
		t.Errorf("dave's groups = %v, want [parent]", dave.Groups)
	}
	if len(parent.Members) != 2 || len(parent.Nested) != 1 {
		t.Errorf("parent = %+v", parent)
	}
	// A cycle terminates, and its members are found.
	cyc := groupByName(t, snap, "cycle-a")
	if len(cyc.Members) != 1 || len(cyc.Nested) != 1 {
		t.Errorf("cycle-a = %+v", cyc)
	}
	// slapd sends "cn=Sales\2C EMEA" back hex-escaped; the DN still matches.
	sales := groupByName(t, snap, "Sales, EMEA")
	if len(sales.Members) != 1 {
		t.Errorf("Sales, EMEA = %+v", sales)
	}
	if snap.Stats.Entries == 0 || snap.Stats.Pages == 0 || snap.Cursor == "" {
		t.Errorf("stats/cursor = %+v %q", snap.Stats, snap.Cursor)
	}

	// The same group named by DN (hex-escaped or not), by entryUUID and by name.
	for _, spec := range []string{`cn=Sales\2C EMEA,` + groupsDN, `CN=Sales\, EMEA,` + strings.ToUpper(groupsDN), sales.Anchor} {
		snap := read(t, src, spec)
		if got := usernames(snap.Users); !slices.Equal(got, []string{"bob"}) {
			t.Errorf("group %q: users = %v", spec, got)
		}
	}
}

// A group called "a*)(cn=*" must match only itself.
func TestSlapdFilterEscaping(t *testing.T) {
	s := sharedSlapd(t)
	src := newSource(t, slapdConfig(t, s))
	snap := read(t, src, "a*)(cn=*")
	if got := usernames(snap.Users); !slices.Equal(got, []string{"frank"}) {
		t.Fatalf("users = %v, want [frank]", got)
	}
	if len(snap.Groups) != 1 {
		t.Fatalf("groups = %+v", snap.Groups)
	}
	if _, err := src.Read(context.Background(), directory.ReadRequest{Groups: []string{"*"}}); err == nil {
		t.Fatal(`group "*" matched something`)
	}
	if _, err := src.Read(context.Background(), directory.ReadRequest{Groups: []string{"no-such-group"}}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("missing group: err = %v", err)
	}
	gs, err := src.ListGroups(context.Background(), "*)(")
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 1 || gs[0].Name != "a*)(cn=*" || gs[0].MemberCount != 1 {
		t.Fatalf("ListGroups = %+v", gs)
	}
}

// FindGroup resolves a group by name, DN or anchor to all three (to
// choose it for import by its anchor), and tells a missing group apart.
func TestSlapdFindGroup(t *testing.T) {
	s := sharedSlapd(t)
	src := newSource(t, slapdConfig(t, s))
	ctx := context.Background()
	byName, err := src.FindGroup(ctx, "staff")
	if err != nil {
		t.Fatal(err)
	}
	if byName.Name != "staff" || byName.Anchor == "" || !strings.HasPrefix(byName.DN, "cn=staff,") {
		t.Fatalf("FindGroup(staff) = %+v", byName)
	}
	for _, spec := range []string{byName.DN, byName.Anchor, strings.ToUpper(byName.Anchor)} {
		if g, err := src.FindGroup(ctx, spec); err != nil || g != byName {
			t.Errorf("FindGroup(%q) = %+v, %v; want %+v", spec, g, err, byName)
		}
	}
	if _, err := src.FindGroup(ctx, "no-such-group"); !errors.Is(err, directory.ErrGroupNotFound) {
		t.Errorf("FindGroup(no-such-group): err = %v", err)
	}
}

func TestSlapdPaging(t *testing.T) {
	s := sharedSlapd(t)
	cfg := slapdConfig(t, s)
	cfg.PageSize = 3
	cfg.ProgressEvery = time.Nanosecond
	var progress int
	src := newSource(t, cfg)
	src.lookupMax = 0 // stream every user, paged
	snap, err := src.Read(context.Background(), directory.ReadRequest{
		Groups:   []string{"paging-all"},
		Progress: func(directory.Progress) { progress++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Users) != 25 || len(snap.Groups[0].Members) != 25 {
		t.Fatalf("users = %d, members = %d", len(snap.Users), len(snap.Groups[0].Members))
	}
	if snap.Stats.Pages < 10 || progress < 10 {
		t.Fatalf("pages = %d, progress calls = %d: paging not used", snap.Stats.Pages, progress)
	}
}

func TestSlapdFailover(t *testing.T) {
	s := sharedSlapd(t)
	t.Run("dead first URL", func(t *testing.T) {
		cfg := slapdConfig(t, s)
		cfg.URLs = []string{fmt.Sprintf("ldap://127.0.0.1:%d", harness.FreePort(t)), s.URL}
		snap := read(t, newSource(t, cfg), "staff")
		if len(snap.Users) != 3 || snap.Stats.Server != s.URL {
			t.Fatalf("users = %d, server = %s", len(snap.Users), snap.Stats.Server)
		}
	})
	t.Run("wrong bind password stops", func(t *testing.T) {
		cfg := slapdConfig(t, s)
		cfg.BindPassword = "wrong"
		dials := 0
		src := newSource(t, cfg)
		inner := src.dial
		src.dial = func(ctx context.Context, u string, k dialKind) (conn, error) { dials++; return inner(ctx, u, k) }
		src.cfg.URLs = []string{s.URL, s.URL}
		_, err := src.Read(context.Background(), directory.ReadRequest{Groups: []string{"staff"}})
		if !errors.Is(err, directory.ErrBindRefused) || errors.Is(err, directory.ErrUnavailable) {
			t.Fatalf("err = %v, want directory.ErrBindRefused", err)
		}
		if !strings.Contains(err.Error(), "ldap corp") || !strings.Contains(err.Error(), "Invalid Credentials") {
			t.Errorf("error not clear: %v", err)
		}
		if dials != 1 {
			t.Errorf("dialled %d servers after a refused bind, want 1", dials)
		}
	})
	t.Run("hung first server", func(t *testing.T) {
		// Accepts connections and never answers, as a wedged DC does.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				defer c.Close()
			}
		}()
		// A cancelled context ends a bind that would otherwise wait out
		// the read timeout.
		cfg := slapdConfig(t, s)
		cfg.StartTLS = false
		cfg.URLs = []string{"ldap://" + l.Addr().String()}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err = newSource(t, cfg).Read(ctx, directory.ReadRequest{Groups: []string{"staff"}})
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 3*time.Second {
			t.Fatalf("cancelled bind: err = %v after %s", err, time.Since(start))
		}

		cfg.ReadTimeout = 500 * time.Millisecond
		cfg.URLs = []string{"ldap://" + l.Addr().String(), s.URL}
		start = time.Now()
		snap := read(t, newSource(t, cfg), "staff")
		if len(snap.Users) != 3 || snap.Stats.Server != s.URL || time.Since(start) > 5*time.Second {
			t.Fatalf("users = %d via %s in %s", len(snap.Users), snap.Stats.Server, time.Since(start))
		}
	})
	t.Run("all dead", func(t *testing.T) {
		cfg := slapdConfig(t, s)
		cfg.URLs = []string{fmt.Sprintf("ldap://127.0.0.1:%d", harness.FreePort(t))}
		_, err := newSource(t, cfg).Read(context.Background(), directory.ReadRequest{Groups: []string{"staff"}})
		if !errors.Is(err, directory.ErrUnavailable) {
			t.Fatalf("err = %v, want directory.ErrUnavailable", err)
		}
	})
}

// A directory that dies mid-read gives an error, never a Complete snapshot.
func TestSlapdKilledMidRead(t *testing.T) {
	s := harness.StartSlapd(t, harness.SlapdOptions{})
	s.Add(t, scenarioLDIF(t))
	cfg := slapdConfig(t, s)
	cfg.PageSize = 2
	cfg.ProgressEvery = time.Nanosecond
	killed := false
	snap, err := newSource(t, cfg).Read(context.Background(), directory.ReadRequest{
		Groups: []string{"paging-all"},
		Progress: func(p directory.Progress) {
			if !killed && p.Pages >= 3 {
				killed = true
				s.Kill()
			}
		},
	})
	if err == nil {
		t.Fatalf("read survived the server's death: %d users, complete=%v", len(snap.Users), snap.Complete)
	}
	if !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("err = %v, want it to wrap directory.ErrUnavailable", err)
	}
	t.Logf("error as reported: %v", err)
	// The server comes back and the next read works.
	s.Start(t)
	if snap := read(t, newSource(t, slapdConfig(t, s)), "paging-all"); len(snap.Users) != 25 {
		t.Fatalf("after restart: %d users", len(snap.Users))
	}
}

func TestSlapdCancelledRead(t *testing.T) {
	s := sharedSlapd(t)
	cfg := slapdConfig(t, s)
	cfg.PageSize = 2
	cfg.ProgressEvery = time.Nanosecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := newSource(t, cfg).Read(ctx, directory.ReadRequest{
		Groups:   []string{"paging-all"},
		Progress: func(directory.Progress) { cancel() },
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// Rename and OU move keep the anchor; incremental sees a membership change
// made only on the group.
func TestSlapdRenameAndIncremental(t *testing.T) {
	s := harness.StartSlapd(t, harness.SlapdOptions{})
	s.Add(t, scenarioLDIF(t))
	src := newSource(t, slapdConfig(t, s))
	ctx := context.Background()
	first := read(t, src, "incr-group", "staff")
	bob := userByName(t, first, "bob")

	s.Modify(t, `dn: uid=bob,ou=people,ou=basic,`+base+`
changetype: modrdn
newrdn: uid=robert
deleteoldrdn: 1
newsuperior: ou=moved,ou=basic,`+base+`
`)
	second := read(t, src, "staff", "incr-group")
	robert := userByName(t, second, "robert")
	if robert.Anchor != bob.Anchor || !strings.HasPrefix(robert.DN, "uid=robert,ou=moved") {
		t.Fatalf("after rename+move: anchor %s (was %s), DN %s", robert.Anchor, bob.Anchor, robert.DN)
	}

	// Incremental: incb joins incr-group by a change to the group only.
	s.Modify(t, `dn: cn=incr-group,ou=incr,`+base+`
changetype: modify
add: member
member: uid=incb,ou=incr,`+base+`
`)
	inc, err := src.Read(ctx, directory.ReadRequest{Groups: []string{"incr-group", "staff"}, Cursor: second.Cursor})
	if err != nil {
		t.Fatal(err)
	}
	if inc.Complete {
		t.Fatal("incremental read marked Complete")
	}
	incb := userByName(t, inc, "incb")
	g := groupByName(t, inc, "incr-group")
	if !slices.Equal(incb.Groups, []string{g.Anchor}) || len(g.Members) != 2 {
		t.Fatalf("incb groups = %v, incr-group = %+v", incb.Groups, g)
	}
	if inc.Cursor == "" {
		t.Fatal("no cursor")
	}

	// Another set of imported groups: the cursor does not cover the
	// added one, so the read is full.
	parentDN := "cn=parent,ou=groups,ou=basic," + base
	regrouped, err := src.Read(ctx, directory.ReadRequest{Groups: []string{"incr-group", parentDN}, Cursor: inc.Cursor})
	if err != nil {
		t.Fatal(err)
	}
	if !regrouped.Complete || !slices.Contains(regrouped.Stats.Warnings, "imported groups changed since the cursor: full read") {
		t.Fatalf("read with other groups: complete %v, warnings %q", regrouped.Complete, regrouped.Stats.Warnings)
	}

	// Leaving a group and joining a nested one, both changed only on the
	// groups: the touched imported groups come back whole.
	s.Modify(t, `dn: cn=incr-group,ou=incr,`+base+`
changetype: modify
delete: member
member: uid=inca,ou=incr,`+base+`

dn: cn=child,ou=groups,ou=basic,`+base+`
changetype: modify
add: member
member: uid=gina,ou=people,ou=basic,`+base+`
`)
	inc2, err := src.Read(ctx, directory.ReadRequest{Groups: []string{parentDN, "incr-group"}, Cursor: regrouped.Cursor})
	if err != nil {
		t.Fatal(err)
	}
	if inc2.Complete {
		t.Fatal("incremental read with the same groups in another order marked Complete")
	}
	g = groupByName(t, inc2, "incr-group")
	inca := userByName(t, first, "inca")
	if slices.Contains(g.Members, inca.Anchor) || len(g.Members) != 1 {
		t.Errorf("incr-group after inca left: %+v", g)
	}
	parent := groupByName(t, inc2, "parent")
	gina := userByName(t, inc2, "gina")
	if !slices.Equal(gina.Groups, []string{parent.Anchor}) || !slices.Contains(parent.Members, gina.Anchor) {
		t.Errorf("gina via nested child: groups %v, parent %+v", gina.Groups, parent)
	}
}

func TestSlapdAuthenticate(t *testing.T) {
	s := harness.StartSlapd(t, harness.SlapdOptions{})
	s.Add(t, scenarioLDIF(t))
	ctx := context.Background()
	src := newSource(t, slapdConfig(t, s))

	u, err := src.Authenticate(ctx, directory.Account{Login: "paula"}, "paula-password")
	if err != nil || u.Username != "paula" || u.Anchor == "" {
		t.Fatalf("good password: %+v %v", u, err)
	}
	for _, tc := range []struct{ user, pw string }{{"paula", "wrong"}, {"nobody", "x"}, {"paula", ""}, {"*", "paula-password"}} {
		if _, err := src.Authenticate(ctx, directory.Account{Login: tc.user}, tc.pw); !errors.Is(err, directory.ErrInvalidCredentials) {
			t.Errorf("Authenticate(%q, %q) = %v, want ErrInvalidCredentials", tc.user, tc.pw, err)
		}
	}
	plain := slapdConfig(t, s)
	plain.StartTLS = false
	if _, err := newSource(t, plain).Authenticate(ctx, directory.Account{Login: "paula"}, "paula-password"); !errors.Is(err, directory.ErrInsecureConnection) {
		t.Errorf("plain ldap: err = %v, want directory.ErrInsecureConnection", err)
	}

	if err := src.ChangePassword(ctx, directory.Account{Login: "paula"}, "wrong", "new-Passw0rd"); !errors.Is(err, directory.ErrInvalidCredentials) {
		t.Errorf("change with wrong old password: %v", err)
	}
	if err := src.ChangePassword(ctx, directory.Account{Login: "paula"}, "paula-password", "new-Passw0rd"); err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}
	if _, err := src.Authenticate(ctx, directory.Account{Login: "paula"}, "new-Passw0rd"); err != nil {
		t.Fatalf("bind with the new password: %v", err)
	}
	if _, err := src.Authenticate(ctx, directory.Account{Login: "paula"}, "paula-password"); !errors.Is(err, directory.ErrInvalidCredentials) {
		t.Fatalf("old password still works: %v", err)
	}

	// An outage is not a wrong password.
	s.Stop()
	_, err = src.Authenticate(ctx, directory.Account{Login: "paula"}, "new-Passw0rd")
	if !errors.Is(err, directory.ErrUnavailable) || errors.Is(err, directory.ErrInvalidCredentials) {
		t.Fatalf("directory down: err = %v, want directory.ErrUnavailable", err)
	}
}

// A directory that demands a client certificate gets one from the config.
func TestSlapdClientCertificate(t *testing.T) {
	s := harness.StartSlapd(t, harness.SlapdOptions{RequireClientCert: true, LDIF: `dn: ou=people,` + base + `
objectClass: organizationalUnit
ou: people

dn: uid=ann,ou=people,` + base + `
objectClass: inetOrgPerson
uid: ann
cn: Ann
sn: Test

dn: cn=team,` + base + `
objectClass: groupOfNames
cn: team
member: uid=ann,ou=people,` + base + `
`})
	for _, url := range []string{s.LDAPSURL, s.URL} {
		cfg := slapdConfig(t, s)
		cfg.URLs = []string{url}
		cfg.StartTLS = strings.HasPrefix(url, "ldap://")
		if _, err := newSource(t, cfg).Read(context.Background(), directory.ReadRequest{Groups: []string{"team"}}); err == nil {
			t.Errorf("%s: read without a client certificate succeeded", url)
		}
		cfg.ClientCertFile, cfg.ClientKeyFile = s.ClientCertFile, s.ClientKeyFile
		if snap := read(t, newSource(t, cfg), "team"); len(snap.Users) != 1 {
			t.Errorf("%s: users = %v", url, usernames(snap.Users))
		}
	}
}

// TestSlapdIncrementalReadsParentGroupsTogether: a changed user's groups
// and the groups above them are read a level at a time, not one search
// per group, and a parent the batched search cannot find (outside the
// base) is still read on its own.
func TestSlapdIncrementalReadsParentGroupsTogether(t *testing.T) {
	s := harness.StartSlapd(t, harness.SlapdOptions{})
	const pf = "ou=pf," + base
	var b strings.Builder
	fmt.Fprintf(&b, "dn: %s\nobjectClass: organizationalUnit\nou: pf\n\n", pf)
	fmt.Fprintf(&b, "dn: ou=elsewhere,%s\nobjectClass: organizationalUnit\nou: elsewhere\n\n", base)
	fmt.Fprintf(&b, "dn: uid=pf-user,%s\nobjectClass: inetOrgPerson\nuid: pf-user\ncn: PF User\nsn: User\n\n", pf)
	fmt.Fprintf(&b, "dn: cn=pf-other,%s\nobjectClass: inetOrgPerson\ncn: pf-other\nsn: Other\n\n", base)
	// Twelve groups under pf-top, one directly imported, and one outside
	// the base between the user and pf-top.
	top := "dn: cn=pf-top," + pf + "\nobjectClass: groupOfNames\ncn: pf-top\n"
	for i := 1; i <= 12; i++ {
		g := fmt.Sprintf("cn=pf-g%02d,%s", i, pf)
		fmt.Fprintf(&b, "dn: %s\nobjectClass: groupOfNames\ncn: pf-g%02d\nmember: uid=pf-user,%s\n\n", g, i, pf)
		top += "member: " + g + "\n"
	}
	fmt.Fprintf(&b, "dn: cn=pf-outer,ou=elsewhere,%s\nobjectClass: groupOfNames\ncn: pf-outer\nmember: uid=pf-user,%s\n\n", base, pf)
	top += "member: cn=pf-outer,ou=elsewhere," + base + "\n"
	fmt.Fprintf(&b, "dn: cn=pf-direct,%s\nobjectClass: groupOfNames\ncn: pf-direct\nmember: uid=pf-user,%s\n\n", pf, pf)
	s.Add(t, b.String()+top)

	cfg := slapdConfig(t, s)
	cfg.BaseDN = pf
	cfg.IncrementalOverlap = time.Second
	src := newSource(t, cfg)
	groups := []string{"cn=pf-top," + pf, "cn=pf-direct," + pf}
	// The cursor is the newest modifyTimestamp read: move it past the
	// groups' creation with an entry outside the imported groups, so the
	// incremental below sees the user's change alone.
	time.Sleep(2100 * time.Millisecond)
	s.Modify(t, "dn: cn=pf-other,"+base+"\nchangetype: modify\nreplace: sn\nsn: Moved\n")
	cfg2 := cfg
	cfg2.BaseDN = base
	first := read(t, newSource(t, cfg2), groups...)
	want := []string{groupByName(t, first, "pf-top").Anchor, groupByName(t, first, "pf-direct").Anchor}
	slices.Sort(want)

	s.Modify(t, "dn: uid=pf-user,"+pf+"\nchangetype: modify\nreplace: sn\nsn: Changed\n")
	inc, err := src.Read(context.Background(), directory.ReadRequest{Groups: groups, Cursor: first.Cursor})
	if err != nil {
		t.Fatal(err)
	}
	u := userByName(t, inc, "pf-user")
	got := slices.Clone(u.Groups)
	slices.Sort(got)
	if !slices.Equal(got, want) || u.LastName != "Changed" || len(inc.Groups) != 0 {
		t.Fatalf("pf-user groups = %v, want %v (user %+v, groups read %d)", got, want, u, len(inc.Groups))
	}
	// changed groups, changed users, changed disabled users, the user's 14
	// groups (one search; pf-outer is outside the base and not found),
	// pf-outer on its own, pf-top (one search, found).
	if inc.Stats.Searches > 6 {
		t.Errorf("incremental sent %d searches for one changed user in 14 groups, want <= 6", inc.Stats.Searches)
	}
}
