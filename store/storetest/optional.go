package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/store"
)

// testBulkAndLookup checks store.BulkWriter (CreateUsers) and
// store.DirectoryLookup, the parts of the contract a sync's apply and its
// incremental load use.
func testBulkAndLookup(t *testing.T, s store.Store) {
	ctx := context.Background()

	// 300 users cross the backends' batch sizes.
	users := make([]store.User, 300)
	for i := range users {
		users[i] = store.User{Username: fmt.Sprintf("user%03d", i), Source: "corp", Anchor: fmt.Sprintf("a-%03d", i),
			Units: []string{"HQ", `we"ird`}, Email: fmt.Sprintf("u%d@example.com", i)}
	}
	tx(t, s, func(tx store.Tx) error {
		if err := tx.CreateUsers(ctx, users); err != nil {
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
			store.DirectoryEntry{Directory: "corp", Anchor: "g-4", Kind: store.EntryGroup, Name: "Nil"},
			store.DirectoryEntry{Directory: "other", Anchor: "g-9", Kind: store.EntryGroup, Groups: []string{"a-000"}})
		return tx.PutDirectoryEntries(ctx, entries)
	})
	for i, u := range users {
		if u.ID == "" || u.Version != 1 || u.CreatedAt.IsZero() || u.UpdatedAt.IsZero() || u.State != store.StateActive {
			t.Fatalf("user %d not filled in: %+v", i, u)
		}
		got, err := s.GetUser(ctx, u.ID)
		noErr(t, "GetUser", err)
		equal(t, fmt.Sprintf("bulk-created user %d", i), got, u)
	}

	// A taken username fails the bulk write and names the user.
	err := s.Tx(ctx, func(tx store.Tx) error {
		return tx.CreateUsers(ctx, []store.User{{Username: "new1"}, {Username: "USER007"}})
	})
	if !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "USER007") {
		t.Fatalf("conflicting bulk create = %v, want ErrConflict naming USER007", err)
	}
	if n, _ := s.CountUsers(ctx, store.UserFilter{}); n != 300 {
		t.Fatalf("failed bulk create left %d users", n)
	}
	noErr(t, "CreateUsers empty", s.Tx(ctx, func(tx store.Tx) error {
		return tx.CreateUsers(ctx, nil)
	}))

	es, err := s.GetDirectoryEntries(ctx, "corp", []string{"a-001", "a-299", "missing", "g-1"})
	noErr(t, "GetDirectoryEntries", err)
	var names []string
	for _, e := range es {
		names = append(names, e.Anchor)
		if e.Anchor == "a-001" {
			want := store.DirectoryEntry{Directory: "corp", Anchor: "a-001", Kind: store.EntryUser, Name: "user001",
				UserID: users[1].ID, Groups: []string{"g-1"}, UpdatedAt: e.UpdatedAt}
			equal(t, "GetDirectoryEntries a-001", e, want)
		}
	}
	sort.Strings(names)
	equal(t, "GetDirectoryEntries", names, []string{"a-001", "a-299", "g-1"})
	es, err = s.GetDirectoryEntries(ctx, "corp", nil)
	noErr(t, "GetDirectoryEntries none", err)
	if len(es) != 0 {
		t.Fatalf("GetDirectoryEntries(nil) = %+v", es)
	}

	gs, err := s.ListDirectoryGroups(ctx, "corp", []string{"a-005", "ü-x", `q"uote`, "a-100"})
	noErr(t, "ListDirectoryGroups", err)
	got := map[string][]string{}
	var order []string
	for _, g := range gs {
		got[g.Anchor] = g.Groups
		order = append(order, g.Anchor)
	}
	want := map[string][]string{"g-1": {"a-005", "ü-x"}, "g-2": {}, "g-3": {"a-005", `q"uote`}, "g-4": nil}
	equal(t, "ListDirectoryGroups", got, want)
	equal(t, "ListDirectoryGroups order", order, []string{"g-1", "g-2", "g-3", "g-4"})
	gs, err = s.GetDirectoryGroups(ctx, "corp", []string{"g-3", "g-1", "a-005", "nope"}, []string{"a-005", "ü-x", "a-100"})
	noErr(t, "GetDirectoryGroups", err)
	got = map[string][]string{}
	for _, g := range gs {
		got[g.Anchor] = g.Groups
		if g.Kind != store.EntryGroup || g.Name == "" {
			t.Errorf("GetDirectoryGroups: %+v", g)
		}
	}
	equal(t, "GetDirectoryGroups", got, map[string][]string{"g-1": {"a-005", "ü-x"}, "g-3": {"a-005"}})
	gs, err = s.GetDirectoryGroups(ctx, "corp", nil, []string{"a-005"})
	noErr(t, "GetDirectoryGroups none", err)
	if len(gs) != 0 {
		t.Fatalf("GetDirectoryGroups(nil) = %+v", gs)
	}
	gs, err = s.ListDirectoryGroups(ctx, "corp", nil)
	noErr(t, "ListDirectoryGroups without members", err)
	if len(gs) != 4 || gs[0].Name != "Agents" || gs[0].Groups == nil || len(gs[0].Groups) != 0 {
		t.Fatalf("ListDirectoryGroups without members = %+v", gs)
	}
	if !slices.ContainsFunc(gs, func(e store.DirectoryEntry) bool { return e.Anchor == "g-4" }) {
		t.Fatalf("ListDirectoryGroups without members lost g-4: %+v", gs)
	}
}
