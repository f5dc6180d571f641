package ldap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/internal/pwdexpiry"
	"github.com/dirbridge/dirbridge/sync/directory"
)

const (
	adPassword = "Passw0rd-Test1!"
	bigGroupN  = 250
)

// Scenario OUs on the shared DC (creating AD users costs ~33 ms each, so
// the sets stay small).
var sambaOU = map[string]string{}

func sambaFixtures(t harness.TB, s *harness.Samba) {
	start := time.Now()
	// Let users change a password they set today (AD's default minimum age
	// is a day).
	s.Tool(t, "domain", "passwordsettings", "set", "--min-pwd-age=0", "--account-lockout-threshold=3")
	read := s.AddOU(t, "dirbridge-read")
	sambaOU["read"] = read
	u := func(ou, name string, opts ...func(*harness.SambaUser)) string {
		return addSambaUser(t, s, ou, name, opts...)
	}
	disabled := func(u *harness.SambaUser) { u.Disabled = true }
	amy, ben, cid := u(read, "amy"), u(read, "ben"), u(read, "cid", disabled)
	dan, eve := u(read, "dan"), u(read, "eve")
	s.AddGroup(t, read, "staff", amy, ben, cid)
	child := s.AddGroup(t, read, "child", dan)
	s.AddGroup(t, read, "parent", child, amy)
	cycB := s.AddGroup(t, read, "cyc-b", eve)
	cycA := s.AddGroup(t, read, "cyc-a", cycB)
	s.AddMembers(t, cycB, cycA)
	// The CN holds filter metacharacters; sAMAccountName may not.
	esc := `CN=a*)(cn\3D*,` + read
	req := goldap.NewAddRequest(esc, nil)
	req.Attribute("objectClass", []string{"top", "group"})
	req.Attribute("sAMAccountName", []string{"esc-group"})
	req.Attribute("member", []string{ben})
	if err := s.Admin(t).Add(req); err != nil {
		t.Fatalf("add %s: %v", esc, err)
	}

	big := s.AddOU(t, "dirbridge-big")
	sambaOU["big"] = big
	var members []string
	for i := 0; i < bigGroupN; i++ {
		members = append(members, s.AddUser(t, big, harness.SambaUser{Name: fmt.Sprintf("big%03d", i), Password: adPassword}))
	}
	s.AddGroup(t, big, "big-group", members...)
	t.Logf("samba fixtures made in %s", time.Since(start).Round(time.Millisecond))
}

// addSambaUser creates an enabled user with the package's password and a
// mail address, changed by opts.
func addSambaUser(t harness.TB, s *harness.Samba, ou, name string, opts ...func(*harness.SambaUser)) string {
	t.Helper()
	su := harness.SambaUser{Name: name, Password: adPassword, Mail: name + "@example.test"}
	for _, o := range opts {
		o(&su)
	}
	return s.AddUser(t, ou, su)
}

func sambaConfig(t *testing.T, s *harness.Samba) Config {
	return Config{
		Name:           "corp",
		Kind:           KindAD,
		URLs:           []string{s.LDAPSURL},
		CAFile:         s.CAFile,
		BindDN:         s.AdminDN,
		BindPassword:   s.AdminPassword,
		BaseDN:         s.BaseDN,
		ConnectTimeout: 3 * time.Second,
		ReadTimeout:    30 * time.Second,
		Logger:         testLogger(t),
	}
}

func TestSambaFullRead(t *testing.T) {
	s := sharedSamba(t)
	cfg := sambaConfig(t, s)
	cfg.ReadPasswordExpiry = true
	src := newSource(t, cfg)
	snap := read(t, src, "staff", "parent", "CN=cyc-a,"+sambaOU["read"])
	if got, want := usernames(snap.Users), []string{"amy", "ben", "cid", "dan", "eve"}; !slices.Equal(got, want) {
		t.Fatalf("users = %v, want %v", got, want)
	}
	if !snap.Complete || snap.Cursor == "" {
		t.Fatalf("complete=%v cursor=%q", snap.Complete, snap.Cursor)
	}
	if !userByName(t, snap, "cid").Disabled {
		t.Error("cid (ACCOUNTDISABLE) not flagged")
	}
	amy := userByName(t, snap, "amy")
	if amy.Disabled || amy.UPN != "amy@example.test" || amy.Email != "amy@example.test" || !strings.HasPrefix(amy.SID, "S-1-5-21-") {
		t.Errorf("amy = %+v", amy)
	}
	if amy.Password.ChangedAt.IsZero() || time.Since(amy.Password.ChangedAt) > time.Hour || amy.Password.MustChange {
		t.Errorf("amy's password info = %+v", amy.Password)
	}
	if amy.Password.ExpiresAt.IsZero() {
		t.Errorf("msDS-UserPasswordExpiryTimeComputed not read: %+v", amy.Password)
	}
	if amy.ChangedAt.IsZero() {
		t.Error("whenChanged not read")
	}
	// The anchor is canonical GUID text: AD resolves <GUID=...> to amy.
	e, err := (&searcher{s: src, c: s.Admin(t)}).base(context.Background(), "<GUID="+amy.Anchor+">", []string{"sAMAccountName"})
	if err != nil || e == nil || e.GetAttributeValue("sAMAccountName") != "amy" {
		t.Fatalf("<GUID=%s> -> %v %v: byte order wrong?", amy.Anchor, e, err)
	}
	parent, cyc := groupByName(t, snap, "parent"), groupByName(t, snap, "cyc-a")
	if len(parent.Members) != 2 || len(parent.Nested) != 1 {
		t.Errorf("parent = %+v", parent)
	}
	if len(cyc.Members) != 1 || len(cyc.Nested) != 1 {
		t.Errorf("cyc-a = %+v", cyc)
	}
	if !slices.Equal(userByName(t, snap, "dan").Groups, []string{parent.Anchor}) {
		t.Errorf("dan's groups = %v", userByName(t, snap, "dan").Groups)
	}
	// Without the constructed attribute, expiry comes from the domain's
	// maxPwdAge (42 days by default).
	cheap := read(t, newSource(t, sambaConfig(t, s)), "staff")
	if a := userByName(t, cheap, "amy"); a.Password.ExpiresAt.Sub(a.Password.ChangedAt) != 42*24*time.Hour || !a.Password.ExpiresAt.Equal(amy.Password.ExpiresAt) {
		t.Errorf("expiry from maxPwdAge: %+v; computed by the DC: %v", a.Password, amy.Password.ExpiresAt)
	}
	// By objectGUID text too.
	if snap := read(t, src, parent.Anchor); len(snap.Users) != 2 {
		t.Errorf("by GUID: %v", usernames(snap.Users))
	}
}

func TestSambaRangesAndPaging(t *testing.T) {
	s := sharedSamba(t)
	for _, tc := range []struct{ rs, fewGroups int }{{0, 50}, {100, 50}, {7, 50}, {100, 0}, {7, 0}} {
		t.Run(fmt.Sprintf("range %d few %d", tc.rs, tc.fewGroups), func(t *testing.T) {
			cfg := sambaConfig(t, s)
			cfg.RangeSize = tc.rs
			cfg.PageSize = 50
			src := newSource(t, cfg)
			src.lookupMax = 0 // stream every user, paged
			src.fewGroups = tc.fewGroups
			snap := read(t, src, "big-group")
			if len(snap.Users) != bigGroupN || len(snap.Groups[0].Members) != bigGroupN {
				t.Fatalf("users = %d, members = %d, want %d", len(snap.Users), len(snap.Groups[0].Members), bigGroupN)
			}
			if snap.Stats.Pages < bigGroupN/50 {
				t.Fatalf("pages = %d: paging not used", snap.Stats.Pages)
			}
			gs, err := newSource(t, cfg).ListGroups(context.Background(), "big-")
			if err != nil || len(gs) != 1 || gs[0].MemberCount != bigGroupN {
				t.Fatalf("ListGroups = %+v, %v", gs, err)
			}
		})
	}
}

// Members looked up one by one (the default for small sets) give the same
// answer as the streamed pass.
func TestSambaLookupMatchesStream(t *testing.T) {
	s := sharedSamba(t)
	src := newSource(t, sambaConfig(t, s))
	looked := read(t, src, "big-group", "staff", "parent")
	src.lookupMax = 0
	streamed := read(t, src, "big-group", "staff", "parent")
	if !slices.Equal(usernames(looked.Users), usernames(streamed.Users)) || len(looked.Users) != bigGroupN+4 {
		t.Fatalf("lookup %d users, stream %d users", len(looked.Users), len(streamed.Users))
	}
	if looked.Stats.Entries >= streamed.Stats.Entries {
		t.Errorf("lookups read %d entries, the stream %d", looked.Stats.Entries, streamed.Stats.Entries)
	}
}

func TestSambaFilterEscaping(t *testing.T) {
	s := sharedSamba(t)
	src := newSource(t, sambaConfig(t, s))
	snap := read(t, src, "a*)(cn=*")
	if got := usernames(snap.Users); !slices.Equal(got, []string{"ben"}) {
		t.Fatalf("users = %v, want [ben]", got)
	}
	if _, err := src.Read(context.Background(), directory.ReadRequest{Groups: []string{"*"}}); err == nil {
		t.Fatal(`group "*" matched something`)
	}
}

func TestSambaFailover(t *testing.T) {
	s := sharedSamba(t)
	cfg := sambaConfig(t, s)
	cfg.URLs = []string{fmt.Sprintf("ldaps://127.0.0.1:%d", harness.FreePort(t)), s.LDAPSURL}
	if snap := read(t, newSource(t, cfg), "staff"); len(snap.Users) != 3 || snap.Stats.Server != s.LDAPSURL {
		t.Fatalf("users = %d via %s", len(snap.Users), snap.Stats.Server)
	}
	cfg = sambaConfig(t, s)
	cfg.BindPassword = "Wrong-Passw0rd"
	_, err := newSource(t, cfg).Read(context.Background(), directory.ReadRequest{Groups: []string{"staff"}})
	if !errors.Is(err, directory.ErrBindRefused) || !strings.Contains(err.Error(), "52e") {
		t.Fatalf("wrong bind password: err = %v", err)
	}
}

// cutProxy forwards TCP to target until cut, as a DC dying mid-read would.
type cutProxy struct {
	l     net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{l: l}
	t.Cleanup(p.cut)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); _ = u.Close() }()
			go func() { _, _ = io.Copy(c, u); _ = c.Close() }()
		}
	}()
	return p
}

func (p *cutProxy) cut() {
	_ = p.l.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
}

func TestSambaCutMidRead(t *testing.T) {
	s := sharedSamba(t)
	p := newCutProxy(t, "127.0.0.1:389")
	cfg := sambaConfig(t, s)
	cfg.URLs = []string{"ldap://" + p.l.Addr().String()}
	cfg.CAFile = ""
	cfg.PageSize = 20
	cfg.ProgressEvery = time.Nanosecond
	src := newSource(t, cfg)
	src.lookupMax = 0
	snap, err := src.Read(context.Background(), directory.ReadRequest{
		Groups: []string{"big-group"},
		Progress: func(pr directory.Progress) {
			if pr.Pages == 3 {
				p.cut()
			}
		},
	})
	if err == nil {
		t.Fatalf("read survived a cut connection: %d users, complete=%v", len(snap.Users), snap.Complete)
	}
	if !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("err = %v, want directory.ErrUnavailable", err)
	}
}

func TestSambaRenameAndIncremental(t *testing.T) {
	s := sharedSamba(t)
	ctx := context.Background()
	// The users are renamed, moved, changed and deleted: they are the
	// test's own, in OUs deleted when it ends.
	incr, movedOU := s.AddOU(t, "dirbridge-incr"), s.AddOU(t, "dirbridge-moved")
	inc1, moverDN := addSambaUser(t, s, incr, "inc1"), addSambaUser(t, s, incr, "mover")
	addSambaUser(t, s, incr, "inc2")
	s.AddGroup(t, incr, "incr-group", inc1, moverDN)
	src := newSource(t, sambaConfig(t, s))
	first := read(t, src, "incr-group")
	mover := userByName(t, first, "mover")

	// Nothing changed: an incremental read returns nothing, not Complete.
	none, err := src.Read(ctx, directory.ReadRequest{Groups: []string{"incr-group"}, Cursor: first.Cursor})
	if err != nil || none.Complete || len(none.Users) != 0 || len(none.Groups) != 0 {
		t.Fatalf("no-change incremental: %+v %v", none, err)
	}

	// Rename and move to another OU: same anchor.
	s.Rename(t, mover.DN, "CN=mover-renamed", movedOU)
	s.Replace(t, "CN=mover-renamed,"+movedOU, "sAMAccountName", "mover2")
	// Membership changed only on the group.
	s.AddMembers(t, "CN=incr-group,"+incr, "CN=inc2,"+incr)
	// A user disabled.
	s.Replace(t, "CN=inc1,"+incr, "userAccountControl", "514")

	inc, err := src.Read(ctx, directory.ReadRequest{Groups: []string{"incr-group"}, Cursor: first.Cursor})
	if err != nil {
		t.Fatal(err)
	}
	if inc.Complete {
		t.Fatal("incremental marked Complete")
	}
	g := groupByName(t, inc, "incr-group")
	inc2 := userByName(t, inc, "inc2")
	if !slices.Equal(inc2.Groups, []string{g.Anchor}) || len(g.Members) != 3 {
		t.Fatalf("inc2 = %v, group = %+v", inc2.Groups, g)
	}
	if !userByName(t, inc, "inc1").Disabled {
		t.Error("inc1 disabled but not flagged")
	}
	moved := userByName(t, inc, "mover2")
	if moved.Anchor != mover.Anchor || !strings.Contains(moved.DN, "OU=dirbridge-moved") {
		t.Fatalf("moved user: %+v (anchor was %s)", moved, mover.Anchor)
	}

	// A user-only change (no group change) is seen with its groups.
	s.Replace(t, "CN=inc2,"+incr, "mail", "inc2-new@example.test")
	inc3, err := src.Read(ctx, directory.ReadRequest{Groups: []string{"incr-group"}, Cursor: inc.Cursor})
	if err != nil {
		t.Fatal(err)
	}
	if got := userByName(t, inc3, "inc2"); got.Email != "inc2-new@example.test" || !slices.Equal(got.Groups, []string{g.Anchor}) || len(inc3.Groups) != 0 {
		t.Fatalf("user-only change: %+v, groups %+v", got, inc3.Groups)
	}

	// A deleted user is reported by anchor, flagged Deleted.
	inc2 = userByName(t, inc3, "inc2")
	if err := s.Admin(t).Del(goldap.NewDelRequest("CN=inc2,"+incr, nil)); err != nil {
		t.Fatal(err)
	}
	inc4, err := src.Read(ctx, directory.ReadRequest{Groups: []string{"incr-group"}, Cursor: inc3.Cursor})
	if err != nil {
		t.Fatal(err)
	}
	var gone *directory.User
	for i, u := range inc4.Users {
		if u.Anchor == inc2.Anchor {
			gone = &inc4.Users[i]
		}
	}
	if gone == nil || !gone.Deleted {
		t.Fatalf("deleted inc2 not reported: %+v", inc4.Users)
	}

	// A cursor from another DC forces a full read.
	other := `{"kind":"ad","dc":"00000000-0000-0000-0000-000000000000","usn":1}`
	full, err := src.Read(ctx, directory.ReadRequest{Groups: []string{"incr-group"}, Cursor: other})
	if err != nil || !full.Complete || len(full.Users) != 2 {
		t.Fatalf("other DC's cursor: complete=%v users=%v err=%v", full.Complete, usernames(full.Users), err)
	}
}

func TestSambaAuthenticate(t *testing.T) {
	s := sharedSamba(t)
	ctx := context.Background()
	// Passwords are changed and an account locked: the users are the
	// test's own, in an OU deleted when it ends.
	auth := s.AddOU(t, "dirbridge-auth")
	user := func(name string, opts ...func(*harness.SambaUser)) string {
		return addSambaUser(t, s, auth, name, opts...)
	}
	good, dis := user("good"), user("disabled", func(u *harness.SambaUser) { u.Disabled = true })
	must := user("mustchange", func(u *harness.SambaUser) { u.MustChange = true })
	exp, chg := user("expired"), user("changer")
	lapsed, locky := user("lapsed"), user("locky")
	// accountExpires in 2012 (FILETIME).
	s.Replace(t, lapsed, "accountExpires", "130000000000000000")
	s.AddGroup(t, auth, "auth-group", good, dis, must, exp, chg, lapsed, locky)
	// Older than the domain's maximum password age (42 days by default).
	s.SetPasswordAged(t, "expired", adPassword, 100*24*time.Hour)

	src := newSource(t, sambaConfig(t, s))
	u, err := src.Authenticate(ctx, directory.Account{Login: "good"}, adPassword)
	if err != nil || u.Username != "good" {
		t.Fatalf("good: %+v %v", u, err)
	}
	if _, err := src.Authenticate(ctx, directory.Account{Login: "good@example.test"}, adPassword); err != nil {
		t.Fatalf("by UPN: %v", err)
	}
	cases := []struct {
		user, pw string
		want     error
	}{
		{"good", "Wrong-Passw0rd", directory.ErrInvalidCredentials},
		{"nobody", adPassword, directory.ErrInvalidCredentials},
		{"disabled", adPassword, directory.ErrAccountDisabled},
		{"mustchange", adPassword, directory.ErrMustChangePassword},
		{"expired", adPassword, directory.ErrPasswordExpired},
		{"lapsed", adPassword, directory.ErrAccountExpired},
	}
	for _, tc := range cases {
		_, err := src.Authenticate(ctx, directory.Account{Login: tc.user}, tc.pw)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.user, err, tc.want)
		}
		if !errors.Is(tc.want, directory.ErrInvalidCredentials) && errors.Is(err, directory.ErrInvalidCredentials) {
			t.Errorf("%s: a refusal reported as a wrong password", tc.user)
		}
	}

	// Three wrong passwords lock the account (threshold 3); then even the
	// right one is refused as locked, not as a wrong password.
	for range 3 {
		_, _ = src.Authenticate(ctx, directory.Account{Login: "locky"}, "Wrong-Passw0rd")
	}
	if _, err := src.Authenticate(ctx, directory.Account{Login: "locky"}, adPassword); !errors.Is(err, directory.ErrAccountLocked) {
		t.Errorf("locked: err = %v, want directory.ErrAccountLocked", err)
	}
	// The sync sees the account's expiry.
	snap := read(t, src, "auth-group")
	if got := userByName(t, snap, "lapsed").AccountExpiresAt; got.Year() != 2012 {
		t.Errorf("lapsed's accountExpires read as %v", got)
	}
	if !userByName(t, snap, "mustchange").Password.MustChange {
		t.Error("mustchange (pwdLastSet=0) not flagged")
	}

	// Password changes: wrong old, weak new, then a good one and a bind.
	if err := src.ChangePassword(ctx, directory.Account{Login: "changer"}, "Wrong-Passw0rd", "Better-Passw0rd2"); !errors.Is(err, directory.ErrInvalidCredentials) {
		t.Errorf("wrong old password: %v", err)
	}
	if err := src.ChangePassword(ctx, directory.Account{Login: "changer"}, adPassword, "short"); !errors.Is(err, directory.ErrPasswordPolicy) {
		t.Errorf("weak new password: %v", err)
	} else {
		t.Logf("weak password message: %v", err)
	}
	if err := src.ChangePassword(ctx, directory.Account{Login: "changer"}, adPassword, "Better-Passw0rd2"); err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}
	if _, err := src.Authenticate(ctx, directory.Account{Login: "changer"}, "Better-Passw0rd2"); err != nil {
		t.Fatalf("bind with the new password: %v", err)
	}
	// A user who must change can change (the service account's connection
	// carries the change; AD checks the old password itself).
	if err := src.ChangePassword(ctx, directory.Account{Login: "mustchange"}, adPassword, "Changed-Passw0rd3"); err != nil {
		t.Fatalf("must-change user's change: %v", err)
	}
	if _, err := src.Authenticate(ctx, directory.Account{Login: "mustchange"}, "Changed-Passw0rd3"); err != nil {
		t.Fatalf("after change: %v", err)
	}
	// Administrator reset.
	if err := src.SetPassword(ctx, directory.Account{Login: "expired"}, "Reset-Passw0rd4"); err != nil {
		t.Fatalf("SetPassword: %v", err)
	}
	if _, err := src.Authenticate(ctx, directory.Account{Login: "expired"}, "Reset-Passw0rd4"); err != nil {
		t.Fatalf("after reset: %v", err)
	}
	// An unreachable directory is an outage.
	cfg := sambaConfig(t, s)
	cfg.URLs = []string{fmt.Sprintf("ldaps://127.0.0.1:%d", harness.FreePort(t))}
	if _, err := newSource(t, cfg).Authenticate(ctx, directory.Account{Login: "good"}, adPassword); !errors.Is(err, directory.ErrUnavailable) || errors.Is(err, directory.ErrInvalidCredentials) {
		t.Fatalf("outage: %v", err)
	}
}

// TestSambaSmartcardNeverExpires reads an account with SMARTCARD_REQUIRED
// as never expiring, as the DC itself computes it: both with the
// constructed msDS-UserPasswordExpiryTimeComputed and without it, where
// expiry comes from the domain's maxPwdAge and the flag alone must say
// never. A plain account beside it still expires after maxPwdAge.
func TestSambaSmartcardNeverExpires(t *testing.T) {
	s := sharedSamba(t)
	ou := s.AddOU(t, "dirbridge-smartcard")
	card, plain := addSambaUser(t, s, ou, "sc-card"), addSambaUser(t, s, ou, "sc-plain")
	s.Replace(t, card, "userAccountControl", strconv.Itoa(0x200|pwdexpiry.UACSmartcardRequired))
	s.AddGroup(t, ou, "sc-users", card, plain)

	// The DC's own verdict, read as the admin.
	e, err := (&searcher{s: newSource(t, sambaConfig(t, s)), c: s.Admin(t)}).base(context.Background(), card,
		[]string{"userAccountControl", "msDS-UserPasswordExpiryTimeComputed"})
	if err != nil || e == nil {
		t.Fatalf("read %s: %v %v", card, e, err)
	}
	if got := e.GetAttributeValue("msDS-UserPasswordExpiryTimeComputed"); got != strconv.FormatInt(pwdexpiry.FileTimeNever, 10) {
		t.Fatalf("DC computes %s for a smart-card account (uac %s), want never", got, e.GetAttributeValue("userAccountControl"))
	}

	for _, computed := range []bool{false, true} {
		t.Run(fmt.Sprintf("ReadPasswordExpiry=%v", computed), func(t *testing.T) {
			cfg := sambaConfig(t, s)
			cfg.ReadPasswordExpiry = computed
			snap := read(t, newSource(t, cfg), "sc-users")
			c := userByName(t, snap, "sc-card")
			if !c.Password.NeverExpires || !c.Password.ExpiresAt.IsZero() || c.Password.MustChange {
				t.Errorf("sc-card (SMARTCARD_REQUIRED): password %+v, want never expires", c.Password)
			}
			p := userByName(t, snap, "sc-plain")
			if p.Password.NeverExpires || p.Password.ExpiresAt.Sub(p.Password.ChangedAt) != 42*24*time.Hour {
				t.Errorf("sc-plain: password %+v, want expiry 42 days after the change", p.Password)
			}
		})
	}
}
