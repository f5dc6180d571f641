package sso

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// TestNoLDAPDependency guards the seam between sign-in and the directory
// reader: sso and its subpackages know directories only through
// sync/directory (the plain types and the error contract), never through
// sync/ldap or an LDAP client. A sentinel error is no reason to import a
// reader. The one package allowed to import go-ldap on the way is
// internal/ldapdn, the house's DN comparison (mapping compares group DNs
// with it): it uses go-ldap's DN parser only, no connection.
func TestNoLDAPDependency(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list dependencies: %v", err)
	}
	out, err := exec.Command(gobin, "list", "-deps", "-f", "{{.ImportPath}} {{join .Imports \" \"}}",
		"github.com/dirbridge/dirbridge/sso/...").Output()
	if err != nil {
		var stderr string
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list -deps: %v\n%s", err, stderr)
	}
	const dnOnly = "github.com/dirbridge/dirbridge/internal/ldapdn"
	forbidden := []string{"github.com/dirbridge/dirbridge/sync/ldap", "github.com/go-ldap/"}
	var found []string
	sawDirectory := false
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		pkg, imports := fields[0], fields[1:]
		if pkg == "github.com/dirbridge/dirbridge/sync/directory" {
			sawDirectory = true
		}
		if pkg == dnOnly || strings.HasPrefix(pkg, "github.com/go-ldap/") {
			continue
		}
		for _, imp := range imports {
			for _, f := range forbidden {
				if strings.HasPrefix(imp, f) {
					found = append(found, pkg+" -> "+imp)
				}
			}
		}
	}
	if len(found) > 0 {
		t.Errorf("sso depends on LDAP packages %v: use the plain types and errors of sync/directory", found)
	}
	if !sawDirectory {
		t.Errorf("go list -deps shows no sync/directory; is the listing right?\n%s", out)
	}
}
