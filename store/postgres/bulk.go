package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/internal/codec"
)

var (
	_ store.BulkWriter      = (*txn)(nil)
	_ store.DirectoryLookup = ops{}
	_ store.DirectoryLookup = (*txn)(nil)
)

// copyUserCols are the columns CreateUsers copies, in userArgs' order
// followed by what insertUser adds.
var copyUserCols = append(append([]string{}, userSetCols...), "id", "created_at", "version")

// CreateUsers inserts users with one COPY, PostgreSQL's bulk load: a
// 100,000-user first sync is one statement streamed to the server. New IDs
// are time-ordered UUIDs (version 7), as on SQLite, so the inserts go to
// the end of the primary-key index. The COPY runs in a savepoint; when it
// fails, the users are inserted one by one to find the one to blame, so
// the error names it.
func (t *txn) CreateUsers(ctx context.Context, users []store.User) error {
	if len(users) == 0 {
		return nil
	}
	now := codec.Now()
	rows := make([][]any, 0, len(users))
	for i := range users {
		c := &users[i]
		if err := codec.PrepareNewUser(c, now); err != nil {
			return fmt.Errorf("postgres: create user %q: %w", c.Username, err)
		}
		args, err := userArgs(c)
		if err != nil {
			return fmt.Errorf("postgres: create user %q: %w", c.Username, err)
		}
		rows = append(rows, append(args, c.ID, tm(c.CreatedAt), c.Version))
	}
	sp, err := t.tx.Begin(ctx) // a savepoint
	if err != nil {
		return fmt.Errorf("postgres: create %d users: %w", len(users), classify(ctx, err))
	}
	_, err = sp.CopyFrom(ctx, pgx.Identifier{"users"}, copyUserCols, pgx.CopyFromRows(rows))
	if err == nil {
		err = sp.Commit(ctx) // releases the savepoint
	}
	if err == nil {
		return nil
	}
	rollback(sp)
	if ctx.Err() != nil {
		return fmt.Errorf("postgres: create %d users: %w", len(users), classify(ctx, err))
	}
	for i := range users {
		c := users[i]
		if rerr := t.CreateUser(ctx, &c); rerr != nil {
			return rerr
		}
	}
	// Row by row went through: the COPY failed for another reason.
	return fmt.Errorf("postgres: create %d users: %w", len(users), errors.Join(classify(ctx, err),
		errors.New("the same users inserted one by one succeeded")))
}

// lookupBatch is the most anchors one query carries as an array.
const lookupBatch = 10000

// GetDirectoryEntries returns the entries of directory among anchors.
func (o ops) GetDirectoryEntries(ctx context.Context, directory string, anchors []string) ([]store.DirectoryEntry, error) {
	var out []store.DirectoryEntry
	for len(anchors) > 0 {
		batch := anchors[:min(len(anchors), lookupBatch)]
		anchors = anchors[len(batch):]
		if err := o.scanEntries(ctx, &out, `SELECT `+entryCols+` FROM directory_entries
			WHERE directory = $1 AND anchor = ANY($2::text[])`, directory, batch); err != nil {
			return nil, fmt.Errorf("postgres: get %d directory entries of %q: %w", len(batch), directory, err)
		}
	}
	return out, nil
}

func (o ops) scanEntries(ctx context.Context, out *[]store.DirectoryEntry, query string, args ...any) error {
	rows, err := o.q.Query(ctx, query, args...)
	if err != nil {
		return classify(ctx, err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return classify(ctx, err)
		}
		*out = append(*out, e)
	}
	return classify(ctx, rows.Err())
}

// ListDirectoryGroups returns the group entries of directory with their
// members cut down to those among members. The cut is made by the server
// (jsonb, in the column's order), so a large directory's member lists,
// tens of megabytes, never cross the wire.
func (o ops) ListDirectoryGroups(ctx context.Context, directory string, members []string) ([]store.DirectoryEntry, error) {
	var out []store.DirectoryEntry
	if err := o.scanGroups(ctx, &out, members, directory); err != nil {
		return nil, fmt.Errorf("postgres: list directory groups %q: %w", directory, err)
	}
	return out, nil
}

// GetDirectoryGroups returns the group entries of directory among groups
// with their members cut down to those among members (see
// ListDirectoryGroups).
func (o ops) GetDirectoryGroups(ctx context.Context, directory string, groups, members []string) ([]store.DirectoryEntry, error) {
	var out []store.DirectoryEntry
	for len(groups) > 0 {
		batch := groups[:min(len(groups), lookupBatch)]
		groups = groups[len(batch):]
		if err := o.scanGroups(ctx, &out, members, directory, batch...); err != nil {
			return nil, fmt.Errorf("postgres: get %d directory groups of %q: %w", len(batch), directory, err)
		}
	}
	return out, nil
}

// scanGroups appends directory's group entries (only those among groups,
// when any are given) to out, with their members cut down by the server
// to those among members.
func (o ops) scanGroups(ctx context.Context, out *[]store.DirectoryEntry, members []string, directory string, groups ...string) error {
	if members == nil {
		members = []string{}
	}
	among := ""
	args := []any{directory, string(store.EntryGroup), members}
	if len(groups) > 0 {
		among = " AND anchor = ANY($4::text[])"
		args = append(args, groups)
	}
	return o.scanEntries(ctx, out, `SELECT directory, anchor, kind, dn, name, attributes,
		CASE WHEN cardinality($3::text[]) = 0 THEN '[]'::jsonb
			WHEN jsonb_typeof(groups) <> 'array' THEN groups
			ELSE COALESCE((SELECT jsonb_agg(m ORDER BY i) FROM jsonb_array_elements_text(groups)
				WITH ORDINALITY AS x(m, i) WHERE m = ANY($3::text[])), '[]'::jsonb)
		END,
		user_id, updated_at, unmapped FROM directory_entries WHERE directory = $1 AND kind = $2`+among+` ORDER BY anchor`,
		args...)
}
