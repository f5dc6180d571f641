package postgres

import (
	"context"
	"fmt"
	"time"

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
	if e.Attributes, err = codec.StringsMap(attrs); err != nil {
		return e, err
	}
	e.Groups, err = codec.Strings(groups)
	return e, err
}

// ListDirectoryEntries returns every entry of one directory, by anchor.
func (o ops) ListDirectoryEntries(ctx context.Context, directory string) ([]store.DirectoryEntry, error) {
	return codec.Collect(0, func(fn func(store.DirectoryEntry) error) error { return o.EachDirectoryEntry(ctx, directory, fn) })
}

// EachDirectoryEntry gives fn every entry of one directory, by anchor, as
// it is read.
func (o ops) EachDirectoryEntry(ctx context.Context, directory string, fn func(store.DirectoryEntry) error) error {
	rows, err := o.q.Query(ctx, `SELECT `+entryCols+` FROM directory_entries
		WHERE directory = $1 ORDER BY anchor`, directory)
	if err != nil {
		return fmt.Errorf("postgres: list directory entries %q: %w", directory, classify(ctx, err))
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return fmt.Errorf("postgres: list directory entries %q: %w", directory, classify(ctx, err))
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: list directory entries %q: %w", directory, classify(ctx, err))
	}
	return nil
}

// GetDirectoryEntry returns one entry.
func (o ops) GetDirectoryEntry(ctx context.Context, directory, anchor string) (store.DirectoryEntry, error) {
	if unstorable(directory, anchor) {
		return store.DirectoryEntry{}, fmt.Errorf("postgres: get directory entry %q/%q: %w", directory, anchor, store.ErrNotFound)
	}
	e, err := scanEntry(o.q.QueryRow(ctx, `SELECT `+entryCols+` FROM directory_entries
		WHERE directory = $1 AND anchor = $2`, directory, anchor))
	if err != nil {
		return e, fmt.Errorf("postgres: get directory entry %s/%s: %w", directory, anchor, classify(ctx, err))
	}
	return e, nil
}

// entryBatch is how many entries one statement carries: large enough to
// amortise the round trip, small enough to keep each statement's arrays a
// few megabytes.
const entryBatch = 2000

// entryUpsert takes one array per column and upserts their rows, so a
// batch of any size is one prepared statement with ten parameters.
const entryUpsert = `INSERT INTO directory_entries (` + entryCols + `)
	SELECT d, a, k, dn, n, attrs::jsonb, g::jsonb, NULLIF(u, ''), at, um
	FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
		$7::text[], $8::text[], $9::timestamptz[], $10::boolean[]) AS x(d, a, k, dn, n, attrs, g, u, at, um)
	ON CONFLICT (directory, anchor) DO UPDATE SET kind = excluded.kind,
	dn = excluded.dn, name = excluded.name, attributes = excluded.attributes,
	groups = excluded.groups, user_id = excluded.user_id, updated_at = excluded.updated_at,
	unmapped = excluded.unmapped`

// PutDirectoryEntries upserts entries by (directory, anchor) in batches.
// A zero UpdatedAt is set to now; the last of duplicate entries wins.
func (t *txn) PutDirectoryEntries(ctx context.Context, entries []store.DirectoryEntry) error {
	entries = codec.DedupeEntries(entries)
	now := codec.Now()
	n := min(len(entries), entryBatch)
	var (
		dirs   = make([]string, 0, n)
		anch   = make([]string, 0, n)
		kinds  = make([]string, 0, n)
		dns    = make([]string, 0, n)
		names  = make([]string, 0, n)
		attrs  = make([]string, 0, n)
		groups = make([]string, 0, n)
		users  = make([]string, 0, n)
		ats    = make([]time.Time, 0, n)
		unmap  = make([]bool, 0, n)
	)
	for len(entries) > 0 {
		batch := entries[:min(len(entries), entryBatch)]
		entries = entries[len(batch):]
		dirs, anch, kinds, dns, names = dirs[:0], anch[:0], kinds[:0], dns[:0], names[:0]
		attrs, groups, users, ats, unmap = attrs[:0], groups[:0], users[:0], ats[:0], unmap[:0]
		for _, e := range batch {
			a, err := codec.JSON(e.Attributes)
			if err != nil {
				return fmt.Errorf("postgres: put directory entry %s/%s: %w", e.Directory, e.Anchor, err)
			}
			g, err := codec.JSON(e.Groups)
			if err != nil {
				return fmt.Errorf("postgres: put directory entry %s/%s: %w", e.Directory, e.Anchor, err)
			}
			at := codec.Time(e.UpdatedAt)
			if at.IsZero() {
				at = now
			}
			dirs, anch, kinds = append(dirs, e.Directory), append(anch, e.Anchor), append(kinds, string(e.Kind))
			dns, names = append(dns, e.DN), append(names, e.Name)
			attrs, groups, users, ats = append(attrs, a), append(groups, g), append(users, e.UserID), append(ats, at)
			unmap = append(unmap, e.Unmapped)
		}
		if _, err := t.q.Exec(ctx, entryUpsert, dirs, anch, kinds, dns, names, attrs, groups, users, ats, unmap); err != nil {
			return fmt.Errorf("postgres: put %d directory entries: %w", len(batch), classify(ctx, err))
		}
	}
	return nil
}

// DeleteDirectoryEntry removes one entry.
func (t *txn) DeleteDirectoryEntry(ctx context.Context, directory, anchor string) error {
	return t.execOne(ctx, fmt.Sprintf("delete directory entry %s/%s", directory, anchor),
		`DELETE FROM directory_entries WHERE directory = $1 AND anchor = $2`, directory, anchor)
}

// GetDirectoryState returns what the sync kept for directory.
func (o ops) GetDirectoryState(ctx context.Context, directory string) (store.DirectoryState, error) {
	var s store.DirectoryState
	err := o.q.QueryRow(ctx, `SELECT directory, cursor, last_full_at, last_success_at, updated_at
		FROM directory_state WHERE directory = $1`, directory).Scan(&s.Directory, &s.Cursor,
		nullTime{&s.LastFullAt}, nullTime{&s.LastSuccessAt}, nullTime{&s.UpdatedAt})
	if err != nil {
		return store.DirectoryState{}, fmt.Errorf("postgres: get directory state %q: %w", directory, classify(ctx, err))
	}
	return s, nil
}

// PutDirectoryState inserts or replaces a directory's state; a zero
// UpdatedAt is set to now.
func (t *txn) PutDirectoryState(ctx context.Context, s store.DirectoryState) error {
	if s.UpdatedAt.IsZero() {
		s.UpdatedAt = codec.Now()
	}
	_, err := t.q.Exec(ctx, `INSERT INTO directory_state (directory, cursor, last_full_at,
		last_success_at, updated_at) VALUES ($1,$2,$3,$4,$5)
		ON CONFLICT (directory) DO UPDATE SET cursor = excluded.cursor,
		last_full_at = excluded.last_full_at, last_success_at = excluded.last_success_at,
		updated_at = excluded.updated_at`,
		s.Directory, s.Cursor, tm(s.LastFullAt), tm(s.LastSuccessAt), tm(s.UpdatedAt))
	if err != nil {
		return fmt.Errorf("postgres: put directory state %q: %w", s.Directory, classify(ctx, err))
	}
	return nil
}
