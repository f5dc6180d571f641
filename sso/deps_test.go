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
// reader.
func TestNoLDAPDependency(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list dependencies: %v", err)
	}
	out, err := exec.Command(gobin, "list", "-deps", "github.com/dirbridge/dirbridge/sso/...").Output()
	if err != nil {
		var stderr string
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list -deps: %v\n%s", err, stderr)
	}
	forbidden := []string{"github.com/dirbridge/dirbridge/sync/ldap", "github.com/go-ldap/"}
	var found []string
	for _, pkg := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if strings.HasPrefix(pkg, f) {
				found = append(found, pkg)
			}
		}
	}
	if len(found) > 0 {
		t.Errorf("sso depends on LDAP packages %v: use the plain types and errors of sync/directory", found)
	}
	if !strings.Contains(string(out), "github.com/dirbridge/dirbridge/sync/directory\n") {
		t.Errorf("go list -deps shows no sync/directory; is the listing right?\n%s", out)
	}
}
