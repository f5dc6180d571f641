package sso

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestSessionRefusal(t *testing.T) {
	cases := []struct {
		name     string
		err      error
		password bool
		status   int
		public   string // a substring; "" when not a refusal
	}{
		{"subject raced", fmt.Errorf("%w: link raced with another sign-in", errSubjectChanged), false, http.StatusForbidden, "not the one linked"},
		{"licences, IdP sign-in", fmt.Errorf("%w (5 of 5)", errLicences), false, http.StatusServiceUnavailable, "All 5 licences are in use"},
		{"licences, password sign-in answers as a wrong password", fmt.Errorf("%w (5 of 5)", errLicences), true, http.StatusUnauthorized, "All 5 licences are in use"},
		{"store failure is ours", errors.New("create session: disk full"), false, 0, ""},
		{"store failure on a password sign-in is ours too", errors.New("count licences: timeout"), true, 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, public, ok := sessionRefusal(c.err, 5, c.password)
			if ok != (c.public != "") {
				t.Fatalf("ok = %v, want %v", ok, c.public != "")
			}
			if status != c.status || !strings.Contains(public, c.public) {
				t.Errorf("got %d %q, want %d containing %q", status, public, c.status, c.public)
			}
		})
	}
}
