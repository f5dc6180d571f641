package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/internal/codec"
)

// ListAudit returns the events f selects, newest first. Since is
// inclusive, Until exclusive.
func (o ops) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, error) {
	var conds []string
	var args []any
	for _, c := range []struct{ col, v string }{{"actor", f.Actor}, {"action", f.Action}, {"target", f.Target}, {"outcome", f.Outcome}} {
		if c.v != "" {
			conds = append(conds, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	if !f.Since.IsZero() {
		conds = append(conds, "time >= ?")
		args = append(args, tm(codec.Time(f.Since)))
	}
	if !f.Until.IsZero() {
		conds = append(conds, "time < ?")
		args = append(args, tm(codec.Time(f.Until)))
	}
	q := `SELECT id, time, actor, action, target, outcome, reason, source_ip, details FROM audit_events`
	if len(conds) > 0 {
		q += ` WHERE ` + strings.Join(conds, " AND ")
	}
	q += ` ORDER BY time DESC, id DESC`
	q, args = page(q, args, f.Limit, f.Offset)
	rows, err := o.q.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list audit: %w", classify(ctx, err))
	}
	defer rows.Close()
	var out []store.AuditEvent
	for rows.Next() {
		var e store.AuditEvent
		var details string
		if err := rows.Scan(&e.ID, nullTime{&e.Time}, &e.Actor, &e.Action, &e.Target, &e.Outcome,
			&e.Reason, &e.SourceIP, &details); err != nil {
			return nil, fmt.Errorf("sqlite: list audit: %w", classify(ctx, err))
		}
		if e.Details, err = codec.AnyMap(details); err != nil {
			return nil, fmt.Errorf("sqlite: list audit: event %d: %w", e.ID, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list audit: %w", classify(ctx, err))
	}
	return out, nil
}

// AppendAudit stores e, setting its ID and, when zero, its Time.
func (t *txn) AppendAudit(ctx context.Context, e *store.AuditEvent) error {
	c := *e
	if c.Time.IsZero() {
		c.Time = codec.Now()
	}
	c.Time = codec.Time(c.Time)
	details, err := codec.JSON(c.Details)
	if err != nil {
		return fmt.Errorf("sqlite: append audit %s: %w", c.Action, err)
	}
	err = t.q.queryRow(ctx, `INSERT INTO audit_events (time, actor, action, target, outcome,
		reason, source_ip, details) VALUES (?,?,?,?,?,?,?,?) RETURNING id`,
		tm(c.Time), c.Actor, c.Action, c.Target, c.Outcome, c.Reason, c.SourceIP, details).Scan(&c.ID)
	if err != nil {
		return fmt.Errorf("sqlite: append audit %s: %w", c.Action, classify(ctx, err))
	}
	*e = c
	return nil
}
