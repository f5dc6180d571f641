package sqlite

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/internal/codec"
)

const entryCols = `directory, anchor, kind, dn, name, attributes, groups, user_id, updated_at, unmapped`

func scanEntry(sc scanner) (store.DirectoryEntry, error) {
	var e store.DirectoryEntry
	var kind, attrs, groups string
	var userID *string
	if err := sc.Scan(&e.Directory, &e.Anchor, &kind, &e.DN, &e.Name, &attrs, &groups,
		&userID, nullTime{&e.UpdatedAt}, &e.Unmapped); err != nil {
		return e, err
	}
	e.Kind = store.EntryKind(kind)
	if userID != nil {
		e.UserID = *userID
	}
	var err error
	if e.Attributes, err = stringsMapCol(attrs); err != nil {
		return e, err
	}
	e.Groups, err = stringsCol(groups)
	return e, err
}

// ListDirectoryEntries returns every entry of one directory, by anchor.
func (o ops) ListDirectoryEntries(ctx context.Context, directory string) ([]store.DirectoryEntry, error) {
	size := 0
	if n, err := o.countDirectoryEntries(ctx, directory); err == nil && n >= bigList {
		size = n // counted first, as ListUsers does
	}
	return codec.Collect(size, func(fn func(store.DirectoryEntry) error) error { return o.EachDirectoryEntry(ctx, directory, fn) })
}

// EachDirectoryEntry gives fn every entry of one directory, by anchor, as
// it is read.
func (o ops) EachDirectoryEntry(ctx context.Context, directory string, fn func(store.DirectoryEntry) error) error {
	rows, err := o.q.query(ctx, `SELECT `+entryCols+` FROM directory_entries
		WHERE directory = ? ORDER BY anchor`, directory)
	if err != nil {
		return fmt.Errorf("sqlite: list directory entries %q: %w", directory, classify(ctx, err))
	}
	defer rows.Close()
	var lastDir, lastKind string
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return fmt.Errorf("sqlite: list directory entries %q: %w", directory, classify(ctx, err))
		}
		repeat(&e.Directory, &lastDir)
		repeat((*string)(&e.Kind), &lastKind)
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: list directory entries %q: %w", directory, classify(ctx, err))
	}
	return nil
}

func (o ops) countDirectoryEntries(ctx context.Context, directory string) (int, error) {
	var n int
	err := o.q.queryRow(ctx, `SELECT COUNT(*) FROM directory_entries WHERE directory = ?`, directory).Scan(&n)
	return n, err
}

// GetDirectoryEntry returns one entry.
func (o ops) GetDirectoryEntry(ctx context.Context, directory, anchor string) (store.DirectoryEntry, error) {
	e, err := scanEntry(o.q.queryRow(ctx, `SELECT `+entryCols+` FROM directory_entries
		WHERE directory = ? AND anchor = ?`, directory, anchor))
	if err != nil {
		return e, fmt.Errorf("sqlite: get directory entry %s/%s: %w", directory, anchor, classify(ctx, err))
	}
	return e, nil
}

// entryBatch is the most rows one INSERT carries: 10 columns x 1,024 rows
// stays below SQLite's variable limit (32,766) while amortising the
// statement.
const entryBatch = 1024

// entryInsert returns the upsert for n rows.
func entryInsert(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO directory_entries (` + entryCols + `) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?,?,?,?,?)")
	}
	b.WriteString(` ON CONFLICT (directory, anchor) DO UPDATE SET kind = excluded.kind,
		dn = excluded.dn, name = excluded.name, attributes = excluded.attributes,
		groups = excluded.groups, user_id = excluded.user_id, updated_at = excluded.updated_at,
		unmapped = excluded.unmapped`)
	return b.String()
}

var entryInserts = func() map[int]string {
	m := map[int]string{}
	for n := entryBatch; n >= 1; n /= 2 {
		m[n] = entryInsert(n)
	}
	return m
}()

// PutDirectoryEntries upserts entries by (directory, anchor) with
// multi-row statements. Batches are sized in powers of two so only a
// handful of distinct statements are ever prepared. A zero UpdatedAt is
// set to now; the last of duplicate entries wins.
func (t *txn) PutDirectoryEntries(ctx context.Context, entries []store.DirectoryEntry) error {
	entries = codec.DedupeEntries(entries)
	// In key order, a large write appends to the table's b-tree instead
	// of splitting pages all over it.
	slices.SortFunc(entries, func(a, b store.DirectoryEntry) int {
		return cmp.Or(strings.Compare(a.Directory, b.Directory), strings.Compare(a.Anchor, b.Anchor))
	})
	now := codec.Now()
	build := func(start, n int, args []any) ([]any, error) {
		for _, e := range entries[start : start+n] {
			attrs, groups := jsonStringsMap(e.Attributes), jsonStrings(e.Groups)
			var userID any
			if e.UserID != "" {
				userID = e.UserID
			}
			at := codec.Time(e.UpdatedAt)
			if at.IsZero() {
				at = now
			}
			args = append(args, e.Directory, e.Anchor, string(e.Kind), e.DN, e.Name, attrs, groups, userID, tm(at), e.Unmapped)
		}
		return args, nil
	}
	run := func(_, n int, args []any) error {
		if _, err := t.q.exec(ctx, entryInserts[n], args...); err != nil {
			return fmt.Errorf("sqlite: put %d directory entries: %w", n, classify(ctx, err))
		}
		return nil
	}
	return pipelined(batchSizes(len(entries), entryBatch), build, run)
}

// DeleteDirectoryEntry removes one entry.
func (t *txn) DeleteDirectoryEntry(ctx context.Context, directory, anchor string) error {
	return t.execOne(ctx, fmt.Sprintf("delete directory entry %s/%s", directory, anchor),
		`DELETE FROM directory_entries WHERE directory = ? AND anchor = ?`, directory, anchor)
}

// GetDirectoryState returns what the sync kept for directory.
func (o ops) GetDirectoryState(ctx context.Context, directory string) (store.DirectoryState, error) {
	var s store.DirectoryState
	err := o.q.queryRow(ctx, `SELECT directory, cursor, last_full_at, last_success_at, updated_at
		FROM directory_state WHERE directory = ?`, directory).Scan(&s.Directory, &s.Cursor,
		nullTime{&s.LastFullAt}, nullTime{&s.LastSuccessAt}, nullTime{&s.UpdatedAt})
	if err != nil {
		return store.DirectoryState{}, fmt.Errorf("sqlite: get directory state %q: %w", directory, classify(ctx, err))
	}
	return s, nil
}

// PutDirectoryState inserts or replaces a directory's state; a zero
// UpdatedAt is set to now.
func (t *txn) PutDirectoryState(ctx context.Context, s store.DirectoryState) error {
	if s.UpdatedAt.IsZero() {
		s.UpdatedAt = codec.Now()
	}
	_, err := t.q.exec(ctx, `INSERT INTO directory_state (directory, cursor, last_full_at,
		last_success_at, updated_at) VALUES (?,?,?,?,?)
		ON CONFLICT (directory) DO UPDATE SET cursor = excluded.cursor,
		last_full_at = excluded.last_full_at, last_success_at = excluded.last_success_at,
		updated_at = excluded.updated_at`,
		s.Directory, s.Cursor, tm(codec.Time(s.LastFullAt)), tm(codec.Time(s.LastSuccessAt)), tm(codec.Time(s.UpdatedAt)))
	if err != nil {
		return fmt.Errorf("sqlite: put directory state %q: %w", s.Directory, classify(ctx, err))
	}
	return nil
}
