package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/store"
)

// testUserFilters: the locked and expiring filters of ListUsers and
// CountUsers, alone and with the others.
func testUserFilters(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := ts(0)
	day := 24 * time.Hour
	users := []store.User{
		{Username: "locked", Source: "corp"},
		{Username: "was-locked", Source: "corp"},
		{Username: "pw-soon", Source: "corp", PasswordExpiresAt: now.Add(3 * day)},
		{Username: "pw-later", Source: "corp", PasswordExpiresAt: now.Add(30 * day)},
		{Username: "pw-gone", Source: "corp", PasswordExpiresAt: now.Add(-day)},
		{Username: "acct-soon", Source: store.SourceLocal, AccountExpiresAt: now.Add(6 * day)},
		{Username: "plain", Source: store.SourceLocal},
	}
	tx(t, s, func(tx store.Tx) error {
		for i := range users {
			users[i].State = store.StateActive
			if err := tx.CreateUser(ctx, &users[i]); err != nil {
				return err
			}
		}
		if err := tx.PutLockout(ctx, store.Lockout{UserID: users[0].ID, FailedAttempts: 5, LockedUntil: now.Add(time.Hour)}); err != nil {
			return err
		}
		return tx.PutLockout(ctx, store.Lockout{UserID: users[1].ID, FailedAttempts: 5, LockedUntil: now.Add(-time.Hour)})
	})
	for _, tc := range []struct {
		name string
		f    store.UserFilter
		want []string
	}{
		{"locked now", store.UserFilter{LockedAt: now}, []string{"locked"}},
		{"locked, later", store.UserFilter{LockedAt: now.Add(2 * time.Hour)}, nil},
		{"expiring this week", store.UserFilter{ExpiringFrom: now, ExpiringUntil: now.Add(7 * day)}, []string{"acct-soon", "pw-soon"}},
		{"expiring this week, of corp", store.UserFilter{ExpiringFrom: now, ExpiringUntil: now.Add(7 * day), Source: "corp"}, []string{"pw-soon"}},
		{"expiring before a week, expired included", store.UserFilter{ExpiringUntil: now.Add(7 * day)}, []string{"acct-soon", "pw-gone", "pw-soon"}},
		{"locked and expiring", store.UserFilter{LockedAt: now, ExpiringFrom: now, ExpiringUntil: now.Add(7 * day)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list, err := s.ListUsers(ctx, tc.f)
			noErr(t, "ListUsers", err)
			var got []string
			for _, u := range list {
				got = append(got, u.Username)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("ListUsers(%+v) = %v, want %v", tc.f, got, tc.want)
			}
			n, err := s.CountUsers(ctx, tc.f)
			noErr(t, "CountUsers", err)
			if n != len(tc.want) {
				t.Fatalf("CountUsers = %d, want %d", n, len(tc.want))
			}
		})
	}
}
