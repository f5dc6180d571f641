package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/sqlite"
)

// BenchmarkListUsersScoped lists the first page of users (50, with the
// total) over 100,000 users on SQLite: as a superuser (the baseline), and
// as supervisors whose manage_users reaches their own team — a team of
// 1,000 users, and one of 10 (the filter's worst case: most rows are not
// theirs). Target: under 100 ms per page. It prints each figure, the
// ratio to the baseline and to the target.
func BenchmarkListUsersScoped(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	st, err := sqlite.Open(ctx, b.TempDir()+"/db.sqlite")
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	a, err := admin.New(admin.Options{Store: st, Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", a)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	users := make([]store.User, n)
	for i := range users {
		team := fmt.Sprintf("Team %03d", i%100) // 1,000 users each
		if i%10_000 == 0 {
			team = "Rare" // 10 users
		}
		users[i] = store.User{Username: fmt.Sprintf("user%06d", i), DisplayName: fmt.Sprintf("User %d", i),
			Source: "corp", Anchor: fmt.Sprintf("a-%06d", i), State: store.StateActive, Units: []string{team}}
	}
	secrets := map[string]string{}
	err = st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateUsers(ctx, users); err != nil {
			return err
		}
		if err := tx.PutProfile(ctx, store.Profile{Name: "Supervisor", Privileges: []string{privilege.ManageUsers},
			Scopes: map[string]store.Scope{privilege.ManageUsers: {Kind: store.ScopeOwnTeams}}}); err != nil {
			return err
		}
		for name, u := range map[string]store.User{
			"root": {Username: "root", Superuser: true},
			"team": {Username: "sup-team", Profile: "Supervisor", Units: []string{"Team 042"}},
			"rare": {Username: "sup-rare", Profile: "Supervisor", Units: []string{"Rare"}},
		} {
			u.State, u.Source = store.StateActive, store.SourceLocal
			if err := tx.CreateUser(ctx, &u); err != nil {
				return err
			}
			if secrets[name], _, err = admin.NewAPIKey(ctx, tx, u.ID, "bench", now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	var baseline float64
	for _, c := range []struct{ name, who string }{{"superuser", "root"}, {"team of 1000", "team"}, {"team of 10", "rare"}} {
		b.Run(c.name, func(b *testing.B) {
			cl := &benchClient{b: b, url: srv.URL}
			var tr admin.TokenResponse
			cl.post("/api/v1/tokens", admin.TokenRequest{APIKey: secrets[c.who]}, 201, &tr)
			start := time.Now()
			for range b.N {
				list := getList(b, srv.URL+"/api/v1/users?limit=50", tr.Token)
				if len(list.Items) == 0 {
					b.Fatal("empty page")
				}
			}
			ms := float64(time.Since(start).Microseconds()) / 1000 / float64(b.N)
			b.ReportMetric(ms, "ms/page")
			if c.who == "root" {
				baseline = ms
			}
			if baseline > 0 {
				b.Logf("%s: %.2f ms per first page; %.2f× the unscoped baseline; %.0f%% of the 100 ms target", c.name, ms, ms/baseline, ms)
			}
		})
	}
}

func getList(b *testing.B, url, token string) admin.UserList {
	b.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var out admin.UserList
	if res.StatusCode != 200 || json.Unmarshal(data, &out) != nil {
		b.Fatalf("GET users: %d %s", res.StatusCode, data)
	}
	return out
}
