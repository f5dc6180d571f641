package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/console"
	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/sso"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/sqlite"
)

// signedIn is a Sessions that finds every request signed in as one user.
type signedIn struct{ s sso.BrowserSession }

func (f signedIn) BrowserSession(*http.Request) (sso.BrowserSession, error) { return f.s, nil }
func (f signedIn) LoginURL(string) string                                   { return "/login" }

// BenchmarkUsersPage renders the console's users page (the first page of
// 50 with the total, the profile and team choices, the whole HTML) over
// 100,000 users on SQLite, server-side: as a superuser with no filter,
// with a search, and as a supervisor whose reach is one team of 1,000.
// Target: under 200 ms per page. It prints each figure.
func BenchmarkUsersPage(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	st, err := sqlite.Open(ctx, b.TempDir()+"/db.sqlite")
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	users := make([]store.User, n)
	for i := range users {
		users[i] = store.User{Username: fmt.Sprintf("user%06d", i), DisplayName: fmt.Sprintf("User %d", i), Email: fmt.Sprintf("user%06d@example.org", i),
			Source: "corp", Anchor: fmt.Sprintf("a-%06d", i), State: store.StateActive, Profile: "Agent", Units: []string{fmt.Sprintf("Team %03d", i%100)}}
		// Passwords expire spread over 100 days: about 7,000 within a week.
		users[i].PasswordExpiresAt = time.Now().Add(time.Duration(i%100)*24*time.Hour + time.Hour)
	}
	root := store.User{Username: "root", Superuser: true, State: store.StateActive, Source: store.SourceLocal}
	sup := store.User{Username: "sup", Profile: "Supervisor", Units: []string{"Team 042"}, State: store.StateActive, Source: store.SourceLocal}
	err = st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateUsers(ctx, users); err != nil {
			return err
		}
		for _, p := range []store.Profile{{Name: "Agent", Privileges: []string{}}, {Name: "Supervisor", Privileges: []string{privilege.ManageUsers},
			Scopes: map[string]store.Scope{privilege.ManageUsers: {Kind: store.ScopeOwnTeams}}}} {
			if err := tx.PutProfile(ctx, p); err != nil {
				return err
			}
		}
		for i := range 100 {
			if err := tx.PutTeam(ctx, store.Team{Name: fmt.Sprintf("Team %03d", i)}); err != nil {
				return err
			}
		}
		if err := tx.CreateUser(ctx, &root); err != nil {
			return err
		}
		// A hundred users locked out now.
		for i := 0; i < n; i += n / 100 {
			if err := tx.PutLockout(ctx, store.Lockout{UserID: users[i].ID, FailedAttempts: 5, LockedUntil: time.Now().Add(24 * time.Hour)}); err != nil {
				return err
			}
		}
		return tx.CreateUser(ctx, &sup)
	})
	if err != nil {
		b.Fatal(err)
	}
	api, err := admin.New(admin.Options{Store: st})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name, query string
		who         store.User
		privs       []string
		want        string
	}{
		{"superuser", "", root, nil, "Users 1–50 of 100,002"},
		{"superuser search", "?q=user0999", root, nil, "Users 1–50 of 100"},
		{"supervisor of 1000", "", sup, []string{privilege.ManageUsers}, "Users 1–50 of 1,001"},
		{"locked now", "?locked=true", root, nil, "Users 1–50 of 100"},
		{"expiring within 7 days", "?expiring_days=7", root, nil, "Users 1–50 of 7,000"},
	} {
		b.Run(c.name, func(b *testing.B) {
			con, err := console.New(console.Options{API: api, Sessions: signedIn{sso.BrowserSession{ID: "s", User: c.who, Privileges: c.privs, CSRF: "t"}}})
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			for range b.N {
				w := httptest.NewRecorder()
				con.ServeHTTP(w, httptest.NewRequest("GET", "/admin/users"+c.query, nil))
				if w.Code != 200 || !strings.Contains(w.Body.String(), c.want) {
					b.Fatalf("users page: %d, want %q\n%s", w.Code, c.want, w.Body)
				}
			}
			ms := float64(time.Since(start).Microseconds()) / 1000 / float64(b.N)
			b.ReportMetric(ms, "ms/page")
			b.Logf("%s: the users page renders in %.1f ms over %d users (target 200 ms)", c.name, ms, n)
		})
	}
}
