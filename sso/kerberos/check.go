package kerberos

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/keytab"
)

// KeytabEntry is one principal of a keytab with its key versions and
// encryption types.
type KeytabEntry struct {
	Principal string   `json:"principal"` // HTTP/sso.example.com@CORP.EXAMPLE.COM
	KVNOs     []uint32 `json:"kvnos"`
	EncTypes  []string `json:"enctypes"`
}

// CheckReport is what `dirbridge kerberos check` says about a keytab.
type CheckReport struct {
	Entries          []KeytabEntry `json:"entries"`
	ServicePrincipal string        `json:"service_principal"`
	// InKeytab: the keytab holds a key for the service principal.
	InKeytab bool `json:"in_keytab"`
	// PublicHost is server.public_url's host; HostMatches says the SPN
	// names it (a browser asks its KDC for HTTP/<the host it sees>).
	PublicHost  string `json:"public_host"`
	HostMatches bool   `json:"host_matches"`
	// Problems make the check fail; Notes do not.
	Problems []string `json:"problems,omitempty"`
	Notes    []string `json:"notes,omitempty"`
}

// OK reports whether the keytab can serve the configured principal.
func (r CheckReport) OK() bool { return len(r.Problems) == 0 }

// weak enctypes: AD still issues RC4 tickets where AES is not enabled on
// the service account, and DES is long disabled.
var weak = map[int32]bool{
	etypeID.DES_CBC_CRC: true, etypeID.DES_CBC_MD4: true, etypeID.DES_CBC_MD5: true, etypeID.DES_CBC_RAW: true,
	etypeID.RC4_HMAC: true, etypeID.RC4_HMAC_EXP: true,
}

// encTypeNames are the names klist and MIT krb5 print.
var encTypeNames = map[int32]string{
	etypeID.DES_CBC_CRC: "des-cbc-crc", etypeID.DES_CBC_MD5: "des-cbc-md5", etypeID.DES3_CBC_SHA1_KD: "des3-cbc-sha1",
	etypeID.AES128_CTS_HMAC_SHA1_96: "aes128-cts-hmac-sha1-96", etypeID.AES256_CTS_HMAC_SHA1_96: "aes256-cts-hmac-sha1-96",
	etypeID.AES128_CTS_HMAC_SHA256_128: "aes128-cts-hmac-sha256-128", etypeID.AES256_CTS_HMAC_SHA384_192: "aes256-cts-hmac-sha384-192",
	etypeID.RC4_HMAC: "rc4-hmac", etypeID.RC4_HMAC_EXP: "rc4-hmac-exp",
}

// EncTypeName is an encryption type's name, or its number.
func EncTypeName(e int32) string {
	if n, ok := encTypeNames[e]; ok {
		return n
	}
	return fmt.Sprintf("enctype %d", e)
}

// Check describes kt and compares it with the service principal and the
// public URL. It does no network I/O.
func Check(kt *keytab.Keytab, servicePrincipal, publicURL string) CheckReport {
	r := CheckReport{ServicePrincipal: servicePrincipal}
	byPrincipal := map[string]*KeytabEntry{}
	var weakSeen []string
	for _, e := range kt.Entries {
		p := e.Principal.String()
		ke := byPrincipal[p]
		if ke == nil {
			ke = &KeytabEntry{Principal: p}
			byPrincipal[p] = ke
		}
		kvno := e.KVNO
		if kvno == 0 {
			kvno = uint32(e.KVNO8)
		}
		if !slices.Contains(ke.KVNOs, kvno) {
			ke.KVNOs = append(ke.KVNOs, kvno)
		}
		name := EncTypeName(e.Key.KeyType)
		if !slices.Contains(ke.EncTypes, name) {
			ke.EncTypes = append(ke.EncTypes, name)
		}
		if weak[e.Key.KeyType] && !slices.Contains(weakSeen, name) {
			weakSeen = append(weakSeen, name)
		}
	}
	for _, ke := range byPrincipal {
		slices.Sort(ke.KVNOs)
		r.Entries = append(r.Entries, *ke)
	}
	slices.SortFunc(r.Entries, func(a, b KeytabEntry) int { return strings.Compare(a.Principal, b.Principal) })
	if len(r.Entries) == 0 {
		r.Problems = append(r.Problems, "the keytab holds no keys")
	}

	spn, realm, err := ParseServicePrincipal(servicePrincipal)
	if err != nil {
		r.Problems = append(r.Problems, err.Error())
		return r
	}
	want := spn.PrincipalNameString() + "@" + realm
	for _, e := range r.Entries {
		if strings.EqualFold(e.Principal, want) {
			r.InKeytab = true
		}
	}
	if !r.InKeytab {
		r.Problems = append(r.Problems, fmt.Sprintf("the keytab holds no key for %s: export it for that principal (ktpass -princ, samba-tool domain exportkeytab --principal)", want))
	}
	if u, err := url.Parse(publicURL); err == nil && u.Hostname() != "" {
		r.PublicHost = u.Hostname()
		host := spn.NameString[len(spn.NameString)-1]
		r.HostMatches = strings.EqualFold(host, r.PublicHost)
		if !r.HostMatches {
			r.Problems = append(r.Problems, fmt.Sprintf("the SPN names host %s but server.public_url is on %s: browsers ask their KDC for HTTP/%s", host, r.PublicHost, r.PublicHost))
		}
	} else {
		r.Notes = append(r.Notes, "server.public_url is not set: cannot compare its host with the SPN")
	}
	if !strings.EqualFold(spn.NameString[0], "HTTP") {
		r.Notes = append(r.Notes, fmt.Sprintf("browsers ask for HTTP/<host>, not %s/<host>", spn.NameString[0]))
	}
	if len(weakSeen) > 0 {
		r.Notes = append(r.Notes, "weak encryption types in the keytab: "+strings.Join(weakSeen, ", ")+
			" (enable AES on the service account: msDS-SupportedEncryptionTypes, ktpass -crypto AES256-SHA1)")
	}
	return r
}
