package harness

import (
	"context"
	"time"
)

// ExportKeytab writes the keys of principal (an account or one of its
// SPNs, e.g. HTTP/sso.example.test) to a keytab file, as an administrator
// would for a Kerberos service. `samba-tool domain exportkeytab` opens the
// database itself and refuses -H, so Tool cannot run it.
func (s *Samba) ExportKeytab(t TB, file, principal string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := Run(ctx, s.tool, "domain", "exportkeytab", file, "--principal="+principal, "-s", s.conf); err != nil {
		t.Fatalf("harness: samba export keytab for %s: %v", principal, err)
	}
}
