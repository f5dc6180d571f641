package sqlite

import (
	"context"
	"fmt"

	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/internal/codec"
)

const importGroupCols = `directory, anchor, dn, name, added_by, added_at`

// ListImportGroups returns directory's chosen groups by name, then anchor.
func (o ops) ListImportGroups(ctx context.Context, directory string) ([]store.ImportGroup, error) {
	rows, err := o.q.query(ctx,
		`SELECT `+importGroupCols+` FROM import_groups WHERE directory = ? ORDER BY name, anchor`, directory)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list import groups of %s: %w", directory, classify(ctx, err))
	}
	defer rows.Close()
	var out []store.ImportGroup
	for rows.Next() {
		var g store.ImportGroup
		if err := rows.Scan(&g.Directory, &g.Anchor, &g.DN, &g.Name, &g.AddedBy, nullTime{&g.AddedAt}); err != nil {
			return nil, fmt.Errorf("sqlite: list import groups of %s: %w", directory, classify(ctx, err))
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list import groups of %s: %w", directory, classify(ctx, err))
	}
	return out, nil
}

// AddImportGroup inserts g; ErrConflict when its (directory, anchor) is
// there already.
func (t *txn) AddImportGroup(ctx context.Context, g store.ImportGroup) error {
	if err := codec.PrepareImportGroup(&g, codec.Now()); err != nil {
		return fmt.Errorf("sqlite: add %w", err)
	}
	res, err := t.q.exec(ctx, `INSERT INTO import_groups (`+importGroupCols+`) VALUES (?,?,?,?,?,?)
		ON CONFLICT DO NOTHING`, g.Directory, g.Anchor, g.DN, g.Name, g.AddedBy, tm(g.AddedAt))
	if err != nil {
		return fmt.Errorf("sqlite: add import group %s to %s: %w", g.Anchor, g.Directory, classify(ctx, err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlite: add import group %s to %s: %w", g.Anchor, g.Directory, store.ErrConflict)
	}
	return nil
}

// DeleteImportGroup removes one of directory's chosen groups.
func (t *txn) DeleteImportGroup(ctx context.Context, directory, anchor string) error {
	return t.execOne(ctx, "delete import group "+anchor+" of "+directory,
		`DELETE FROM import_groups WHERE directory = ? AND anchor = ?`, directory, anchor)
}
