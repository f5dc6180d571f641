package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/sqlite"
)

func TestBulkUsersAndDirectoryLookup(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })

	// 300 users: batches of 128, 128, 32, 8 and 4.
	users := make([]store.User, 300)
	for i := range users {
		users[i] = store.User{Username: fmt.Sprintf("user%03d", i), Source: "corp", Anchor: fmt.Sprintf("a-%03d", i),
			Units: []string{"HQ", `we"ird`}, Email: fmt.Sprintf("u%d@example.com", i)}
	}
	err = s.Tx(ctx, func(tx store.Tx) error {
		if err := tx.(store.BulkWriter).CreateUsers(ctx, users); err != nil {
			return err
		}
		var entries []store.DirectoryEntry
		for _, u := range users {
			entries = append(entries, store.DirectoryEntry{Directory: "corp", Anchor: u.Anchor, Kind: store.EntryUser,
				Name: u.Username, UserID: u.ID, Groups: []string{"g-1"}})
		}
		entries = append(entries,
			store.DirectoryEntry{Directory: "corp", Anchor: "g-1", Kind: store.EntryGroup, Name: "Agents", Groups: []string{"a-000", "a-005", "a-299", "ü-x"}},
			store.DirectoryEntry{Directory: "corp", Anchor: "g-2", Kind: store.EntryGroup, Name: "Empty", Groups: []string{}},
			store.DirectoryEntry{Directory: "corp", Anchor: "g-3", Kind: store.EntryGroup, Name: "Escaped", Groups: []string{`a-005`, `q"uote`}},
			store.DirectoryEntry{Directory: "other", Anchor: "g-9", Kind: store.EntryGroup, Groups: []string{"a-000"}})
		return tx.PutDirectoryEntries(ctx, entries)
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range users {
		if u.ID == "" || u.Version != 1 || u.CreatedAt.IsZero() || u.State != store.StateActive {
			t.Fatalf("user %d not filled in: %+v", i, u)
		}
		got, err := s.GetUser(ctx, u.ID)
		if err != nil || got.Username != u.Username || !slices.Equal(got.Units, u.Units) {
			t.Fatalf("user %d = %+v, %v", i, got, err)
		}
	}

	// A taken username fails the bulk write and names the user.
	err = s.Tx(ctx, func(tx store.Tx) error {
		return tx.(store.BulkWriter).CreateUsers(ctx, []store.User{{Username: "new1"}, {Username: "USER007"}})
	})
	if !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "USER007") {
		t.Fatalf("conflicting bulk create = %v", err)
	}
	if n, _ := s.CountUsers(ctx, store.UserFilter{}); n != 300 {
		t.Fatalf("failed bulk create left %d users", n)
	}

	dl := any(s).(store.DirectoryLookup)
	es, err := dl.GetDirectoryEntries(ctx, "corp", []string{"a-001", "a-299", "missing", "g-1"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Anchor)
	}
	sort.Strings(names)
	if !slices.Equal(names, []string{"a-001", "a-299", "g-1"}) {
		t.Errorf("GetDirectoryEntries = %v", names)
	}

	gs, err := dl.ListDirectoryGroups(ctx, "corp", []string{"a-005", "ü-x", `q"uote`, "a-100"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, g := range gs {
		got[g.Anchor] = g.Groups
	}
	want := map[string][]string{"g-1": {"a-005", "ü-x"}, "g-2": {}, "g-3": {"a-005", `q"uote`}}
	if fmt.Sprint(got) != fmt.Sprint(want) || len(gs) != 3 {
		t.Errorf("ListDirectoryGroups = %v, want %v", got, want)
	}
	gs, err = dl.ListDirectoryGroups(ctx, "corp", nil)
	if err != nil || len(gs) != 3 || len(gs[0].Groups) != 0 || gs[0].Name != "Agents" {
		t.Errorf("ListDirectoryGroups without members = %+v, %v", gs, err)
	}
}
