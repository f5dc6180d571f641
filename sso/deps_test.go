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
// sync/ldap or an LDAP library. A sentinel error is no reason to import a
// reader. The one exception is internal/ldapdn, the DN comparison that
// mapping rules use: it parses DNs with go-ldap's parser so that every DN
// compares the same way, and is no client.
func TestNoLDAPDependency(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list dependencies: %v", err)
	}
	out, err := exec.Command(gobin, "list", "-deps", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "github.com/dirbridge/dirbridge/sso/...").Output()
	if err != nil {
		var stderr string
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list -deps: %v\n%s", err, stderr)
	}
	forbidden := []string{"github.com/dirbridge/dirbridge/sync/ldap", "github.com/go-ldap/"}
	allowed := map[string]bool{"github.com/dirbridge/dirbridge/internal/ldapdn": true}
	var found []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || allowed[fields[0]] || strings.HasPrefix(fields[0], "github.com/go-ldap/") {
			continue
		}
		for _, imp := range fields[1:] {
			for _, f := range forbidden {
				if strings.HasPrefix(imp, f) {
					found = append(found, fields[0]+" imports "+imp)
				}
			}
		}
	}
	if len(found) > 0 {
		t.Errorf("sso depends on LDAP packages %v: use the plain types and errors of sync/directory", found)
	}
	if !strings.Contains(string(out), "\ngithub.com/dirbridge/dirbridge/sync/directory ") {
		t.Errorf("go list -deps shows no sync/directory; is the listing right?\n%s", out)
	}
}
