package ldapdn

import (
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"
)

// sameDNs are groups of spellings of one DN; no two groups name the same
// entry.
var sameDNs = [][]string{
	{ // case, spaces around separators, ';' as separator
		"CN=Agents,OU=Groups,DC=corp,DC=example,DC=com",
		"cn=agents,ou=groups,dc=corp,dc=example,dc=com",
		"cn = Agents , ou=Groups;DC=Corp, DC=Example,DC=COM",
	},
	{ // an escaped comma, as a tool writes it and as slapd returns it
		`CN=Sales\, EMEA,OU=Groups,DC=corp,DC=example,DC=com`,
		`cn=Sales\2C EMEA,ou=Groups,dc=corp,dc=example,dc=com`,
		`cn=sales\2c emea,ou=groups,dc=corp,dc=example,dc=com`,
	},
	{ // hex escapes of UTF-8, either hex case, and the raw runes
		"cn=Zoë Ünal,dc=example",
		`cn=Zo\c3\ab \c3\9cnal,dc=example`,
		`CN=ZO\C3\8B \C3\BCNAL,DC=EXAMPLE`,
	},
	{ // multi-valued RDNs: attributes in any order, either case
		"cn=Ann+uid=ann01,dc=example",
		"UID=ANN01+CN=ann,dc=example",
		"uid=ann01 + cn=Ann,DC=Example",
	},
	{ // an escaped leading space and '#' belong to the value
		`cn=\ lead,dc=x`,
		`cn=\20lead,dc=x`,
	},
	{ // a trailing escaped space stays; unescaped spaces go
		`cn=trail\ ,dc=x`,
		`cn=trail\20 ,dc=x`,
	},
	{`cn=\#1,dc=x`, `cn=\231,dc=x`},
	{ // the value as hex of its BER encoding (RFC 4514 2.4)
		"cn=Hi,dc=x",
		"cn=#04024869,dc=x",
	},
	{ // Unicode case folding as strings.EqualFold does it: Kelvin sign
		"cn=\u212aey,dc=x",
		"cn=key,dc=x",
	},
	{"cn=trail,dc=x"},
	{"cn=lead,dc=x"},
	{ // not the same as the escaped comma above: two RDNs
		"CN=Sales,CN=EMEA,OU=Groups,DC=corp,DC=example,DC=com",
	},
	{"cn=Ann,uid=ann01,dc=example"}, // two RDNs, not one with two values
	{"cn=Ann+uid=ann02,dc=example"},
	{`cn=a\+b,dc=x`, `cn=a\2Bb,dc=x`},
	{`cn=a\=b,dc=x`, `cn=a=b,dc=x`, `cn=a\3Db,dc=x`}, // '=' needs no escape in a value
	{""},
}

func TestKeyFollowsEqualFold(t *testing.T) {
	type dn struct {
		group int
		text  string
		key   string
		ldap  *goldap.DN
	}
	var all []dn
	for g, texts := range sameDNs {
		for _, s := range texts {
			k, err := Key(s)
			if err != nil {
				t.Fatalf("Key(%q): %v", s, err)
			}
			p, err := goldap.ParseDN(s)
			if err != nil {
				t.Fatalf("go-ldap ParseDN(%q): %v", s, err)
			}
			all = append(all, dn{g, s, k, p})
		}
	}
	for _, a := range all {
		for _, b := range all {
			same := a.group == b.group
			if got := a.key == b.key; got != same {
				t.Errorf("Key(%q) = %q, Key(%q) = %q: equal %v, want %v", a.text, a.key, b.text, b.key, got, same)
			}
			if got := EqualFold(a.text, b.text); got != same {
				t.Errorf("EqualFold(%q, %q) = %v, want %v", a.text, b.text, got, same)
			}
			// The table is about go-ldap's semantics, not ours.
			if got := a.ldap.EqualFold(b.ldap); got != same {
				t.Errorf("go-ldap: %q EqualFold %q = %v, want %v", a.text, b.text, got, same)
			}
		}
	}
}

// TestKeyIsADN: a key parses to the DN it keys (the reader sends keys to
// the server), with the characters servers may refuse raw escaped.
func TestKeyIsADN(t *testing.T) {
	for _, g := range sameDNs {
		for _, s := range g {
			k, _ := Key(s)
			p, err := goldap.ParseDN(k)
			if err != nil {
				t.Errorf("Key(%q) = %q: not a DN: %v", s, k, err)
				continue
			}
			if orig, _ := goldap.ParseDN(s); !p.EqualFold(orig) {
				t.Errorf("Key(%q) = %q names another entry", s, k)
			}
		}
	}
	if k, _ := Key(`CN=a*)(cn\=*,OU=x`); k != `cn=a*)(cn\3d*,ou=x` {
		t.Errorf("an '=' in a value: key %q", k)
	}
}

func TestKeyRefusesWhatIsNoDN(t *testing.T) {
	for _, s := range []string{"nonsense", "CN=A,,DC=x", `CN=A\`, `cn=a\zz,dc=x`, `cn="quoted",dc=x`, "cn=a;", "cn=#0402", "=x,cn"} {
		if k, err := Key(s); err == nil {
			t.Errorf("Key(%q) = %q, want an error", s, k)
		}
		if EqualFold(s, s) {
			t.Errorf("EqualFold(%q, itself): text that is no DN equals nothing", s)
		}
	}
}

// TestPlainKeyIsPlain: the fast path takes exactly the plain DNs.
func TestPlainKeyIsPlain(t *testing.T) {
	for _, s := range []string{
		"cn=Sales,ou=Groups,dc=example,dc=org", "uid=jdoe", "2.5.4.3=x,dc=y", "cn=Zoë,dc=example", "",
		"Sales", "cn=", "=x", "cn=a,", ",cn=a", "cn=a,,dc=b", "cn=a, dc=b", "cn =a", "cn= a", "cn=a ",
		`cn=a\,b,dc=x`, `cn="q",dc=x`, "cn=a+sn=b,dc=x", "cn=#04024869", "cn=a=b", "a*)(cn=*", "1cn=x",
		"c_n=x", "cn=a\x00b", "-cn=x", "c-n=x", "2.5.4.3.=x", "2.5-4=x", "cn=a\x7f", "cn=a~b",
	} {
		_, fast := plainKey(s)
		if want := Plain(s); fast != want {
			t.Errorf("plainKey(%q) takes it: %v, want %v", s, fast, want)
		}
	}
}

// TestKeyFastPath: a plain DN's key is the parser's key, made without it.
func TestKeyFastPath(t *testing.T) {
	for _, s := range []string{
		"CN=Agent 00042,OU=Users,OU=Contact Centre,DC=corp,DC=example,DC=com",
		"uid=jdoe,ou=people,dc=example,dc=test",
		"2.5.4.3=X,dc=y",
		"cn=a*b(c)!~,dc=x",
		"CN=Zoë Ünal,OU=Straße,DC=example",
		"cn=\u212aelvin,dc=x",
	} {
		if !Plain(s) {
			t.Fatalf("%q is not plain", s)
		}
		slow, err := parsedKey(s)
		if err != nil {
			t.Fatal(err)
		}
		if fast, _ := Key(s); fast != slow {
			t.Errorf("Key(%q) = %q, parser's key %q", s, fast, slow)
		}
		if n := testing.AllocsPerRun(100, func() { _, _ = Key(strings.ToLower(s)) }); n > 1 && !strings.ContainsFunc(s, func(r rune) bool { return r > 0x7e }) {
			t.Errorf("Key(%q): %v allocations, want at most the lowering's one", s, n)
		}
	}
}

// FuzzKey: whenever the fast path answers, the parser agrees; a key is a
// DN of the same entry; and two keys are equal exactly when go-ldap's
// EqualFold holds.
func FuzzKey(f *testing.F) {
	for _, g := range sameDNs {
		for _, s := range g {
			f.Add(s, g[0])
		}
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ka, err := Key(a)
		if err != nil {
			return
		}
		if slow, err := parsedKey(a); err != nil || ka != slow {
			t.Fatalf("Key(%q) = %q, parser's key %q (%v)", a, ka, slow, err)
		}
		pa, _ := goldap.ParseDN(a)
		if pk, err := goldap.ParseDN(ka); err != nil || !pk.EqualFold(pa) {
			t.Fatalf("Key(%q) = %q: not a DN of the same entry (%v)", a, ka, err)
		}
		kb, err := Key(b)
		if err != nil {
			return
		}
		pb, _ := goldap.ParseDN(b)
		if same := pa.EqualFold(pb); (ka == kb) != same {
			t.Errorf("Key(%q) = %q, Key(%q) = %q; go-ldap EqualFold %v", a, ka, b, kb, same)
		}
	})
}

var benchPlain = []string{
	"CN=Agent 00042,OU=Users,OU=Contact Centre,DC=corp,DC=example,DC=com",
	"cn=user042,ou=people,dc=example,dc=test",
}

const benchEscaped = `CN=Sales\2C EMEA,OU=Groups,DC=corp,DC=example,DC=com`

// BenchmarkKeyPlain is the sync's hot path: every member DN a read sees is
// keyed. One DN of the two is lower case already.
func BenchmarkKeyPlain(b *testing.B) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_, _ = Key(benchPlain[i&1])
	}
}

func BenchmarkKeyEscaped(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _ = Key(benchEscaped)
	}
}
