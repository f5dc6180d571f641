package scim

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	filter "github.com/scim2/filter-parser/v2"
)

// filterDoc is a user as a client would have stored it.
const filterDoc = `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
  "id": "2819c223-7f76-453a-919d-413861904646",
  "externalId": "Ext-A1",
  "userName": "Bjensen@Example.com",
  "name": {"familyName": "Jensen", "givenName": "Barbara"},
  "title": "",
  "active": true,
  "loginCount": 7,
  "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}, {"value": "babs@jensen.org", "type": "home"}],
  "meta": {"lastModified": "2026-05-13T04:42:34Z"},
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984", "department": "Tour Operations"}
}`

// TestFilter pins RFC 7644 section 3.4.2.2 filtering as the list
// endpoints apply it: operators, logic, attribute paths, value paths, case.
func TestFilter(t *testing.T) {
	var doc object
	if err := json.Unmarshal([]byte(filterDoc), &doc); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		filter string
		want   bool
	}{
		{`userName eq "bjensen@example.com"`, true}, // caseExact false: value without case
		{`USERNAME Eq "BJENSEN@EXAMPLE.COM"`, true}, // attribute names and operators without case
		{`userName eq "bjensen"`, false},
		{`userName ne "someone"`, true},
		{`userName co "jensen@"`, true},
		{`userName sw "bjen"`, true},
		{`userName ew ".com"`, true},
		{`userName sw "jensen"`, false},
		{`externalId eq "Ext-A1"`, true},
		{`externalId eq "ext-a1"`, false}, // externalId is case-exact
		{`id eq "2819c223-7f76-453a-919d-413861904646"`, true},
		{`id eq "2819C223-7F76-453A-919D-413861904646"`, false},
		{`name.familyName eq "jensen"`, true},
		{`name.givenName pr`, true},
		{`title pr`, false},                         // empty string is not present
		{`nickName pr`, false},                      // absent
		{`nickName ne "x"`, true},                   // absent is not equal
		{`emails.value eq "babs@jensen.org"`, true}, // any value of a multi-valued attribute
		{`emails[type eq "work" and value co "@example.com"]`, true},
		{`emails[type eq "home" and value co "@example.com"]`, false},
		{`emails[primary eq true]`, true},
		{`active eq true`, true},
		{`active eq false`, false},
		{`loginCount gt 5`, true},
		{`loginCount le 6`, false},
		{`meta.lastModified gt "2026-01-01T00:00:00Z"`, true},
		{`meta.lastModified lt "2026-01-01T00:00:00Z"`, false},
		{`userName eq "x" or externalId eq "Ext-A1"`, true},
		{`userName eq "bjensen@example.com" and externalId eq "nope"`, false},
		{`userName eq "bjensen@example.com" and (externalId eq "nope" or name.givenName eq "barbara")`, true},
		{`not (userName eq "bjensen@example.com")`, false},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984"`, true},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department co "tour"`, true},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen@example.com"`, true},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			e, err := parseFilter(tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if got := matches(e, doc); got != tc.want {
				t.Fatalf("matches = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFilterRefusals(t *testing.T) {
	for _, f := range []string{`userName eq`, `userName zz "x"`, `(userName eq "x"`, `userName eq "x" and`, string(make([]byte, maxFilterLen+1))} {
		_, err := parseFilter(f)
		var se *Error
		ok := errors.As(err, &se)
		if !ok || se.Status != 400 || se.Type != typeInvalidFilter {
			t.Errorf("%.40q: error %v, want 400 invalidFilter", f, err)
		}
	}
}

// TestParseProbe pins the probe fast path to the library's parser: every
// filter it takes comes out as filter.ParseFilter makes it, and every
// other shape falls through to the library.
func TestParseProbe(t *testing.T) {
	for _, f := range []string{
		`userName eq "bjensen@example.com"`,
		`USERNAME EQ "Bjensen@Example.com"`,
		`externalId Eq "0a21f0f2-8d2a-4f8e-bf98-7a2a1b1e5b3d"`,
		`userName eq ""`,
		`userName eq "ünïcödé 名前 !#$%&'()*+,-./:;<=>?@[]^_{|}~"`,
		`display_name-2 eq "x"`,
	} {
		want, err := filter.ParseFilter([]byte(f))
		if err != nil {
			t.Fatalf("%s: library: %v", f, err)
		}
		if got := parseProbe(f); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: fast path %#v, library %#v", f, got, want)
		}
	}
	for _, f := range []string{
		`userName eq "a\"b"`, `userName eq "a\\b"`, "userName eq \"a\tb\"", `userName  eq "x"`,
		`userName eq  "x"`, ` userName eq "x"`, `userName eq "x" `, `userName eq "x`, `userName eq x"`,
		`userName eq "x" or id eq "y"`, `name.givenName eq "x"`, `$ref eq "x"`, `2fa eq "x"`,
		`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"`, `userName ne "x"`, `userName eq true`,
		`userName eq "a` + "\xff" + `"`, `userName eq`, `userName eqq "x"`,
	} {
		if got := parseProbe(f); got != nil {
			t.Errorf("%q: fast path took it (%v); the library must", f, got)
		}
	}
}
