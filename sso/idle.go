package sso

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/store"
)

// ActionIdleDeactivate is the audit action of an IdP-only user deactivated
// for not signing in at the IdP for Options.IdleDeactivation.
const ActionIdleDeactivate = "user.deactivate"

// idleActor is the audit actor of idle deactivation.
const idleActor = "sso.idle_deactivation"

// DeactivateIdle deactivates the active users that exist only through an
// IdP (store.SourceIdP) whose last sign-in there — the newest LastSeenAt
// (or CreatedAt) of their IdP links, or the user's own UpdatedAt when an
// administrator changed it since — is older than
// Options.IdleDeactivation: the IdP no longer vouches for them, and nobody
// else can. Each deactivation is audited and ends the user's sessions. A
// user without any IdP link (an IdP that sends no stable subject) cannot
// be tracked and is left alone. It returns how many users it deactivated;
// it does nothing when IdleDeactivation is not set.
func (s *Service) DeactivateIdle(ctx context.Context) (int, error) {
	idle := s.opts.IdleDeactivation
	if idle <= 0 {
		return 0, nil
	}
	now := s.now()
	cutoff := now.Add(-idle)
	users, err := s.store.ListUsers(ctx, store.UserFilter{Source: store.SourceIdP, State: store.StateActive})
	if err != nil {
		return 0, fmt.Errorf("idle deactivation: list IdP-only users: %w", err)
	}
	n := 0
	for _, u := range users {
		links, err := s.store.ListIdPLinks(ctx, u.ID)
		if err != nil {
			return n, fmt.Errorf("idle deactivation: links of %s: %w", u.Username, err)
		}
		if len(links) == 0 {
			continue
		}
		// An administrator's change (a reactivation, say) counts as a
		// vouch too: otherwise a reactivated user would go again within
		// the hour.
		last := u.UpdatedAt
		for _, l := range links {
			last = maxTime(last, l.CreatedAt, l.LastSeenAt)
		}
		if !last.Before(cutoff) {
			continue
		}
		done, err := s.deactivateIdleUser(ctx, u.ID, last, cutoff, now)
		if err != nil {
			return n, err
		}
		if done {
			n++
		}
	}
	if n > 0 {
		s.log.Info("IdP-only users deactivated for inactivity", zap.Int("count", n), zap.Duration("idle", idle))
	}
	return n, nil
}

// deactivateIdleUser deactivates one user in a transaction that reads it
// again: a sign-in since the list was read keeps it.
func (s *Service) deactivateIdleUser(ctx context.Context, id string, last, cutoff, now time.Time) (bool, error) {
	days := int(s.opts.IdleDeactivation / (24 * time.Hour))
	reason := fmt.Sprintf("not seen at the identity provider for %d days", days)
	done := false
	err := s.store.Tx(ctx, func(tx store.Tx) error {
		u, err := tx.GetUser(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		links, err := tx.ListIdPLinks(ctx, id)
		if err != nil {
			return err
		}
		last = maxTime(last, u.UpdatedAt)
		for _, l := range links {
			last = maxTime(last, l.CreatedAt, l.LastSeenAt)
		}
		if u.State != store.StateActive || u.Source != store.SourceIdP || !last.Before(cutoff) {
			return nil
		}
		u.State, u.DeactivatedReason, u.UpdatedAt = store.StateInactive, reason, now
		if err := tx.UpdateUser(ctx, &u); err != nil {
			return err
		}
		if _, err := tx.DeleteUserSessions(ctx, id); err != nil {
			return err
		}
		done = true
		return tx.AppendAudit(ctx, &store.AuditEvent{Time: now, Actor: idleActor, Action: ActionIdleDeactivate, Target: id,
			Outcome: store.OutcomeSuccess, Reason: reason,
			Details: map[string]any{"username": u.Username, "last_seen": last, "idle_after": s.opts.IdleDeactivation.String()}})
	})
	if err != nil {
		return false, fmt.Errorf("idle deactivation of %s: %w", id, err)
	}
	if done {
		s.cache.dropUser(id)
	}
	return done, nil
}

func maxTime(ts ...time.Time) time.Time {
	var m time.Time
	for _, t := range ts {
		if t.After(m) {
			m = t
		}
	}
	return m
}
