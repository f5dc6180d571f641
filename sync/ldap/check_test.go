package ldap

import (
	"context"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/internal/harness"
)

// TestCheck tries every server: the live one answers, a dead port and a
// wrong service password are each reported for their URL.
func TestCheck(t *testing.T) {
	s := sharedSlapd(t)
	dead := "ldap://" + harness.Addr(harness.FreePort(t))
	cfg := slapdConfig(t, s)
	cfg.URLs = []string{dead, s.URL}
	res := newSource(t, cfg).Check(context.Background())
	if len(res) != 2 || res[0].URL != dead || res[0].Err == nil || res[1].Err != nil {
		t.Fatalf("check: %+v", res)
	}
	cfg = slapdConfig(t, s)
	cfg.BindPassword = "wrong"
	res = newSource(t, cfg).Check(context.Background())
	if len(res) != 1 || res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "bind as") {
		t.Fatalf("wrong password: %+v", res)
	}
}
