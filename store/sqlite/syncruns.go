package sqlite

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/internal/codec"
)

const syncRunCols = `id, directory, trigger, full, dry_run, status, started_at, finished_at,
	created, updated, deactivated, reactivated, unchanged, error, plan, stats`

func scanSyncRun(sc scanner) (store.SyncRun, error) {
	var r store.SyncRun
	var status string
	var plan, stats *string
	err := sc.Scan(&r.ID, &r.Directory, &r.Trigger, &r.Full, &r.DryRun, &status,
		nullTime{&r.StartedAt}, nullTime{&r.FinishedAt}, &r.Counts.Created, &r.Counts.Updated,
		&r.Counts.Deactivated, &r.Counts.Reactivated, &r.Counts.Unchanged, &r.Error, &plan, &stats)
	if err != nil {
		return r, err
	}
	r.Status = store.SyncStatus(status)
	if plan != nil {
		r.Plan = json.RawMessage(*plan)
	}
	if stats != nil {
		r.Stats = json.RawMessage(*stats)
	}
	return r, nil
}

func syncRunArgs(r store.SyncRun) []any {
	return []any{r.ID, r.Directory, r.Trigger, b2i(r.Full), b2i(r.DryRun), string(r.Status),
		tm(codec.Time(r.StartedAt)), tm(codec.Time(r.FinishedAt)), r.Counts.Created, r.Counts.Updated,
		r.Counts.Deactivated, r.Counts.Reactivated, r.Counts.Unchanged, r.Error,
		codec.Raw(r.Plan), codec.Raw(r.Stats)}
}

// GetSyncRun returns one run.
func (o ops) GetSyncRun(ctx context.Context, id string) (store.SyncRun, error) {
	r, err := scanSyncRun(o.q.queryRow(ctx, `SELECT `+syncRunCols+` FROM sync_runs WHERE id = ?`, id))
	if err != nil {
		return store.SyncRun{}, fmt.Errorf("sqlite: get sync run %s: %w", id, classify(ctx, err))
	}
	return r, nil
}

// ListSyncRuns returns runs newest first.
func (o ops) ListSyncRuns(ctx context.Context, f store.SyncRunFilter) ([]store.SyncRun, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = -1
	}
	q := `SELECT ` + syncRunCols + ` FROM sync_runs`
	args := []any{}
	if f.Directory != "" {
		q += ` WHERE directory = ?`
		args = append(args, f.Directory)
	}
	q += ` ORDER BY started_at DESC, id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := o.q.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list sync runs: %w", classify(ctx, err))
	}
	defer rows.Close()
	var out []store.SyncRun
	for rows.Next() {
		r, err := scanSyncRun(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list sync runs: %w", classify(ctx, err))
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list sync runs: %w", classify(ctx, err))
	}
	return out, nil
}

// CreateSyncRun inserts a run; ErrConflict if its ID exists.
func (t *txn) CreateSyncRun(ctx context.Context, r store.SyncRun) error {
	if _, err := t.q.exec(ctx, `INSERT INTO sync_runs (`+syncRunCols+`)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, syncRunArgs(r)...); err != nil {
		return fmt.Errorf("sqlite: create sync run %s: %w", r.ID, classify(ctx, err))
	}
	return nil
}

// UpdateSyncRun replaces a run; ErrNotFound if it does not exist.
func (t *txn) UpdateSyncRun(ctx context.Context, r store.SyncRun) error {
	args := syncRunArgs(r)
	args = append(args[1:], r.ID)
	return t.execOne(ctx, "update sync run "+r.ID, `UPDATE sync_runs SET directory = ?,
		trigger = ?, full = ?, dry_run = ?, status = ?, started_at = ?, finished_at = ?,
		created = ?, updated = ?, deactivated = ?, reactivated = ?, unchanged = ?, error = ?,
		plan = ?, stats = ? WHERE id = ?`, args...)
}
