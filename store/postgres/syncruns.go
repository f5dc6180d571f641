package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/internal/codec"
)

// plan and stats are read as text so the JSON comes back byte for byte.
const syncRunCols = `id, directory, trigger, "full", dry_run, status, started_at, finished_at,
	created, updated, deactivated, reactivated, unchanged, error, plan::text, stats::text`

const syncRunInsertCols = `id, directory, trigger, "full", dry_run, status, started_at, finished_at,
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
	return []any{r.ID, r.Directory, r.Trigger, r.Full, r.DryRun, string(r.Status),
		tm(r.StartedAt), tm(r.FinishedAt), r.Counts.Created, r.Counts.Updated,
		r.Counts.Deactivated, r.Counts.Reactivated, r.Counts.Unchanged, r.Error,
		codec.Raw(r.Plan), codec.Raw(r.Stats)}
}

// GetSyncRun returns one run.
func (o ops) GetSyncRun(ctx context.Context, id string) (store.SyncRun, error) {
	if unstorable(id) {
		return store.SyncRun{}, fmt.Errorf("postgres: get sync run %q: %w", id, store.ErrNotFound)
	}
	r, err := scanSyncRun(o.q.QueryRow(ctx, `SELECT `+syncRunCols+` FROM sync_runs WHERE id = $1`, id))
	if err != nil {
		return store.SyncRun{}, fmt.Errorf("postgres: get sync run %s: %w", id, classify(ctx, err))
	}
	return r, nil
}

// ListSyncRuns returns runs newest first.
func (o ops) ListSyncRuns(ctx context.Context, f store.SyncRunFilter) ([]store.SyncRun, error) {
	q := `SELECT ` + syncRunCols + ` FROM sync_runs`
	var args []any
	if f.Directory != "" {
		q += ` WHERE directory = $1`
		args = append(args, f.Directory)
	}
	q += fmt.Sprintf(` ORDER BY started_at DESC NULLS LAST, id DESC LIMIT $%d`, len(args)+1)
	args = append(args, limitArg(f.Limit))
	rows, err := o.q.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list sync runs: %w", classify(ctx, err))
	}
	defer rows.Close()
	var out []store.SyncRun
	for rows.Next() {
		r, err := scanSyncRun(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list sync runs: %w", classify(ctx, err))
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list sync runs: %w", classify(ctx, err))
	}
	return out, nil
}

// CreateSyncRun inserts a run; ErrConflict if its ID exists.
func (t *txn) CreateSyncRun(ctx context.Context, r store.SyncRun) error {
	if err := t.insertChecked(ctx, `INSERT INTO sync_runs (`+syncRunInsertCols+`)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16) ON CONFLICT DO NOTHING`,
		"", nil, syncRunArgs(r)...); err != nil {
		return fmt.Errorf("postgres: create sync run %s: %w", r.ID, err)
	}
	return nil
}

// UpdateSyncRun replaces a run; ErrNotFound if it does not exist.
func (t *txn) UpdateSyncRun(ctx context.Context, r store.SyncRun) error {
	return t.execOne(ctx, "update sync run "+r.ID, `UPDATE sync_runs SET directory = $2,
		trigger = $3, "full" = $4, dry_run = $5, status = $6, started_at = $7, finished_at = $8,
		created = $9, updated = $10, deactivated = $11, reactivated = $12, unchanged = $13,
		error = $14, plan = $15, stats = $16 WHERE id = $1`, syncRunArgs(r)...)
}
