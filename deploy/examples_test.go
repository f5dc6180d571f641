// Package deploy holds deployment examples; its tests check that they
// still do what their comments say.
package deploy

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The nginx example must not forward dirbridge's session cookie to the
// application: the application location resets Cookie to $app_cookie,
// and the map's regex removes the session cookie and only it.
func TestNginxExampleStripsSessionCookie(t *testing.T) {
	b, err := os.ReadFile("nginx.conf.example")
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	app := conf[strings.Index(conf, "    location / {"):]
	app = app[:strings.Index(app, "\n    }")]
	if !regexp.MustCompile(`(?m)^\s*proxy_set_header Cookie\s+\$app_cookie;`).MatchString(app) {
		t.Fatalf("location / does not replace the Cookie header:\n%s", app)
	}
	m := regexp.MustCompile(`(?m)^\s*"~(.*)" "\$before\$after";$`).FindStringSubmatch(conf)
	if m == nil {
		t.Fatal("no cookie-stripping map entry")
	}
	re := regexp.MustCompile(m[1])
	strip := func(h string) string {
		if !re.MatchString(h) {
			return h
		}
		return re.ReplaceAllString(h, "${before}${after}")
	}
	for _, tc := range []struct{ in, want string }{
		{"__Host-dirbridge_session=abc", ""},
		{"dirbridge_session=abc", ""},
		{"app=1; __Host-dirbridge_session=abc; theme=dark", "app=1; theme=dark"},
		{"app=1; __Host-dirbridge_session=abc", "app=1"},
		{"__Host-dirbridge_session=abc; app=1", "; app=1"},
		{"app=1;__Host-dirbridge_session=abc;theme=dark", "app=1;theme=dark"},
		{"app=1; my_dirbridge_session=keep", "app=1; my_dirbridge_session=keep"},
		{"app=1", "app=1"},
	} {
		got := strip(tc.in)
		if got != tc.want {
			t.Errorf("Cookie %q -> %q, want %q", tc.in, got, tc.want)
		}
		if strings.Contains(got, "dirbridge_session=abc") {
			t.Errorf("Cookie %q still carries the session: %q", tc.in, got)
		}
	}
}
