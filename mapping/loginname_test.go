package mapping

import (
	"testing"

	"github.com/dirbridge/dirbridge/sync/directory"
)

// The reader keeps only the configured extra attributes; templates naming
// the login name's attribute still see it.
func TestLoginNameUnderItsAttributeNames(t *testing.T) {
	m, err := NewMapper(Config{Directory: "corp", Templates: Templates{
		Username: "{{lower .sAMAccountName}}",
		Email:    `{{printf "%s@corp.example.com" .uid}}`,
	}})
	if err != nil {
		t.Fatal(err)
	}
	r, w := m.Map(directory.User{Anchor: "a1", Username: "JDoe"}, nil, nil)
	if r.Username != "jdoe" || r.Email != "JDoe@corp.example.com" || len(w) != 0 {
		t.Fatalf("got %q %q %v", r.Username, r.Email, w)
	}
	// An attribute actually read wins over the alias.
	r, _ = m.Map(directory.User{Anchor: "a1", Username: "JDoe", Attributes: map[string][]string{"uid": {"jd1000"}}}, nil, nil)
	if r.Email != "jd1000@corp.example.com" {
		t.Fatalf("uid attribute: %q", r.Email)
	}
}

// A user the rules do not make a superuser gets a cause as well, so a plan
// that takes the flag from a linked local superuser says why.
func TestSuperuserCauseWhenNoRuleSetsIt(t *testing.T) {
	m, err := NewMapper(Config{Directory: "corp"})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := m.Map(directory.User{Anchor: "a1", Username: "root"}, nil, nil)
	if r.Superuser || r.SuperuserCause != NoSuperuserRule {
		t.Fatalf("got %v %q", r.Superuser, r.SuperuserCause)
	}
}
