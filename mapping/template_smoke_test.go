package mapping

import "testing"

func TestTemplateSmoke(t *testing.T) {
	tm, err := ParseTemplate("username", `{{lower .sAMAccountName}}{{.missing}}`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tm.Execute(map[string][]string{"samaccountname": {"JDoe"}})
	if err != nil || got != "jdoe" {
		t.Fatalf("got %q, %v", got, err)
	}
}
