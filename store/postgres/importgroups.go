package postgres

import (
	"context"
	"fmt"

	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/internal/codec"
)

const importGroupCols = `directory, anchor, dn, name, added_by, added_at`

// ListImportGroups returns directory's chosen groups by name (bytewise, as
// on SQLite), then anchor.
func (o ops) ListImportGroups(ctx context.Context, directory string) ([]store.ImportGroup, error) {
	if unstorable(directory) {
		return nil, nil
	}
	rows, err := o.q.Query(ctx,
		`SELECT `+importGroupCols+` FROM import_groups WHERE directory = $1 ORDER BY name COLLATE "C", anchor`, directory)
	if err != nil {
		return nil, fmt.Errorf("postgres: list import groups of %s: %w", directory, classify(ctx, err))
	}
	defer rows.Close()
	var out []store.ImportGroup
	for rows.Next() {
		var g store.ImportGroup
		if err := rows.Scan(&g.Directory, &g.Anchor, &g.DN, &g.Name, &g.AddedBy, nullTime{&g.AddedAt}); err != nil {
			return nil, fmt.Errorf("postgres: list import groups of %s: %w", directory, classify(ctx, err))
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list import groups of %s: %w", directory, classify(ctx, err))
	}
	return out, nil
}

// AddImportGroup inserts g; ErrConflict when its (directory, anchor) is
// there already. ON CONFLICT DO NOTHING keeps the transaction usable.
func (t *txn) AddImportGroup(ctx context.Context, g store.ImportGroup) error {
	if err := codec.PrepareImportGroup(&g, codec.Now()); err != nil {
		return fmt.Errorf("postgres: add %w", err)
	}
	tag, err := t.q.Exec(ctx, `INSERT INTO import_groups (`+importGroupCols+`) VALUES ($1,$2,$3,$4,$5,$6)
		ON CONFLICT DO NOTHING`, g.Directory, g.Anchor, g.DN, g.Name, g.AddedBy, tm(g.AddedAt))
	if err != nil {
		return fmt.Errorf("postgres: add import group %s to %s: %w", g.Anchor, g.Directory, classify(ctx, err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: add import group %s to %s: %w", g.Anchor, g.Directory, store.ErrConflict)
	}
	return nil
}

// DeleteImportGroup removes one of directory's chosen groups.
func (t *txn) DeleteImportGroup(ctx context.Context, directory, anchor string) error {
	what := "delete import group " + anchor + " of " + directory
	if unstorable(directory, anchor) {
		return fmt.Errorf("postgres: %s: %w", what, store.ErrNotFound)
	}
	return t.execOne(ctx, what, `DELETE FROM import_groups WHERE directory = $1 AND anchor = $2`, directory, anchor)
}
