package mapping

import (
	"strings"
	"sync"
	"testing"
)

func TestTemplateExecute(t *testing.T) {
	attrs := map[string][]string{
		"sAMAccountName":                {"JDoe"},
		"userPrincipalName":             {"jdoe@corp.example.com"},
		"mail":                          {"  John.Doe@Corp.Example.com "},
		"proxyAddresses":                {"SMTP:jdoe@corp.example.com", "smtp:john@corp.example.com"},
		"msDS-cloudExtensionAttribute1": {"ext1"},
		"preferredLanguage":             {},
		"displayName":                   {"Doe, John"},
	}
	tests := []struct {
		name, src, want string
	}{
		{"plain field", `{{.sAMAccountName}}`, "JDoe"},
		{"case-insensitive name", `{{.samaccountname}}`, "JDoe"},
		{"lower", `{{lower .sAMAccountName}}`, "jdoe"},
		{"upper", `{{upper .sAMAccountName}}`, "JDOE"},
		{"trim", `[{{trim .mail}}]`, "[John.Doe@Corp.Example.com]"},
		{"pipeline", `{{.mail | trim | lower}}`, "john.doe@corp.example.com"},
		{"replace", `{{replace "corp.example.com" "example.org" .userPrincipalName}}`, "jdoe@example.org"},
		{"replace in pipeline", `{{.userPrincipalName | replace "@" " at "}}`, "jdoe at corp.example.com"},
		{"splitDomain", `{{splitDomain .userPrincipalName}}`, "corp.example.com"},
		{"userPart", `{{userPart .userPrincipalName}}`, "jdoe"},
		{"trimPrefix", `{{trimPrefix "J" .sAMAccountName}}`, "Doe"},
		{"trimSuffix", `{{trimSuffix ".com" .userPrincipalName}}`, "jdoe@corp.example"},
		{"missing renders empty", `[{{.nope}}]`, "[]"},
		{"empty multi-value renders empty", `[{{.preferredLanguage}}]`, "[]"},
		{"default on missing", `{{default "en" .preferredLanguage}}`, "en"},
		{"default on present", `{{default "x" .sAMAccountName}}`, "JDoe"},
		{"or falls through missing", `{{or .mail2 (printf "%s@corp.example.com" (lower .sAMAccountName))}}`, "jdoe@corp.example.com"},
		{"or keeps first", `{{or .sAMAccountName "x"}}`, "JDoe"},
		{"all and join", `{{join ";" (all "proxyAddresses")}}`, "SMTP:jdoe@corp.example.com;smtp:john@corp.example.com"},
		{"single view is first value", `{{.proxyAddresses}}`, "SMTP:jdoe@corp.example.com"},
		{"first", `{{first (all "proxyaddresses")}}`, "SMTP:jdoe@corp.example.com"},
		{"first of missing", `[{{first (all "nope")}}]`, "[]"},
		{"attr for non-identifier names", `{{attr "msDS-cloudExtensionAttribute1"}}`, "ext1"},
		{"attr missing", `[{{attr "nope"}}]`, "[]"},
		{"if on missing", `{{if .nope}}yes{{else}}no{{end}}`, "no"},
		{"with", `{{with .displayName}}{{.}}{{end}}`, "Doe, John"},
		{"range over all", `{{range all "proxyAddresses"}}<{{lower .}}>{{end}}`, "<smtp:jdoe@corp.example.com><smtp:john@corp.example.com>"},
		{"surrounding space trimmed", "  {{lower .sAMAccountName}}\n", "jdoe"},
		{"literal", `static`, "static"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tm, err := ParseTemplate("t", tc.src)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			got, err := tm.Execute(attrs)
			if err != nil {
				t.Fatalf("execute: %v", err)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTemplateErrors(t *testing.T) {
	parseErrs := []struct{ name, src string }{
		{"unclosed action", `{{lower .sAMAccountName`},
		{"unknown function", `{{shout .sAMAccountName}}`},
		{"unclosed if", `{{if .x}}a`},
	}
	for _, tc := range parseErrs {
		t.Run("parse/"+tc.name, func(t *testing.T) {
			_, err := ParseTemplate("mapping.templates.username", tc.src)
			if err == nil {
				t.Fatal("want error")
			}
			if !strings.Contains(err.Error(), "mapping.templates.username") {
				t.Errorf("error %q does not name the field", err)
			}
		})
	}
	execErrs := []struct{ name, src string }{
		{"wrong arity", `{{lower .a .b}}`},
		{"list to string func", `{{lower (all "a")}}`},
	}
	for _, tc := range execErrs {
		t.Run("exec/"+tc.name, func(t *testing.T) {
			tm, err := ParseTemplate("x", tc.src)
			if err != nil {
				return // rejected at parse time is fine too
			}
			if _, err := tm.Execute(map[string][]string{"a": {"v"}}); err == nil {
				t.Fatal("want error")
			}
		})
	}
}

func TestTemplateNilAndConcurrent(t *testing.T) {
	var nilT *Template
	if s, err := nilT.Execute(nil); s != "" || err != nil {
		t.Fatalf("nil template: %q %v", s, err)
	}
	tm := MustParseTemplate("u", `{{lower .uid}}-{{join "," (all "x")}}`)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := string(rune('A' + i))
			got, err := tm.Execute(map[string][]string{"uid": {v}, "x": {v, v}})
			want := strings.ToLower(v) + "-" + v + "," + v
			if err != nil || got != want {
				t.Errorf("got %q %v want %q", got, err, want)
			}
		}()
	}
	wg.Wait()
	if tm.Name() != "u" || !strings.Contains(tm.String(), "lower") {
		t.Error("Name/String")
	}
}

func TestSplitDomainUserPart(t *testing.T) {
	tests := []struct{ in, domain, user string }{
		{"jdoe@corp.example.com", "corp.example.com", "jdoe"},
		{`CORP\jdoe`, "CORP", "jdoe"},
		{"jdoe", "", "jdoe"},
		{"", "", ""},
		{"a@b@c", "c", "a@b"},
	}
	for _, tc := range tests {
		if got := SplitDomain(tc.in); got != tc.domain {
			t.Errorf("SplitDomain(%q) = %q, want %q", tc.in, got, tc.domain)
		}
		if got := UserPart(tc.in); got != tc.user {
			t.Errorf("UserPart(%q) = %q, want %q", tc.in, got, tc.user)
		}
	}
}
