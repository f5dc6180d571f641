package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/internal/password"
	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/sqlite"
)

// BenchmarkCreateFromEntries measures one bulk create of 100 users in a
// directory of 50,000 imported users: the whole directory is mapped on
// every call, so collisions are found as a sync finds them.
func BenchmarkCreateFromEntries(b *testing.B) {
	const n, batch = 50_000, 100
	ctx := context.Background()
	st, err := sqlite.Open(ctx, b.TempDir()+"/db.sqlite")
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	m, err := mapping.NewMapper(mapping.Config{Directory: "corp",
		Rules:     []mapping.Rule{{Group: "Agents", Profile: "Agents", Units: []string{"Floor 1"}}},
		Templates: mapping.Templates{Username: "{{lower .sAMAccountName}}"}})
	if err != nil {
		b.Fatal(err)
	}
	hasher, err := password.NewHasher(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, 1)
	if err != nil {
		b.Fatal(err)
	}
	a, err := admin.New(admin.Options{Store: st, Now: func() time.Time { return now }, Directories: []string{"corp"}, Hasher: hasher,
		Mappings: map[string]admin.DirectoryMapping{"corp": {Mapper: m, LinkBy: mapping.LinkByUsername}}})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", a)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	entries := []store.DirectoryEntry{{Directory: "corp", Anchor: "g", Kind: store.EntryGroup, Name: "Agents", DN: "CN=Agents,DC=corp", UpdatedAt: now}}
	for i := range n {
		entries = append(entries, store.DirectoryEntry{Directory: "corp", Anchor: fmt.Sprintf("u%06d", i), Kind: store.EntryUser,
			Name: fmt.Sprintf("User%06d", i), DN: fmt.Sprintf("CN=User%06d,DC=corp", i), Groups: []string{"g"}, UpdatedAt: now})
	}
	root := store.User{Username: "root", State: store.StateActive, Source: store.SourceLocal, Superuser: true}
	var secret string
	err = st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.PutProfile(ctx, store.Profile{Name: "Agents", CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		if err := tx.CreateUser(ctx, &root); err != nil {
			return err
		}
		if secret, _, err = admin.NewAPIKey(ctx, tx, root.ID, "bench", now); err != nil {
			return err
		}
		return tx.PutDirectoryEntries(ctx, entries)
	})
	if err != nil {
		b.Fatal(err)
	}
	cl := &benchClient{b: b, url: srv.URL}
	var tr admin.TokenResponse
	cl.post("/api/v1/tokens", admin.TokenRequest{APIKey: secret}, 201, &tr)
	cl.token = tr.Token

	b.ResetTimer()
	for i := range b.N {
		req := admin.CreateEntriesRequest{}
		for j := range batch {
			req.Anchors = append(req.Anchors, fmt.Sprintf("u%06d", (i*batch+j)%n))
		}
		var res admin.CreateEntriesResult
		cl.post("/api/v1/directories/corp/entries/create", req, 200, &res)
		if (i+1)*batch <= n && res.Created != batch {
			b.Fatalf("created %d: %+v", res.Created, res.Items[0])
		}
	}
}

// benchClient posts JSON to the API under test.
type benchClient struct {
	b          *testing.B
	url, token string
}

func (c *benchClient) post(path string, in any, want int, out any) {
	c.b.Helper()
	body, _ := json.Marshal(in)
	req, err := http.NewRequest("POST", c.url+path, bytes.NewReader(body))
	if err != nil {
		c.b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.b.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		c.b.Fatalf("POST %s: %d, want %d: %s", path, res.StatusCode, want, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		c.b.Fatalf("POST %s: %v", path, err)
	}
}
