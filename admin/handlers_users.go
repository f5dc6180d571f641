package admin

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dirbridge/dirbridge/store"
)

// findUser resolves a path reference: an id, else a username.
func (s *Server) findUser(r *http.Request, rd store.Reader, ref string) (store.User, error) {
	ctx := r.Context()
	u, err := rd.GetUser(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		u, err = rd.GetUserByUsername(ctx, ref)
	}
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, notFound("user", ref)
	}
	if err != nil {
		return store.User{}, fmt.Errorf("get user %q: %w", ref, err)
	}
	return u, nil
}

func intQuery(r *http.Request, name string, def, max int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fieldErr(name, "%s must be a non-negative integer", name)
	}
	if max > 0 && n > max {
		return 0, fieldErr(name, "%s must be at most %d", name, max)
	}
	return n, nil
}

// maxExpiringDays bounds the expiring filter: a year ahead is as far as
// anyone plans a password or contract renewal.
const maxExpiringDays = 366

// userFilter reads the list's filters and paging from the query.
func (s *Server) userFilter(r *http.Request) (store.UserFilter, error) {
	q := r.URL.Query()
	f := store.UserFilter{Source: q.Get("source"), Profile: q.Get("profile"), Query: q.Get("q")}
	switch st := q.Get("state"); st {
	case "", string(store.StateActive), string(store.StateInactive):
		f.State = store.UserState(st)
	default:
		return f, fieldErr("state", "state must be active or inactive")
	}
	now := s.now()
	switch q.Get("locked") {
	case "", "false":
	case "true":
		f.LockedAt = now
	default:
		return f, fieldErr("locked", "locked must be true or false")
	}
	days, err := intQuery(r, "expiring_days", 0, maxExpiringDays)
	if err != nil {
		return f, err
	}
	if days > 0 {
		f.ExpiringFrom, f.ExpiringUntil = now, now.AddDate(0, 0, days)
	}
	if f.Limit, err = intQuery(r, "limit", 50, 500); err != nil {
		return f, err
	}
	if f.Offset, err = intQuery(r, "offset", 0, 0); err != nil {
		return f, err
	}
	if f.Limit == 0 {
		f.Limit = 50
	}
	return f, nil
}

func (s *Server) handleListUsers(w http.ResponseWriter, r *http.Request, c *caller) error {
	q := r.URL.Query()
	f, err := s.userFilter(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	// A scoped administrator sees only the users of the teams they reach:
	// the others are left out, not counted, as if they did not exist.
	reach, err := s.viewReach(ctx, s.store, c)
	if err != nil {
		return err
	}
	if !reach.All {
		f.InTeams, f.Teams = true, reach.Teams
	}
	if team := q.Get("team"); team != "" {
		// Narrow to one team, within the caller's reach: a team outside it
		// selects nobody.
		if reach.All || slices.Contains(reach.Teams, team) {
			f.InTeams, f.Teams = true, []string{team}
		} else {
			f.InTeams, f.Teams = true, nil
		}
	}
	list, err := s.store.ListUsers(ctx, f)
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	cf := f
	cf.Limit, cf.Offset = 0, 0
	total, err := s.store.CountUsers(ctx, cf)
	if err != nil {
		return fmt.Errorf("count users: %w", err)
	}
	out := UserList{Items: make([]User, 0, len(list)), Total: total, Limit: f.Limit, Offset: f.Offset}
	for _, u := range list {
		out.Items = append(out.Items, toUser(u))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) detail(r *http.Request, rd store.Reader, u store.User) (UserDetail, error) {
	ctx := r.Context()
	privs, err := s.effective(ctx, rd, u)
	if err != nil {
		return UserDetail{}, err
	}
	d := UserDetail{User: toUser(u), Privileges: nonNil(privs)}
	l, err := rd.GetLockout(ctx, u.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return UserDetail{}, fmt.Errorf("lock-out of %s: %w", u.Username, err)
	default:
		d.Failed = l.FailedAttempts
		if l.LockedUntil.After(s.now()) {
			d.LockedUntil = timePtr(l.LockedUntil)
		}
	}
	return d, nil
}

func (s *Server) handleGetUser(w http.ResponseWriter, r *http.Request, c *caller) error {
	u, err := s.findUser(r, s.store, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := s.authorizeOn(r.Context(), s.store, c, u, ActView); err != nil {
		return err
	}
	d, err := s.detail(r, s.store, u)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// modifyUser loads the user named by {id} in a transaction, checks that the
// caller may do every one of acts to it (Authorize), lets fn change it,
// writes it back and audits action — all or nothing.
func (s *Server) modifyUser(r *http.Request, c *caller, action string, acts []Action, fn func(tx store.Tx, u *store.User) error) (store.User, UserDetail, error) {
	ref := r.PathValue("id")
	c.target = "user:" + ref
	ctx := r.Context()
	var out store.User
	var d UserDetail
	err := s.tx(ctx, c, action, func(tx store.Tx) error {
		u, err := s.findUser(r, tx, ref)
		if err != nil {
			return err
		}
		c.target = "user:" + u.Username
		for _, act := range acts {
			if err := s.authorizeOn(ctx, tx, c, u, act); err != nil {
				return err
			}
		}
		if err := fn(tx, &u); err != nil {
			return err
		}
		if err := tx.UpdateUser(ctx, &u); err != nil {
			return storeErr(err, "user", u.Username)
		}
		out = u
		d, err = s.detail(r, tx, u)
		return err
	})
	return out, d, err
}

func (s *Server) handlePatchUser(w http.ResponseWriter, r *http.Request, c *caller) error {
	c.target = "user:" + r.PathValue("id")
	var in UserPatch
	if err := decodeJSON(w, r, s.maxBody, &in); err != nil {
		return err
	}
	if in.ClearCustomPrivileges && in.CustomPrivileges != nil {
		return fieldErr("clear_custom_privileges", "give custom_privileges or clear_custom_privileges, not both")
	}
	if in.CustomPrivileges != nil {
		for i, p := range *in.CustomPrivileges {
			if !s.known(p) {
				return fieldErr(fmt.Sprintf("custom_privileges[%d]", i), "unknown privilege %q", p)
			}
		}
		if err := s.checkGrant(c, *in.CustomPrivileges, "custom_privileges"); err != nil {
			return err
		}
	}
	if in.Superuser != nil && !c.User.Superuser {
		return errf(http.StatusForbidden, CodeEscalation, "only a superuser may change the superuser flag")
	}
	ctx := r.Context()
	_, d, err := s.modifyUser(r, c, "user.update", in.actions(), func(tx store.Tx, u *store.User) error {
		changes := map[string]any{}
		if in.Units != nil {
			actor, err := s.actorPrincipal(ctx, tx, c)
			if err != nil {
				return err
			}
			if err := s.unitsInReach(actor, *in.Units, "units"); err != nil {
				return err
			}
		}
		if in.Profile != nil && *in.Profile != u.Profile {
			if *in.Profile != "" {
				p, err := tx.GetProfile(ctx, *in.Profile)
				if errors.Is(err, store.ErrNotFound) {
					return fieldErr("profile", "profile %q does not exist", *in.Profile)
				}
				if err != nil {
					return fmt.Errorf("get profile: %w", err)
				}
				if err := s.checkGrant(c, profilePower(p), "profile"); err != nil {
					return err
				}
			}
			changes["profile"] = []string{u.Profile, *in.Profile}
			u.Profile = *in.Profile
		}
		if in.CustomPrivileges != nil {
			changes["custom_privileges"] = *in.CustomPrivileges
			u.CustomPrivileges = append([]string{}, *in.CustomPrivileges...)
		}
		if in.ClearCustomPrivileges && u.CustomPrivileges != nil {
			changes["custom_privileges"] = nil
			u.CustomPrivileges = nil
		}
		if in.Units != nil {
			changes["units"] = *in.Units
			u.Units = append([]string{}, *in.Units...)
		}
		if in.PinnedProfile != nil {
			changes["pinned_profile"] = *in.PinnedProfile
			u.PinnedProfile = *in.PinnedProfile
		}
		if in.PinnedUnits != nil {
			changes["pinned_units"] = *in.PinnedUnits
			u.PinnedUnits = *in.PinnedUnits
		}
		privsBefore := u.Superuser
		if in.Superuser != nil {
			changes["superuser"] = *in.Superuser
			u.Superuser = *in.Superuser
		}
		_, profileChanged := changes["profile"]
		_, customChanged := changes["custom_privileges"]
		if profileChanged || customChanged || privsBefore != u.Superuser {
			// Sessions carry the privileges granted at sign-in: the user
			// signs in again under the new ones.
			n, err := tx.DeleteUserSessions(ctx, u.ID)
			if err != nil {
				return fmt.Errorf("revoke sessions of %s: %w", u.Username, err)
			}
			c.detail("sessions_revoked", n)
		}
		c.detail("changes", changes)
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) handleActivate(w http.ResponseWriter, r *http.Request, c *caller) error {
	u, _, err := s.modifyUser(r, c, "user.activate", []Action{ActActivate}, func(tx store.Tx, u *store.User) error {
		u.State = store.StateActive
		u.DeactivatedReason = ""
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toUser(u))
	return nil
}

func (s *Server) handleDeactivate(w http.ResponseWriter, r *http.Request, c *caller) error {
	c.target = "user:" + r.PathValue("id")
	var in DeactivateRequest
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, s.maxBody, &in); err != nil {
			return err
		}
	}
	if len(in.Reason) > 500 {
		return fieldErr("reason", "reason must be at most 500 characters")
	}
	ctx := r.Context()
	u, _, err := s.modifyUser(r, c, "user.deactivate", []Action{ActDeactivate}, func(tx store.Tx, u *store.User) error {
		u.State = store.StateInactive
		u.DeactivatedReason = "deactivated by admin"
		if in.Reason != "" {
			u.DeactivatedReason += ": " + in.Reason
		}
		n, err := tx.DeleteUserSessions(ctx, u.ID)
		if err != nil {
			return fmt.Errorf("revoke sessions of %s: %w", u.Username, err)
		}
		c.detail("sessions_revoked", n)
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toUser(u))
	return nil
}

func (s *Server) handleUnlock(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx := r.Context()
	_, d, err := s.modifyUser(r, c, "user.unlock", []Action{ActUnlock}, func(tx store.Tx, u *store.User) error {
		old, err := tx.GetLockout(ctx, u.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("lock-out of %s: %w", u.Username, err)
		}
		c.detail("failed_attempts", old.FailedAttempts)
		if !old.LockedUntil.IsZero() {
			c.detail("locked_until", old.LockedUntil.UTC())
		}
		return tx.PutLockout(ctx, store.Lockout{UserID: u.ID})
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// minResetLength matches the default local password policy ("longer than
// 8 characters"); the full policy is checked at the user's next change.
const minResetLength = 9

func (s *Server) handleResetPassword(w http.ResponseWriter, r *http.Request, c *caller) error {
	c.target = "user:" + r.PathValue("id")
	var in PasswordResetRequest
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, s.maxBody, &in); err != nil {
			return err
		}
	}
	target, err := s.findUser(r, s.store, r.PathValue("id"))
	if err != nil {
		return err
	}
	c.target = "user:" + target.Username
	// Checked before any hashing or directory write; modifyUser checks
	// again inside the transaction that records the change.
	if err := s.authorizeOn(r.Context(), s.store, c, target, ActResetPassword); err != nil {
		return err
	}
	if target.Source != store.SourceLocal {
		return s.resetDirectoryPassword(w, r, c, target, in)
	}
	if in.MustChange != nil && !*in.MustChange {
		// The local policy forces a change after an administrator's reset.
		return fieldErr("must_change", "a local user's reset always requires a change at the next sign-in")
	}
	generated := in.Password == ""
	if !generated && utf8.RuneCountInString(in.Password) < minResetLength {
		return fieldErr("password", "password must be at least %d characters", minResetLength)
	}
	pw := in.Password
	if generated {
		var err error
		if pw, err = RandomPassword(20); err != nil {
			return err
		}
	}
	ctx := r.Context()
	hash, err := s.hasher.Hash(ctx, pw)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	_, _, err = s.modifyUser(r, c, "user.password_reset", []Action{ActResetPassword}, func(tx store.Tx, u *store.User) error {
		if u.Source != store.SourceLocal {
			// It became a directory user since it was read.
			return errf(http.StatusConflict, CodeConflict, "%s is now a directory user from %s; retry", u.Username, u.Source)
		}
		u.PasswordHistory = rememberPassword(u.PasswordHistory, u.PasswordHash, s.policies().PasswordHistory)
		u.PasswordHash = hash
		u.PasswordChangedAt = s.now().UTC()
		u.MustChangePassword = true
		c.detail("generated", generated)
		return nil
	})
	if err != nil {
		return err
	}
	out := PasswordResetResponse{MustChangePassword: true}
	if generated {
		out.Password = pw
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// RandomPassword returns n characters drawn uniformly from an alphabet
// without look-alikes (0/O, 1/l/I), with at least one letter, one digit and
// one other character so common policies accept it.
func RandomPassword(n int) (string, error) {
	const (
		lower  = "abcdefghijkmnopqrstuvwxyz"
		upper  = "ABCDEFGHJKLMNPQRSTUVWXYZ"
		digits = "23456789"
		other  = "-_.!@#%+="
	)
	all := lower + upper + digits + other
	if n < 4 {
		n = 4
	}
	// Rejection sampling keeps every character equally likely.
	limit := byte(256 - 256%len(all))
	for {
		out := make([]byte, 0, n)
		buf := make([]byte, 2*n)
		for len(out) < n {
			if _, err := rand.Read(buf); err != nil {
				return "", fmt.Errorf("random password: %w", err)
			}
			for _, x := range buf {
				if x < limit && len(out) < n {
					out = append(out, all[int(x)%len(all)])
				}
			}
		}
		pw := string(out)
		if strings.ContainsAny(pw, lower+upper) && strings.ContainsAny(pw, digits) && strings.ContainsAny(pw, other) {
			return pw, nil
		}
	}
}

// actions are the Authorize actions a patch performs; an empty patch still
// needs the right to update the user.
func (p UserPatch) actions() []Action {
	acts := []Action{ActUpdate}
	if p.Units != nil {
		acts = append(acts, ActSetUnits)
	}
	if p.PinnedProfile != nil || p.PinnedUnits != nil {
		acts = append(acts, ActPin)
	}
	return acts
}
