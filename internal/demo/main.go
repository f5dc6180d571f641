// Command demo is `make demo`: dirbridge's main job shown end to end on one
// machine. It starts a private OpenLDAP (slapd) on loopback holding a small
// organisation (departments, nested groups, a disabled user), starts
// `dirbridge serve` on an embedded SQLite store with a config importing two
// groups, asks the daemon for a sync through its API, prints what was
// imported (users, profiles, statistics) and where everything listens, and
// on Ctrl-C stops everything it started and removes its temp directory.
//
// It drives the real binary (bin/dirbridge) rather than calling packages,
// so what it shows is what an operator gets.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/dirbridge/dirbridge/internal/harness"
)

func main() {
	bin := flag.String("bin", "bin/dirbridge", "the dirbridge binary")
	flag.Parse()
	tb := &harness.MainTB{}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	code := run(tb, *bin, sig)
	tb.Close()
	if code == 0 {
		fmt.Println("demo: stopped dirbridge and slapd, removed the temp directory")
	}
	os.Exit(code)
}

func run(tb *harness.MainTB, bin string, sig <-chan os.Signal) int {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return fail("%v", err)
	}
	if _, err := os.Stat(bin); err != nil {
		return fail("%v (build it first: make build)", err)
	}
	dir := harness.TempDir(tb, "dirbridge-demo-")

	fmt.Println("== starting OpenLDAP (slapd) on loopback with the sample organisation")
	s := harness.StartSlapd(tb, harness.SlapdOptions{LDIF: sampleLDIF, Quiet: true})
	fmt.Printf("   %s  base %s  (reader %s / %s)\n", s.URL, s.BaseDN, s.ReaderDN, s.ReaderPassword)

	port := harness.FreePort(tb)
	listen := harness.Addr(port)
	base := "http://" + listen
	cfgPath := filepath.Join(dir, "dirbridge.yaml")
	if err := os.WriteFile(cfgPath, []byte(demoConfig(s, listen, filepath.Join(dir, "dirbridge.db"))), 0o600); err != nil {
		return fail("%v", err)
	}

	// An administrator for the API: the break-glass account, and an API
	// key for it made directly in the store (how the first key is made).
	out, err := output(bin, "emergency-user", "create", "--config", cfgPath)
	if err != nil {
		return fail("emergency-user create: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`emergency user "([^"]+)" created`).FindStringSubmatch(out)
	if m == nil {
		return fail("emergency-user create printed no name:\n%s", out)
	}
	out, err = output(bin, "apikeys", "create", "--config", cfgPath, "--user", m[1], "--name", "demo")
	if err != nil {
		return fail("apikeys create: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	apiKey := strings.TrimSpace(lines[len(lines)-1])

	fmt.Println("== starting dirbridge serve")
	logPath := filepath.Join(dir, "dirbridge.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return fail("%v", err)
	}
	defer logFile.Close()
	daemon := exec.Command(bin, "serve", "--config", cfgPath, "--log-format", "console")
	daemon.Stdout, daemon.Stderr = logFile, logFile
	// Its own process group: Ctrl-C reaches only this program, which then
	// stops the daemon in order and waits for it.
	daemon.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := daemon.Start(); err != nil {
		return fail("start dirbridge serve: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- daemon.Wait() }()
	tb.Cleanup(func() {
		select {
		case <-exited: //nolint:errcheck // it already stopped; its exit status tells nothing here
			return
		default:
		}
		_ = daemon.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited: //nolint:errcheck // stopped by the signal, as asked
		case <-time.After(15 * time.Second):
			_ = daemon.Process.Kill()
			<-exited //nolint:errcheck // killed, as asked
		}
	})
	if err := waitReady(base+"/readyz", exited, 30*time.Second); err != nil {
		log, _ := os.ReadFile(logPath)
		return fail("dirbridge serve: %v\n%s", err, tail(string(log), 3000))
	}
	fmt.Printf("   listening on %s\n", base)

	env := append(os.Environ(), "DIRBRIDGE_API_KEY="+apiKey, "DIRBRIDGE_SERVER="+base, "XDG_CACHE_HOME="+dir)
	show := func(title string, args ...string) error {
		fmt.Printf("\n== %s\n$ dirbridge %s\n", title, strings.Join(args, " "))
		c := exec.Command(bin, args...)
		c.Env, c.Stdout, c.Stderr = env, os.Stdout, os.Stderr
		return c.Run()
	}
	if err := show("groups in the directory (to choose what to import)", "directory", "groups", "--config", cfgPath); err != nil {
		return fail("directory groups: %v", err)
	}
	if err := show("sync through the daemon's API (POST /api/v1/sync, then wait for the run)", "sync", "--directory", "example", "--full"); err != nil {
		return fail("sync: %v", err)
	}
	steps := [][]string{
		{"imported users", "users", "list"},
		{"profiles", "profiles", "list"},
		{"import statistics", "directory", "stats", "example"},
	}
	for _, st := range steps {
		if err := show(st[0], st[1:]...); err != nil {
			return fail("%s: %v", st[0], err)
		}
	}

	fmt.Printf(`
== dirbridge is running
   daemon     %[1]s  (admin API %[1]s/api/v1, sign-in %[1]s/login, forward auth %[1]s/auth/verify, metrics %[1]s/metrics)
   directory  %[2]s  (slapd, base %[3]s)
   config     %[4]s
   log        %[5]s
   try        DIRBRIDGE_SERVER=%[1]s DIRBRIDGE_API_KEY=%[6]s %[7]s users show alice
Press Ctrl-C to stop everything.
`, base, s.URL, s.BaseDN, cfgPath, logPath, apiKey, bin)

	select {
	case <-sig:
		fmt.Println("\ndemo: stopping")
		return 0
	case err := <-exited:
		log, _ := os.ReadFile(logPath)
		return fail("dirbridge serve ended by itself: %v\n%s", err, tail(string(log), 3000))
	}
}

func output(bin string, args ...string) (string, error) {
	var b bytes.Buffer
	c := exec.Command(bin, args...)
	c.Stdout, c.Stderr = &b, &b
	err := c.Run()
	return b.String(), err
}

func waitReady(url string, exited <-chan error, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if res, err := http.DefaultClient.Do(req); err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-exited:
			return fmt.Errorf("exited before it was ready: %v", err) //nolint:errorlint // err is nil when it exited with status 0
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s", timeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func fail(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "demo: "+format+"\n", args...)
	return 1
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// demoConfig imports two groups, Support (with the nested Support Tier 2)
// and Sales, and maps them to profiles and units.
func demoConfig(s *harness.Slapd, listen, db string) string {
	return fmt.Sprintf(`# dirbridge demo configuration (written by make demo)
server:
  listen: %q
log:
  format: console
store:
  driver: sqlite
  dsn: %q
policy:
  argon2: {time: 1, memory_kib: 8192, threads: 1}
privileges:
  - {name: handle_calls, group: Contact Centre, description: Take and make calls}
  - {name: view_reports, group: Reports, description: Read reports}
profiles:
  - {name: Support Agent, description: Customer support, privileges: [handle_calls, view_reports]}
  - {name: Sales Agent, description: Sales staff, privileges: [handle_calls]}
directories:
  - name: example
    kind: ldap
    urls: [%q]
    bind_dn: %q
    bind_password: %q
    base_dn: %q
    allow_plain_passthrough: true   # loopback demo only: sign-in binds over plain ldap://
    groups: [support, sales]
    disabled_filter: "(pwdAccountLockedTime=*)"
    schedule: "*/5 * * * *"
    full_schedule: "0 3 * * *"
mapping:
  rules:
    # First match wins for the profile; units accumulate. Members of the
    # nested support-tier2 group are members of support.
    - {name: support, group: support, profile: Support Agent, units: [Support]}
    - {name: sales, group: sales, profile: Sales Agent, units: [Sales]}
`, listen, db, s.URL, s.ReaderDN, s.ReaderPassword, s.BaseDN)
}

// sampleLDIF is the demo organisation below dc=example,dc=org: three
// departments, Support with a nested Tier 2 group, Sales, Engineering (not
// imported), and carol, whose account is locked (disabled). memberOf is
// written out because slapadd runs no overlays.
const sampleLDIF = `dn: ou=people,dc=example,dc=org
objectClass: organizationalUnit
ou: people

dn: ou=Support,ou=people,dc=example,dc=org
objectClass: organizationalUnit
ou: Support

dn: ou=Sales,ou=people,dc=example,dc=org
objectClass: organizationalUnit
ou: Sales

dn: ou=Engineering,ou=people,dc=example,dc=org
objectClass: organizationalUnit
ou: Engineering

dn: ou=groups,dc=example,dc=org
objectClass: organizationalUnit
ou: groups

dn: uid=alice,ou=Support,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: alice
cn: Alice Martin
givenName: Alice
sn: Martin
mail: alice@example.org
departmentNumber: Support
title: Support team lead
userPassword: alice-password
memberOf: cn=support-tier2,ou=groups,dc=example,dc=org

dn: uid=bob,ou=Support,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: bob
cn: Bob Nguyen
givenName: Bob
sn: Nguyen
mail: bob@example.org
departmentNumber: Support
userPassword: bob-password
memberOf: cn=support,ou=groups,dc=example,dc=org

dn: uid=carol,ou=Support,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: carol
cn: Carol Schmidt
givenName: Carol
sn: Schmidt
mail: carol@example.org
departmentNumber: Support
userPassword: carol-password
pwdAccountLockedTime: 000001010000Z
memberOf: cn=support,ou=groups,dc=example,dc=org

dn: uid=dave,ou=Support,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: dave
cn: Dave Okafor
givenName: Dave
sn: Okafor
mail: dave@example.org
departmentNumber: Support
userPassword: dave-password
memberOf: cn=support-tier2,ou=groups,dc=example,dc=org

dn: uid=erin,ou=Sales,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: erin
cn: Erin Rossi
givenName: Erin
sn: Rossi
mail: erin@example.org
departmentNumber: Sales
userPassword: erin-password
memberOf: cn=sales,ou=groups,dc=example,dc=org

dn: uid=frank,ou=Sales,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: frank
cn: Frank Dubois
givenName: Frank
sn: Dubois
mail: frank@example.org
departmentNumber: Sales
userPassword: frank-password
memberOf: cn=sales,ou=groups,dc=example,dc=org
memberOf: cn=support,ou=groups,dc=example,dc=org

dn: uid=heidi,ou=Engineering,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: heidi
cn: Heidi Tanaka
givenName: Heidi
sn: Tanaka
mail: heidi@example.org
departmentNumber: Engineering
userPassword: heidi-password
memberOf: cn=engineering,ou=groups,dc=example,dc=org

dn: cn=support-tier2,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: support-tier2
description: Second-line support (nested in support)
member: uid=alice,ou=Support,ou=people,dc=example,dc=org
member: uid=dave,ou=Support,ou=people,dc=example,dc=org
memberOf: cn=support,ou=groups,dc=example,dc=org

dn: cn=support,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: support
description: Customer support
member: uid=bob,ou=Support,ou=people,dc=example,dc=org
member: uid=carol,ou=Support,ou=people,dc=example,dc=org
member: uid=frank,ou=Sales,ou=people,dc=example,dc=org
member: cn=support-tier2,ou=groups,dc=example,dc=org

dn: cn=sales,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: sales
description: Sales
member: uid=erin,ou=Sales,ou=people,dc=example,dc=org
member: uid=frank,ou=Sales,ou=people,dc=example,dc=org

dn: cn=engineering,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: engineering
description: Engineering (not imported)
member: uid=heidi,ou=Engineering,ou=people,dc=example,dc=org
`
