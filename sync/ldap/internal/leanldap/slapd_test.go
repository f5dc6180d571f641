package leanldap

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/dirbridge/dirbridge/internal/harness"
)

// testUsers is enough entries for several pages and for one group whose
// member list is larger than the first read chunk (64 KB).
const testUsers = 2500

// startSlapd starts slapd with testUsers users (UTF-8 names, several
// values, binary photos) and one group of all of them.
func startSlapd(t *testing.T) *harness.Slapd {
	t.Helper()
	var b strings.Builder
	b.WriteString("dn: ou=people,dc=example,dc=org\nobjectClass: organizationalUnit\nou: people\n\n")
	photo := base64.StdEncoding.EncodeToString([]byte("\x00\xff\xd8\xff binary \x80\x81"))
	var members strings.Builder
	for i := range testUsers {
		dn := fmt.Sprintf("uid=user%05d,ou=people,dc=example,dc=org", i)
		fmt.Fprintf(&b, "dn: %s\nobjectClass: inetOrgPerson\nuid: user%05d\nsn: Müller-%d\ncn: Jürgen Ñoño %d\n", dn, i, i, i)
		fmt.Fprintf(&b, "mail: u%d@example.org\nmail: alias%d@example.org\n", i, i)
		if i%7 == 0 {
			fmt.Fprintf(&b, "jpegPhoto:: %s\n", photo)
		}
		b.WriteString("\n")
		fmt.Fprintf(&members, "member: %s\n", dn)
	}
	b.WriteString("dn: ou=groups,dc=example,dc=org\nobjectClass: organizationalUnit\nou: groups\n\n")
	b.WriteString("dn: cn=everyone,ou=groups,dc=example,dc=org\nobjectClass: groupOfNames\ncn: everyone\n" + members.String() + "\n")
	return harness.StartSlapd(t, harness.SlapdOptions{LDIF: b.String()})
}

func dialLean(t *testing.T, s *harness.Slapd, timeout time.Duration) *Conn {
	t.Helper()
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	c := New(nc, timeout)
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Bind(s.ReaderDN, s.ReaderPassword); err != nil {
		t.Fatal(err)
	}
	return c
}

// pagedLean reads every entry of a paged search on c.
func pagedLean(t *testing.T, c *Conn, base, filter string, attrs []string, size uint32) (entries []*goldap.Entry, pages int) {
	t.Helper()
	var cookie []byte
	for {
		paging := goldap.NewControlPaging(size)
		paging.SetCookie(cookie)
		req := goldap.NewSearchRequest(base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false, filter, attrs, []goldap.Control{paging})
		resp := c.SearchAsync(context.Background(), req, 0)
		cookie = nil
		for resp.Next() {
			if e := resp.Entry(); e != nil {
				entries = append(entries, e)
			} else if p, ok := goldap.FindControl(resp.Controls(), goldap.ControlTypePaging).(*goldap.ControlPaging); ok {
				cookie = p.Cookie
			}
		}
		if err := resp.Err(); err != nil {
			t.Fatalf("lean search, page %d: %v", pages+1, err)
		}
		pages++
		if len(cookie) == 0 {
			return entries, pages
		}
	}
}

// TestSameAsGoLDAP decodes the same slapd answers with this client and
// with go-ldap and compares them entry by entry: DN, attribute names in
// order, every value as bytes and as string (UTF-8, binary, operational
// attributes, a group of testUsers members in one message), and the
// paging (same pages, a cookie until the last).
func TestSameAsGoLDAP(t *testing.T) {
	s := startSlapd(t)
	c := dialLean(t, s, 30*time.Second)
	gc, err := goldap.DialURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	if err := gc.Bind(s.ReaderDN, s.ReaderPassword); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		filter string
		attrs  []string
	}{
		{"(objectClass=*)", []string{"*", "+"}},
		{"(|(objectClass=inetOrgPerson)(objectClass=groupOfNames))", []string{"uid", "cn", "jpegPhoto", "member", "entryUUID", "modifyTimestamp"}},
		{"(uid=nobody)", nil},
	} {
		const size = 1000
		got, pages := pagedLean(t, c, s.BaseDN, tc.filter, tc.attrs, size)
		res, err := gc.SearchWithPaging(goldap.NewSearchRequest(s.BaseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
			tc.filter, tc.attrs, nil), size)
		if err != nil {
			t.Fatal(err)
		}
		want := res.Entries
		if len(got) != len(want) {
			t.Fatalf("%s: %d entries, go-ldap %d", tc.filter, len(got), len(want))
		}
		if wantPages := max(1, (len(want)+size-1)/size); pages != wantPages {
			t.Errorf("%s: %d pages, want %d", tc.filter, pages, wantPages)
		}
		for i := range want {
			if err := sameEntry(got[i], want[i]); err != nil {
				t.Fatalf("%s: entry %d: %v", tc.filter, i, err)
			}
		}
		t.Logf("%s: %d entries in %d pages alike", tc.filter, len(got), pages)
	}
	if len(c.buf) != 0 || cap(c.buf) < 64<<10 {
		t.Errorf("the group of %d members did not cross the first read chunk (buffer %d)", testUsers, cap(c.buf))
	}
}

func sameEntry(got, want *goldap.Entry) error {
	if got.DN != want.DN {
		return fmt.Errorf("DN %q, go-ldap %q", got.DN, want.DN)
	}
	if len(got.Attributes) != len(want.Attributes) {
		return fmt.Errorf("%s: %d attributes, go-ldap %d", got.DN, len(got.Attributes), len(want.Attributes))
	}
	for j, wa := range want.Attributes {
		ga := got.Attributes[j]
		if ga.Name != wa.Name || len(ga.Values) != len(wa.Values) || len(ga.ByteValues) != len(wa.ByteValues) {
			return fmt.Errorf("%s: attribute %d: %q with %d values, go-ldap %q with %d", got.DN, j, ga.Name, len(ga.Values), wa.Name, len(wa.Values))
		}
		for k := range wa.Values {
			if ga.Values[k] != wa.Values[k] || !bytes.Equal(ga.ByteValues[k], wa.ByteValues[k]) {
				return fmt.Errorf("%s: %s value %d: %q, go-ldap %q", got.DN, wa.Name, k, ga.Values[k], wa.Values[k])
			}
		}
	}
	return nil
}

// TestAbandonOnCancel cancels a search after its first entry and checks
// that slapd was told to abandon it (its log names the message), and that
// the connection is still usable: the late answers to the abandoned search
// are skipped and the next search reads its own. Then a search in flight
// when the connection is closed (a cancelled read) is abandoned too.
func TestAbandonOnCancel(t *testing.T) {
	s := startSlapd(t)
	c := dialLean(t, s, 30*time.Second)
	everything := func() *goldap.SearchRequest {
		return goldap.NewSearchRequest(s.BaseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", []string{"*"}, nil)
	}

	ctx, cancel := context.WithCancel(context.Background())
	resp := c.SearchAsync(ctx, everything(), 0)
	abandoned := resp.(*response).id
	if !resp.Next() || resp.Entry() == nil {
		t.Fatalf("first entry: %v", resp.Err())
	}
	cancel()
	if resp.Next() {
		t.Fatal("Next went on after the context ended")
	}
	if !errors.Is(resp.Err(), context.Canceled) {
		t.Fatalf("Err = %v, want context.Canceled", resp.Err())
	}
	waitLog(t, s, abandoned)

	got, _ := pagedLean(t, c, "ou=groups,"+s.BaseDN, "(cn=everyone)", []string{"cn"}, 10)
	if len(got) != 1 || got[0].DN != "cn=everyone,ou=groups,"+s.BaseDN {
		t.Fatalf("search after the abandoned one = %v", got)
	}
	if c.IsClosing() {
		t.Fatal("the connection closed")
	}

	resp = c.SearchAsync(context.Background(), everything(), 0)
	if !resp.Next() {
		t.Fatalf("first entry: %v", resp.Err())
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// Close sends the Abandon too, but closing a socket with unread data
	// sends a reset, and the server may drop the Abandon with it: there it
	// is a courtesy, not something to wait for.
	for resp.Next() {
	}
	if resp.Err() == nil {
		t.Fatal("a search on a closed connection ended without an error")
	}
}

// waitLog waits for slapd's log (level stats) to show an Abandon of
// message id.
func waitLog(t *testing.T, s *harness.Slapd, id int64) {
	t.Helper()
	re := regexp.MustCompile(fmt.Sprintf(`ABANDON msg=%d\b`, id))
	// Generous: on a loaded machine slapd's log lags; the wait ends as
	// soon as the line is there.
	deadline := time.Now().Add(15 * time.Second)
	for {
		log, err := os.ReadFile(filepath.Join(s.Dir, "slapd.log"))
		if err != nil {
			t.Fatal(err)
		}
		if re.Match(log) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("slapd logged no ABANDON of message %d", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
