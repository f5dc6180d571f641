package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/dirbridge/dirbridge/store"
)

// testEach: EachUser and EachDirectoryEntry give the rows of ListUsers
// and ListDirectoryEntries in the same order, and an error from the
// callback ends the listing and comes back as it is.
func testEach(t *testing.T, s store.Store) {
	ctx := context.Background()
	tx(t, s, func(tx store.Tx) error {
		for i := range 5 {
			src := "corp"
			if i == 2 {
				src = store.SourceLocal
			}
			u := store.User{Username: fmt.Sprintf("user%d", 4-i), Source: src, State: store.StateActive}
			if src != store.SourceLocal {
				u.Anchor = fmt.Sprintf("a%d", i)
			}
			if err := tx.CreateUser(ctx, &u); err != nil {
				return err
			}
		}
		var es []store.DirectoryEntry
		for i := range 4 {
			es = append(es, store.DirectoryEntry{Directory: "corp", Anchor: fmt.Sprintf("e%d", 3-i), Kind: store.EntryUser,
				Groups: []string{"g"}, Attributes: map[string][]string{"mail": {fmt.Sprintf("e%d@example.com", i)}}})
		}
		es = append(es, store.DirectoryEntry{Directory: "lab", Anchor: "e9", Kind: store.EntryUser})
		return tx.PutDirectoryEntries(ctx, es)
	})

	for _, f := range []store.UserFilter{{}, {Source: "corp"}, {Limit: 2, Offset: 1}} {
		want, err := s.ListUsers(ctx, f)
		noErr(t, "ListUsers", err)
		var got []store.User
		noErr(t, "EachUser", s.EachUser(ctx, f, func(u store.User) error {
			got = append(got, u)
			return nil
		}))
		equal(t, fmt.Sprintf("EachUser(%+v)", f), got, want)
	}
	wantEntries, err := s.ListDirectoryEntries(ctx, "corp")
	noErr(t, "ListDirectoryEntries", err)
	var gotEntries []store.DirectoryEntry
	noErr(t, "EachDirectoryEntry", s.EachDirectoryEntry(ctx, "corp", func(e store.DirectoryEntry) error {
		gotEntries = append(gotEntries, e)
		return nil
	}))
	equal(t, "EachDirectoryEntry", gotEntries, wantEntries)
	if len(gotEntries) != 4 || gotEntries[0].Anchor != "e0" {
		t.Fatalf("EachDirectoryEntry = %+v, want corp's 4 entries by anchor", gotEntries)
	}

	// The callback's error stops the listing at once and is returned as it is.
	stop := errors.New("enough")
	calls := 0
	err = s.EachUser(ctx, store.UserFilter{}, func(store.User) error {
		calls++
		return stop
	})
	if err != stop || calls != 1 { //nolint:errorlint // the very value fn returned, not one wrapping it
		t.Fatalf("EachUser with a failing callback: err %v after %d calls, want %v after 1", err, calls, stop)
	}
	calls = 0
	err = s.EachDirectoryEntry(ctx, "corp", func(store.DirectoryEntry) error {
		calls++
		return stop
	})
	if err != stop || calls != 1 { //nolint:errorlint // the very value fn returned, not one wrapping it
		t.Fatalf("EachDirectoryEntry with a failing callback: err %v after %d calls, want %v after 1", err, calls, stop)
	}

	// Cancelled: an error, no rows.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	err = s.EachUser(cctx, store.UserFilter{}, func(store.User) error {
		t.Error("EachUser gave a row on a cancelled context")
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("EachUser cancelled: err %v, want context.Canceled", err)
	}
}
