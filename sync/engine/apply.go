package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/dirbridge/dirbridge/store"
)

// entryBatch is how many directory entries go in one PutDirectoryEntries
// call: the store splits a call into statements of its own size, and
// overlaps building one with running the last, so calls are large; this
// bounds what one call copies.
const entryBatch = 10_000

// createBatch is how many new users go in one Tx.CreateUsers call, for
// the same reasons.
const createBatch = 10_000

// Audit actions written by Apply.
const (
	ActionSyncApply      = "sync.apply"
	ActionUserDeactivate = "user.deactivate"
	ActionUserReactivate = "user.reactivate"
	ActionUserLink       = "user.link"
	// ActionSessionsRevoked: a profile or superuser change ended sessions.
	ActionSessionsRevoked = "user.sessions_revoked"
)

// Apply writes p in one transaction: every user, every entry, the directory
// state and the audit events, or — on the first error — nothing at all.
// It reads nothing per row: the plan already holds each row to write, and
// an update carries the Version it was planned from, so a user changed
// since the plan makes the whole apply fail (store.ErrConflict) instead of
// being overwritten.
func Apply(ctx context.Context, st store.Store, p Plan) (store.SyncCounts, error) {
	var counts store.SyncCounts
	err := st.Tx(ctx, func(tx store.Tx) error {
		var err error
		counts, err = ApplyTx(ctx, tx, p)
		return err
	})
	if err != nil {
		return store.SyncCounts{}, err
	}
	return counts, nil
}

// ApplyTx is Apply inside a transaction the caller owns (the Runner also
// records the finished run in it, so the run record and the changes commit
// together). Items are written in plan order: deactivations and updates
// (renames) before creates, so a new user can take a name an existing one
// gives up in the same run.
func ApplyTx(ctx context.Context, tx store.Tx, p Plan) (store.SyncCounts, error) {
	a := applier{ctx: ctx, tx: tx, p: &p, actor: p.Actor}
	if a.actor == "" {
		a.actor = "sync"
	}
	ids, err := a.users()
	if err == nil {
		err = a.entries(ids)
	}
	if err == nil {
		err = a.finish()
	}
	if err != nil {
		return store.SyncCounts{}, fmt.Errorf("sync %s: apply: %w", p.Directory, err)
	}
	return p.Counts, nil
}

// applier writes one plan inside one transaction.
type applier struct {
	ctx   context.Context
	tx    store.Tx
	p     *Plan
	actor string
}

// users writes the items' users and returns the new users' IDs by item
// index, for their entries.
func (a *applier) users() ([]string, error) {
	ids := make([]string, len(a.p.Items))
	var pending []store.User // creates waiting for one bulk write
	var pendingAt []int      // their item indices
	flushCreates := func() error {
		if len(pending) == 0 {
			return nil
		}
		if err := a.tx.CreateUsers(a.ctx, pending); err != nil {
			return fmt.Errorf("create %d users: %w", len(pending), err)
		}
		for j, u := range pending {
			ids[pendingAt[j]] = u.ID
		}
		pending, pendingAt = pending[:0], pendingAt[:0]
		return nil
	}
	for i := range a.p.Items {
		it := &a.p.Items[i]
		if i%1000 == 0 {
			if err := a.ctx.Err(); err != nil {
				return nil, err
			}
		}
		if it.entryOnly {
			continue
		}
		if it.Kind == KindCreate {
			// Creates come last in a plan, so batching them keeps the
			// plan's write order. (The row goes straight into the batch:
			// a copy of its own per user was 50 MB of garbage in a
			// first sync of 100,000.)
			pending, pendingAt = append(pending, it.Row()), append(pendingAt, i)
			if len(pending) == createBatch {
				if err := flushCreates(); err != nil {
					return nil, err
				}
			}
			continue
		}
		if err := flushCreates(); err != nil {
			return nil, err
		}
		if err := a.update(it); err != nil {
			return nil, err
		}
	}
	if err := flushCreates(); err != nil {
		return nil, err
	}
	return ids, nil
}

// update writes one item that changes an existing user, ends its sessions
// when it is deactivated or its privileges change, and audits it.
func (a *applier) update(it *Item) error {
	ctx, tx := a.ctx, a.tx
	u := it.Row()
	if err := tx.UpdateUser(ctx, &u); err != nil {
		return fmt.Errorf("%s user %s: %w", it.Kind, u.Username, err)
	}
	var action string
	details := map[string]any{"directory": a.p.Directory, "anchor": it.Anchor}
	if a.p.RunID != "" {
		details["run"] = a.p.RunID
	}
	switch it.Kind {
	case KindDeactivate:
		// A deactivated user must not stay signed in.
		n, err := tx.DeleteUserSessions(ctx, u.ID)
		if err != nil {
			return fmt.Errorf("deactivate user %s: revoke sessions: %w", u.Username, err)
		}
		action, details["sessions_revoked"] = ActionUserDeactivate, n
	case KindReactivate:
		action = ActionUserReactivate
	case KindLink:
		action = ActionUserLink
	}
	if it.Kind != KindDeactivate && privilegesChanged(it.Changes) {
		// Sessions carry the privileges granted at sign-in: a new
		// profile must take effect by signing in again.
		n, err := tx.DeleteUserSessions(ctx, u.ID)
		if err != nil {
			return fmt.Errorf("%s user %s: revoke sessions after a profile change: %w", it.Kind, u.Username, err)
		}
		if n > 0 {
			details["sessions_revoked"] = n
			if action == "" {
				action = ActionSessionsRevoked
			}
		}
	}
	if action == "" {
		return nil
	}
	ev := &store.AuditEvent{Time: a.p.GeneratedAt, Actor: a.actor, Action: action, Target: u.ID,
		Outcome: store.OutcomeSuccess, Reason: it.Reason, Details: details}
	if err := tx.AppendAudit(ctx, ev); err != nil {
		return fmt.Errorf("%s user %s: audit: %w", it.Kind, u.Username, err)
	}
	return nil
}

// entries writes the plan's entries (those of new users with the IDs
// ids gives them) in batches and removes the ones it drops.
func (a *applier) entries(ids []string) error {
	p := a.p
	batch := make([]store.DirectoryEntry, 0, min(entryBatch, p.EntriesChanged))
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := a.tx.PutDirectoryEntries(a.ctx, batch); err != nil {
			return fmt.Errorf("write %d directory entries: %w", len(batch), err)
		}
		batch = batch[:0]
		return nil
	}
	for e := range p.entriesToWrite(ids) {
		batch = append(batch, e)
		if len(batch) == entryBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	for _, anchor := range p.RemoveEntries {
		if err := a.tx.DeleteDirectoryEntry(a.ctx, p.Directory, anchor); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("remove directory entry %s: %w", anchor, err)
		}
	}
	return nil
}

// finish writes the directory state and audits the apply as a whole.
func (a *applier) finish() error {
	p := a.p
	if err := a.tx.PutDirectoryState(a.ctx, p.State); err != nil {
		return fmt.Errorf("write directory state: %w", err)
	}
	details := map[string]any{
		"directory": p.Directory, "complete": p.Complete,
		"created": p.Counts.Created, "updated": p.Counts.Updated, "deactivated": p.Counts.Deactivated,
		"reactivated": p.Counts.Reactivated, "unchanged": p.Counts.Unchanged,
		"blocked": len(p.Blocked), "entries_written": p.EntriesChanged, "entries_removed": len(p.RemoveEntries),
	}
	if p.RunID != "" {
		details["run"] = p.RunID
	}
	if p.MassDeactivationApproved {
		details["mass_deactivation_approved"] = true
	}
	ev := &store.AuditEvent{Time: p.GeneratedAt, Actor: a.actor, Action: ActionSyncApply, Target: "directory:" + p.Directory,
		Outcome: store.OutcomeSuccess, Details: details}
	if err := a.tx.AppendAudit(a.ctx, ev); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// privilegesChanged says whether changes alter what the user may do.
func privilegesChanged(changes []Change) bool {
	for _, c := range changes {
		if c.Field == "profile" || c.Field == "superuser" {
			return true
		}
	}
	return false
}
