package ldap

import (
	"os"
	"sync"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/dirbridge/dirbridge/internal/harness"
)

// One slapd with every scenario's OU is shared by the package's tests;
// tests that stop or kill a server start their own. Samba AD is started
// on first use (provisioning takes seconds, and -run Slapd needs none).
var (
	mainTB     = &harness.MainTB{}
	sharedOnce sync.Once
	shared     *harness.Slapd
	sambaOnce  sync.Once
	samba      *harness.Samba
)

func TestMain(m *testing.M) {
	code := m.Run()
	mainTB.Close()
	os.Exit(code)
}

func scenarioLDIF(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("../../internal/harness/testdata/slapd-scenarios.ldif")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sharedSlapd is the package's slapd with the scenarios loaded online, so
// the memberof overlay sets memberOf as it would in production.
func sharedSlapd(t *testing.T) *harness.Slapd {
	t.Helper()
	ldif := scenarioLDIF(t)
	sharedOnce.Do(func() {
		shared = harness.StartSlapd(mainTB, harness.SlapdOptions{})
		shared.Add(mainTB, ldif)
	})
	return shared
}

func testLogger(t *testing.T) *zap.Logger {
	return zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
}

// sharedSamba is the test binary's one Samba AD DC, with the scenarios
// made on first use.
func sharedSamba(t *testing.T) *harness.Samba {
	t.Helper()
	sambaOnce.Do(func() {
		samba = harness.StartSamba(mainTB)
		sambaFixtures(mainTB, samba)
	})
	if samba == nil {
		t.Fatal("samba did not start")
	}
	return samba
}
