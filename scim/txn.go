package scim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// Audit actions of SCIM changes; the actor is always "scim:<source>".
const (
	ActionUserCreate      = "scim.user.create"
	ActionUserUpdate      = "scim.user.update"
	ActionUserLink        = "scim.user.link"
	ActionUserDeactivate  = "scim.user.deactivate"
	ActionUserReactivate  = "scim.user.reactivate"
	ActionUserDelete      = "scim.user.delete"
	ActionGroupCreate     = "scim.group.create"
	ActionGroupUpdate     = "scim.group.update"
	ActionGroupDelete     = "scim.group.delete"
	ActionDeactivateLimit = "scim.deactivation_limit"
)

// txn is one SCIM write: a store transaction of one source, with the
// request's address for the audit log.
type txn struct {
	s   *Server
	ctx context.Context
	tx  store.Tx
	src *source
	ip  string
	now time.Time
}

// limitError refuses a deactivation beyond the source's hourly limit.
type limitError struct {
	done, limit int
	target      string
}

func (e *limitError) Error() string {
	return fmt.Sprintf("deactivating %s would exceed the limit of %d deactivations per hour (%d done in the last hour); nothing changed",
		e.target, e.limit, e.done)
}

// write runs fn in one transaction, serialised with the source's other
// writes. A deactivation refused by the limit rolls everything back and
// is answered 429, with an alert in the audit log and the metrics.
func (s *Server) write(ctx context.Context, rq *request, fn func(t *txn) error) error {
	src := rq.src
	src.mu.Lock()
	defer src.mu.Unlock()
	ip := rq.RemoteAddr
	if h, _, err := net.SplitHostPort(ip); err == nil {
		ip = h
	}
	now := s.now()
	err := s.st.Tx(ctx, func(tx store.Tx) error {
		return fn(&txn{s: s, ctx: ctx, tx: tx, src: src, ip: ip, now: now})
	})
	var le *limitError
	if errors.As(err, &le) {
		s.metrics.deactRefused.WithLabelValues(src.Name).Inc()
		s.log.Error("scim deactivation limit reached; deactivation refused", zap.String("source", src.Name),
			zap.String("target", le.target), zap.Int("limit", le.limit), zap.Int("done_last_hour", le.done))
		alert := &store.AuditEvent{Time: now.UTC(), Actor: src.dir, Action: ActionDeactivateLimit, Target: le.target,
			Outcome: store.OutcomeDenied, Reason: le.Error(), SourceIP: ip,
			Details: map[string]any{"limit": le.limit, "done_last_hour": le.done}}
		if aerr := s.st.Tx(ctx, func(tx store.Tx) error { return tx.AppendAudit(ctx, alert) }); aerr != nil {
			s.log.Error("scim: audit the deactivation limit", zap.Error(aerr))
		}
		return errorf(http.StatusTooManyRequests, "", "%s", le.Error())
	}
	return err
}

func (t *txn) audit(action, target string, details map[string]any) error {
	if details == nil {
		details = map[string]any{}
	}
	details["source"] = t.src.Name
	return t.tx.AppendAudit(t.ctx, &store.AuditEvent{Time: t.now.UTC(), Actor: t.src.dir, Action: action,
		Target: target, Outcome: store.OutcomeSuccess, SourceIP: t.ip, Details: details})
}

// checkLimit refuses one more deactivation when the source has done its
// hourly allowance. It counts the audit log, so every replica and a
// restart see the same count.
func (t *txn) checkLimit(target string) error {
	limit := t.src.MaxDeactivationsPerHour
	evs, err := t.tx.ListAudit(t.ctx, store.AuditFilter{Actor: t.src.dir, Action: ActionUserDeactivate,
		Since: t.now.Add(-time.Hour), Limit: limit + 1})
	if err != nil {
		return fmt.Errorf("scim %s: count deactivations: %w", t.src.Name, err)
	}
	if len(evs) >= limit {
		return &limitError{done: len(evs), limit: limit, target: target}
	}
	return nil
}

// deactivate makes an owned user inactive and ends its sessions.
func (t *txn) deactivate(u *store.User, why string) (int, error) {
	if err := t.checkLimit(u.Username); err != nil {
		return 0, err
	}
	u.State, u.DeactivatedReason = store.StateInactive, why
	if err := t.updateUser(u); err != nil {
		return 0, err
	}
	n, err := t.tx.DeleteUserSessions(t.ctx, u.ID)
	if err != nil {
		return 0, fmt.Errorf("scim %s: end sessions of %s: %w", t.src.Name, u.Username, err)
	}
	t.s.metrics.deactivations.WithLabelValues(t.src.Name).Inc()
	return n, nil
}

func (t *txn) updateUser(u *store.User) error {
	if err := t.tx.UpdateUser(t.ctx, u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return errorf(http.StatusConflict, typeUniqueness, "userName %q is taken by another user", u.Username)
		}
		return fmt.Errorf("scim %s: update user %s: %w", t.src.Name, u.Username, err)
	}
	return nil
}

func (t *txn) putEntry(r *resource) error {
	if err := r.store(); err != nil {
		return err
	}
	if err := t.tx.PutDirectoryEntries(t.ctx, []store.DirectoryEntry{r.entry}); err != nil {
		return fmt.Errorf("scim %s: put entry %s: %w", t.src.Name, r.id(), err)
	}
	return nil
}

// groupsOf returns the groups holding the user with SCIM id id.
func (t *txn) groupsOf(id string) ([]store.DirectoryEntry, error) {
	return groupsOf(t.ctx, t.tx, t.src, id)
}

func groupsOf(ctx context.Context, rd store.Reader, src *source, ids ...string) ([]store.DirectoryEntry, error) {
	gs, err := rd.ListDirectoryGroups(ctx, src.dir, ids)
	if err != nil {
		return nil, fmt.Errorf("scim %s: groups of %v: %w", src.Name, ids, err)
	}
	out := gs[:0]
	for _, g := range gs {
		if len(g.Groups) > 0 {
			out = append(out, g)
		}
	}
	return out, nil
}

// assign applies the mapping rules to an owned user from its SCIM groups,
// as the sync does for directory groups: profile (unless pinned), units
// (unless pinned), the superuser flag. It reports what changed, with the
// causes, for the audit record. fresh says the SCIM id was made just now,
// so no group can hold it yet (a create skips the lookup).
func (t *txn) assign(u *store.User, id string, fresh bool) (map[string]any, error) {
	var gs []store.DirectoryEntry
	if !fresh {
		var err error
		if gs, err = t.groupsOf(id); err != nil {
			return nil, err
		}
	}
	groups := make([]directory.Group, len(gs))
	for i, g := range gs {
		groups[i] = directory.Group{Anchor: g.Anchor, Name: g.Name}
	}
	a, _ := mapping.Resolve(t.src.dir, *t.s.rules.Load(), groups, t.src.DefaultProfile)
	changes := map[string]any{}
	if !u.PinnedProfile && u.Profile != a.Profile {
		u.Profile = a.Profile
		changes["profile"], changes["profile_cause"] = a.Profile, a.ProfileCause
	}
	if !u.PinnedUnits && !sameFold(u.Units, a.Units) {
		u.Units = slices.Clone(a.Units)
		changes["units"] = a.Units
	}
	if u.Superuser != a.Superuser() {
		u.Superuser = a.Superuser()
		changes["superuser"] = u.Superuser
	}
	return changes, nil
}

// remap re-applies the rules to the owned users among ids after their
// groups changed.
func (t *txn) remap(ids []string) error {
	for _, id := range ids {
		e, err := t.tx.GetDirectoryEntry(t.ctx, t.src.dir, id)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("scim %s: remap %s: %w", t.src.Name, id, err)
		}
		if e.Kind != store.EntryUser || e.UserID == "" || len(e.Attributes[attrDeleted]) > 0 {
			continue
		}
		u, err := t.tx.GetUser(t.ctx, e.UserID)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("scim %s: remap %s: %w", t.src.Name, id, err)
		}
		if u.Source != t.src.dir {
			continue // linked: the directory's groups decide
		}
		changes, err := t.assign(&u, id, false)
		if err != nil {
			return err
		}
		if len(changes) == 0 {
			continue
		}
		if err := t.updateUser(&u); err != nil {
			return err
		}
		changes["scim_id"] = id
		if err := t.audit(ActionUserUpdate, u.Username, changes); err != nil {
			return err
		}
	}
	return nil
}

func sameFold(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !strings.EqualFold(a[i], b[i]) {
			return false
		}
	}
	return true
}
