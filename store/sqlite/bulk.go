package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/internal/codec"
)

var _ store.BulkWriter = (*txn)(nil)

// userBatch is the most users one INSERT carries: 37 columns x 128 rows
// stays far below SQLite's variable limit.
const userBatch = 128

// userInsert returns insertUser for n rows.
func userInsert(n int) string {
	head, row, ok := strings.Cut(insertUser, "VALUES")
	if !ok {
		panic("sqlite: insertUser has no VALUES") // fixed at build time
	}
	row = strings.TrimSpace(row)
	var b strings.Builder
	b.Grow(len(head) + 8 + n*(len(row)+1))
	b.WriteString(head)
	b.WriteString("VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(row)
	}
	return b.String()
}

var userInserts = func() map[int]string {
	m := map[int]string{}
	for n := userBatch; n >= 1; n /= 2 {
		m[n] = userInsert(n)
	}
	return m
}()

// CreateUsers inserts users with multi-row statements, in batches sized in
// powers of two so only a handful of statements are ever prepared. New IDs
// are time-ordered UUIDs (version 7): a sync's users then go to the end of
// the primary-key index and of the entries' user index instead of to
// random pages, which is most of a large insert's cost.
func (t *txn) CreateUsers(ctx context.Context, users []store.User) error {
	now := codec.Now()
	args := make([]any, 0, userBatch*37)
	for done := 0; done < len(users); {
		n := userBatch
		for n > len(users)-done {
			n /= 2
		}
		batch := users[done : done+n]
		args = args[:0]
		for i := range batch {
			c := &batch[i]
			if c.ID == "" {
				id, err := uuid.NewV7()
				if err != nil {
					return fmt.Errorf("sqlite: create user %q: id: %w", c.Username, err)
				}
				c.ID = id.String()
			}
			if c.CreatedAt.IsZero() {
				c.CreatedAt = now
			}
			c.UpdatedAt = now
			c.Version = 1
			if c.State == "" {
				c.State = store.StateActive
			}
			if c.Source == "" {
				c.Source = store.SourceLocal
			}
			normaliseUser(c)
			ua, err := userArgs(c)
			if err != nil {
				return fmt.Errorf("sqlite: create user %q: %w", c.Username, err)
			}
			args = append(args, ua...)
			args = append(args, c.ID, tm(c.CreatedAt), c.Version)
		}
		if _, err := t.q.exec(ctx, userInserts[n], args...); err != nil {
			// The failed statement left nothing behind; find the row to
			// blame one by one so the error names a user.
			for i := range batch {
				c := batch[i]
				if rerr := t.CreateUser(ctx, &c); rerr != nil {
					return rerr
				}
			}
			return fmt.Errorf("sqlite: create %d users: %w", n, classify(ctx, err))
		}
		done += n
	}
	return nil
}
