package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/store"
)

// BenchmarkSyncWrite100k writes what a first full sync of a 100,000-user
// directory writes: 100,000 users and 100,000 entries in one transaction,
// the users row by row (CreateUser) and in bulk (store.BulkWriter, COPY).
func BenchmarkSyncWrite100k(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	for _, bulk := range []bool{false, true} {
		name := "rows"
		if bulk {
			name = "bulk"
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				s := open(b, harness.NewDatabase(b))
				b.StartTimer()
				err := s.Tx(ctx, func(tx store.Tx) error {
					users := make([]store.User, n)
					for j := range users {
						users[j] = store.User{Username: fmt.Sprintf("user%06d", j), DisplayName: fmt.Sprintf("User %d", j),
							Email: fmt.Sprintf("user%06d@example.com", j), Source: "corp", Anchor: fmt.Sprintf("anchor-%06d", j),
							State: store.StateActive, Profile: "Agent", Units: []string{"HQ"}}
					}
					if bulk {
						if err := tx.CreateUsers(ctx, users); err != nil {
							return err
						}
					} else {
						for j := range users {
							if err := tx.CreateUser(ctx, &users[j]); err != nil {
								return err
							}
						}
					}
					entries := make([]store.DirectoryEntry, 0, n)
					for _, u := range users {
						entries = append(entries, store.DirectoryEntry{Directory: "corp", Anchor: u.Anchor, Kind: store.EntryUser,
							DN: "CN=" + u.DisplayName + ",OU=Agents,DC=corp", Name: u.Username,
							Attributes: map[string][]string{"mail": {u.Email}}, Groups: []string{"g1"}, UserID: u.ID})
					}
					return tx.PutDirectoryEntries(ctx, entries)
				})
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				_ = s.Close()
			}
		})
	}
}
