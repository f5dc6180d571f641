package config

import (
	"bufio"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// populated has one element in every list and both IdPs, so that every
// documented path resolves to a defaulted value.
const populated = `
server: {public_url: "https://sso.example.com"}
privileges: [{name: p}]
profiles: [{name: P}]
directories: [{name: corp, kind: ad, urls: ["ldaps://x"], base_dn: "DC=x", groups: [G]}]
mapping: {rules: [{group: G, profile: P}], user_templates: [{name: t}]}
sso: {saml: {idp_metadata_file: x}, oidc: {issuer: "https://i.example.com", client_id: c, client_secret: s}}
policy: {ip_rules: [{name: r, addresses: [10.0.0.1]}]}
provisioning: [{name: entra}]
`

// TestDocumentedDefaults compares every default in docs/configuration.md
// that is a single literal with what ApplyDefaults really sets.
func TestDocumentedDefaults(t *testing.T) {
	c := mustParse(t, populated)
	f, err := os.Open(referenceDoc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	row := regexp.MustCompile("^\\| `([a-z_.\\[\\]]+)` \\| [^|]* \\| `([^`]*)` \\|")
	checked := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := row.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		path, want := m[1], m[2]
		v, ok := lookupPath(reflect.ValueOf(c).Elem(), path)
		if !ok {
			t.Errorf("%s: documented but not a config path", path)
			continue
		}
		if want == "{}" || c.set(strings.ReplaceAll(path, "[]", "[0]")) {
			continue // a map literal, or a value the fixture sets
		}
		want = strings.ReplaceAll(want, "<public_url>", c.Server.PublicURL)
		// A default naming another key ("base_dn", "server.tls.client_ca_file")
		// means that key's value.
		if ref, ok := lookupPath(reflect.ValueOf(c).Elem(), want); ok {
			want = render(ref)
		} else if i := strings.LastIndex(path, "."); i > 0 {
			if parent, ok := lookupPath(reflect.ValueOf(c).Elem(), path[:i]); ok {
				if ref, ok := lookupPath(parent, want); ok {
					want = render(ref)
				}
			}
		}
		got := render(v)
		if want == `""` {
			want = ""
		}
		if v.Type() == durationType {
			d, err := time.ParseDuration(want)
			if err != nil || time.Duration(v.Int()) != d {
				t.Errorf("%s: documented default %q, real %s", path, want, got)
			}
		} else if got != strings.ReplaceAll(want, ",", "") {
			t.Errorf("%s: documented default %q, real %q", path, want, got)
		}
		checked++
	}
	if checked < 60 {
		t.Errorf("only %d defaults checked; is the table format still matched?", checked)
	}
}

func render(v reflect.Value) string {
	if v.Type() == secretType {
		return v.Interface().(Secret).Value()
	}
	return fmt.Sprint(v.Interface())
}

// lookupPath walks "a.b[].c", taking element 0 of lists.
func lookupPath(v reflect.Value, path string) (reflect.Value, bool) {
	for _, seg := range strings.Split(path, ".") {
		list := strings.HasSuffix(seg, "[]")
		seg = strings.TrimSuffix(seg, "[]")
		for v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return v, false
			}
			v = v.Elem()
		}
		idx, ok := structFields(v.Type())[seg]
		if !ok {
			return v, false
		}
		v = v.Field(idx)
		if list {
			if v.Len() == 0 {
				return v, false
			}
			v = v.Index(0)
		}
	}
	return v, true
}
