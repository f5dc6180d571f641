package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/dirbridge/dirbridge/store"
)

var (
	_ store.DirectoryLookup = ops{}
	_ store.DirectoryLookup = (*txn)(nil)
)

// lookupBatch is the most anchors one IN list carries.
const lookupBatch = 256

// inLookups are query texts by IN-list size: the query of prefix
// ("... anchor IN (") for every power of two up to lookupBatch, so only
// a handful of statements are ever prepared.
func inLookups(prefix string) map[int]string {
	m := map[int]string{}
	for n := lookupBatch; n >= 1; n /= 2 {
		m[n] = prefix + `?` + strings.Repeat(",?", n-1) + `)`
	}
	return m
}

var entryLookups = inLookups(`SELECT ` + entryCols + ` FROM directory_entries WHERE directory = ? AND anchor IN (`)

// inBatches calls run with the queries' arguments (directory, then up to
// lookupBatch anchors) and the batch size, until anchors are used up.
func inBatches(directory string, anchors []string, run func(n int, args []any) error) error {
	args := make([]any, 0, lookupBatch+1)
	for len(anchors) > 0 {
		n := lookupBatch
		for n > len(anchors) {
			n /= 2
		}
		args = append(args[:0], directory)
		for _, a := range anchors[:n] {
			args = append(args, a)
		}
		if err := run(n, args); err != nil {
			return err
		}
		anchors = anchors[n:]
	}
	return nil
}

// GetDirectoryEntries returns the entries of directory among anchors.
func (o ops) GetDirectoryEntries(ctx context.Context, directory string, anchors []string) ([]store.DirectoryEntry, error) {
	var out []store.DirectoryEntry
	err := inBatches(directory, anchors, func(n int, args []any) error {
		if err := o.scanEntries(ctx, &out, entryLookups[n], args...); err != nil {
			return fmt.Errorf("sqlite: get %d directory entries of %q: %w", n, directory, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (o ops) scanEntries(ctx context.Context, out *[]store.DirectoryEntry, query string, args ...any) error {
	rows, err := o.q.query(ctx, query, args...)
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
// members cut down to those among members. The member lists of a large
// directory's groups run to tens of megabytes; they are scanned as text
// here and only the few members asked for are decoded.
func (o ops) ListDirectoryGroups(ctx context.Context, directory string, members []string) ([]store.DirectoryEntry, error) {
	cols := "groups, user_id, updated_at, unmapped"
	if len(members) == 0 {
		// Nothing past the member list is read: a large group's list
		// fills overflow pages, and SQLite walks all of them to reach a
		// column stored after it. Groups have no user; the update time
		// is left zero (see store.DirectoryLookup).
		cols = "'[]', NULL, NULL, 0"
	}
	// The partial index of group rows (migration 7), named because without
	// statistics SQLite prefers the primary key, which visits every user
	// row too; 'group' is store.EntryGroup written out, as a partial index
	// serves only a query that states its condition literally.
	var out []store.DirectoryEntry
	err := o.scanGroups(ctx, &out, members, `SELECT directory, anchor, kind, dn, name, attributes, `+cols+`
		FROM directory_entries INDEXED BY directory_entries_groups
		WHERE directory = ? AND kind = 'group' ORDER BY anchor`, directory)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list directory groups %q: %w", directory, err)
	}
	return out, nil
}

var groupLookups = inLookups(`SELECT ` + entryCols + ` FROM directory_entries WHERE directory = ? AND kind = 'group' AND anchor IN (`)

// GetDirectoryGroups returns the group entries of directory among groups
// with their members cut down to those among members (see
// ListDirectoryGroups).
func (o ops) GetDirectoryGroups(ctx context.Context, directory string, groups, members []string) ([]store.DirectoryEntry, error) {
	var out []store.DirectoryEntry
	err := inBatches(directory, groups, func(n int, args []any) error {
		if err := o.scanGroups(ctx, &out, members, groupLookups[n], args...); err != nil {
			return fmt.Errorf("sqlite: get %d directory groups of %q: %w", n, directory, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// scanGroups appends the group rows query selects to out, each with only
// the members among members decoded.
func (o ops) scanGroups(ctx context.Context, out *[]store.DirectoryEntry, members []string, query string, args ...any) error {
	rows, err := o.q.query(ctx, query, args...)
	if err != nil {
		return classify(ctx, err)
	}
	defer rows.Close()
	want := make(map[string]bool, len(members))
	for _, m := range members {
		want[m] = true
	}
	for rows.Next() {
		e, raw, err := scanEntryRawGroups(rows)
		if err != nil {
			return classify(ctx, err)
		}
		if e.Groups, err = pickStrings(raw, want); err != nil {
			return fmt.Errorf("group %s: %w", e.Anchor, err)
		}
		*out = append(*out, e)
	}
	return classify(ctx, rows.Err())
}

// scanEntryRawGroups is scanEntry leaving the groups column undecoded.
func scanEntryRawGroups(sc scanner) (store.DirectoryEntry, string, error) {
	var e store.DirectoryEntry
	var kind, attrs, groups string
	var userID *string
	if err := sc.Scan(&e.Directory, &e.Anchor, &kind, &e.DN, &e.Name, &attrs, &groups,
		&userID, nullTime{&e.UpdatedAt}, &e.Unmapped); err != nil {
		return e, "", err
	}
	e.Kind = store.EntryKind(kind)
	if userID != nil {
		e.UserID = *userID
	}
	var err error
	e.Attributes, err = stringsMapCol(attrs)
	return e, groups, err
}

// pickStrings decodes the values of a []string column that are in want,
// in column order. Plain text (no escapes) is walked without decoding the
// values left out; anything else is decoded whole and filtered.
func pickStrings(s string, want map[string]bool) ([]string, error) {
	if s == "null" {
		return nil, nil
	}
	out := []string{}
	if len(want) == 0 || s == "[]" {
		return out, nil
	}
	if strings.IndexByte(s, '\\') >= 0 || len(s) < 4 || s[0] != '[' || s[len(s)-1] != ']' {
		all, err := stringsCol(s)
		if err != nil {
			return nil, err
		}
		for _, v := range all {
			if want[v] {
				out = append(out, v)
			}
		}
		return out, nil
	}
	// Without a backslash no value holds a quote: values are the text
	// between every other quote.
	body := s[1 : len(s)-1]
	for len(body) > 0 {
		if body[0] != '"' {
			return nil, fmt.Errorf("malformed list column")
		}
		end := strings.IndexByte(body[1:], '"')
		if end < 0 {
			return nil, fmt.Errorf("malformed list column")
		}
		if v := body[1 : 1+end]; want[v] {
			out = append(out, strings.Clone(v))
		}
		body = body[end+2:]
		if len(body) > 0 {
			if body[0] != ',' {
				return nil, fmt.Errorf("malformed list column")
			}
			body = body[1:]
		}
	}
	return out, nil
}
