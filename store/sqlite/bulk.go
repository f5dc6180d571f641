package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/internal/codec"
)

var _ store.BulkWriter = (*txn)(nil)

// userBatch is the most users one INSERT carries: 37 columns x 512 rows
// stays below SQLite's variable limit (32,766).
const userBatch = 512

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
	build := func(start, n int, args []any) ([]any, error) {
		for i := range users[start : start+n] {
			c := &users[start+i]
			if err := codec.PrepareNewUser(c, now); err != nil {
				return nil, fmt.Errorf("sqlite: create user %q: %w", c.Username, err)
			}
			var err error
			if args, err = appendUserArgs(args, c); err != nil {
				return nil, fmt.Errorf("sqlite: create user %q: %w", c.Username, err)
			}
			args = append(args, c.ID, tm(c.CreatedAt), c.Version)
		}
		return args, nil
	}
	run := func(start, n int, args []any) error {
		if _, err := t.q.exec(ctx, userInserts[n], args...); err != nil {
			// The failed statement left nothing behind; find the row to
			// blame one by one so the error names a user.
			for _, c := range users[start : start+n] {
				if rerr := t.CreateUser(ctx, &c); rerr != nil {
					return rerr
				}
			}
			return fmt.Errorf("sqlite: create %d users: %w", n, classify(ctx, err))
		}
		return nil
	}
	return pipelined(batchSizes(len(users), userBatch), build, run)
}

// batchSizes splits n rows into statements of at most max rows, in
// powers of two so only a handful of distinct statements are prepared.
func batchSizes(n, max int) []int {
	var out []int
	for n > 0 {
		k := max
		for k > n {
			k /= 2
		}
		out = append(out, k)
		n -= k
	}
	return out
}

// pipelined runs a bulk write's batches with the next batch's arguments
// built (JSON columns, folded keys, boxing) on another goroutine while
// SQLite executes the current one: the two are about a third and two
// thirds of a large write's time. build gets the batch's first row, its
// size and a buffer to reuse; two buffers alternate, and a batch is built
// only once the one before the previous has been executed.
func pipelined(sizes []int, build func(start, n int, buf []any) ([]any, error), run func(start, n int, args []any) error) error {
	type batch struct {
		start, n int
		args     []any
		err      error
	}
	next := make(chan batch) // unbuffered: at most one batch built ahead
	stop := make(chan struct{})
	go func() {
		defer close(next)
		var bufs [2][]any
		start := 0
		for k, n := range sizes {
			args, err := build(start, n, bufs[k%2][:0])
			bufs[k%2] = args
			select {
			case next <- batch{start, n, args, err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
			start += n
		}
	}()
	defer func() {
		close(stop)
		for range next { // let the builder end before returning
		}
	}()
	for b := range next {
		if b.err != nil {
			return b.err
		}
		if err := run(b.start, b.n, b.args); err != nil {
			return err
		}
	}
	return nil
}
